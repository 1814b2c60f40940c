// Package daemonsets holds the DaemonSet controller as a pure function of
// (spec, what was remembered, the nodes and pods observed, now) to actions,
// modelled on Kubernetes' daemon controller (manage, podsShouldBeOnNode,
// rollingUpdate): one pod per node whose labels match the nodeSelector and
// whose NoSchedule/NoExecute taints the pod tolerates (with the
// tolerations Kubernetes gives every daemon pod), a node that joins gets
// its pod, one that leaves or stops matching loses it, and RollingUpdate
// replaces pods within maxUnavailable or, with maxSurge, starts the new
// pod beside the old one and removes the old one once the new is
// available. Nothing here reads the wall clock, touches the store or
// starts a goroutine.
//
// SyncDaemonSet(Input{DaemonSet, Revision, State, Nodes, Pods, Now})
// returns a Result: pods to create, each already bound to its node (named
// by PodName), pods to delete, the new State, when to look again and
// events. The caller puts DaemonTolerations on the pods it creates.
//
// Where berth differs from Kubernetes: spec.template.spec.affinity is
// refused at load, so matching is nodeSelector and taints only; a failed
// daemon pod is replaced without Kubernetes' per-node back-off (the agent
// backs off container restarts); an old pod that is not available counts
// against maxUnavailable while it is replaced (Kubernetes replaces it
// outside the budget, so more than maxUnavailable nodes can be down at
// once); revisions are template hashes, not
// ControllerRevisions.
package daemonsets
