// Package reconciler is berth's control plane behind the HTTP API: the
// level-triggered loop that turns the current Git snapshot into pod
// records, Deployment rollouts and Jobs, and the store (bbolt) that keeps
// what Git does not. Beside the loop it holds the parts that write the
// store for the API, each deciding what a request means: node membership
// (Membership: register, node credentials, pod subnets, heartbeats, token
// files), the agents' pod lists (AgentPods), the agents' status reports
// (PodReports: status → kubelet-style events, ReadySince) and the users'
// reads (Reads: store records merged with Git objects). It knows nothing of
// HTTP, containerd or CNI; see README.md for the flow of one pass.
package reconciler
