// Package apiserver is the HTTP API of berth's control plane: bearer-token
// authentication and the three powers (join, node, admin), the agent
// endpoints (register, heartbeat, pod watch, status report), the users'
// reads, the log proxy to the agents, and mounting the Git webhooks. It
// decides nothing about the cluster: it reaches the loop and the store only
// through the small interfaces of interfaces.go (NodeRegistry, PodFeed,
// StatusSink, ClusterReader), which reconciler implements. See README.md.
package apiserver
