// Package apiserver is the HTTP API of berth's control plane:
// authentication (node client certificates over mTLS, bearer tokens) and
// the powers (join, node, plan, admin), the agent
// endpoints (register, heartbeat, pod watch, status report), the users'
// reads, the log proxy to the agents, and mounting the Git webhooks. It
// decides nothing about the cluster: it reaches the loop and the store only
// through the small interfaces of interfaces.go (NodeRegistry, PodFeed,
// StatusSink, ClusterReader), which reconciler implements. See README.md.
package apiserver
