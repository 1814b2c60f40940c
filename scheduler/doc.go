// Package scheduler places pods on nodes. It is pure: no I/O, no clock, no
// global state, no goroutines. One call of Place takes the pending pods and
// a read-only view of the cluster and returns one plan in which every
// binding fits together with every other and with what already runs; pods
// it cannot place come back with the reason, in kube-scheduler's words.
//
// # Input
//
// Pending pods are *corev1.Pod as the reconciler expanded them from Git
// (namespace, name, annotations, spec). The Cluster holds the Nodes (name,
// generation, labels, allocatable cpu/memory/pods, taints, ready, cordoned)
// and the Bound pods (every pod already on a node, or committed to one,
// with its node): they hold their effective requests, pod slots and host
// ports before anything new is placed. Options choose the strategy
// (StrategySpread, the default, or StrategyBinpack), the seed, the share
// of nodes ranked per pod, and AllOrNothing.
//
// A pod's request is what Kubernetes schedules on (EffectiveRequest): per
// resource the larger of the app containers plus every sidecar, and each
// ordinary init container plus the sidecars started before it (KEP-753);
// a container with only a limit requests its limit. Quantities come in as
// resource.Quantity and are computed with as int64 milli-cpu and bytes.
//
// # Output
//
// A Plan has the Bindings (pod → node), the NodeGenerations the plan relied
// on, and for each pod not bound an Unplaced with a Cause, the one-line
// Message for `berth describe pod` ("0/3 nodes are available: 2
// Insufficient memory, 1 node(s) didn't match Pod's node selector."), the
// nodes counted per Reason, and the Shortfall on the closest node (Needs
// phrases it for `berth status`: "needs 512Mi more memory on node-b").
//
// # What the reconciler does with a plan
//
//   - The store bumps a node's generation whenever anything the scheduler
//     reads about it changes: labels, taints, allocatable, readiness,
//     cordon, and the set of pods bound to it. Without that, a plan cannot
//     tell that its view went stale.
//   - It commits a plan in one store transaction, after Plan.Verify against
//     the generations in that transaction. ErrStale means the view moved:
//     place the batch again on the new view. No half-applied plan exists.
//   - It shows Unplaced.Message on the pod, and places unplaced pods again
//     whenever nodes or bindings change (level-triggered; CauseInvalid
//     pods only once the pod itself changes).
//   - To admit a new Git revision it places every pod the revision needs
//     with Options.AllOrNothing, next to the Bound pods that keep running:
//     the plan is either Complete, or binds nothing and says for each
//     pod that fits nowhere why (the others get CauseBatch).
//
// # Gangs
//
// Pods sharing the annotation berth.dev/gang (AnnotationGang) within a
// namespace form a gang; berth.dev/gang-min (AnnotationGangMin) is the
// least number of them, bound members included, that must run together
// (default: all of them). A gang is placed all-or-nothing in one step:
// either at least its minimum is bound in this plan, or none of it is and
// none of its capacity is held, before any other pod is looked at, so two
// gangs can never deadlock holding parts of the same space. For a Job with
// parallelism > 1 whose manifest sets berth.dev/gang-min, the reconciler
// sets berth.dev/gang on each of the Job's pods to the Job's
// namespace/name and copies the minimum; the scheduler reads only the pod
// annotations.
//
// # How
//
// Placement is a pipeline after Nomad's scheduler, wired once per call (see
// README.md for the diagram): a source of nodes (every node in a seeded
// order, or a precomputed index of the nodes carrying a selected label or
// big enough for the pod), feasibility checks that each reject with a
// named Reason, a limit that stops after enough feasible nodes as
// kube-scheduler's percentageOfNodesToScore does, rank stages (least- or
// most-allocated plus balanced allocation), and a seeded tie-break. Pods
// are taken most demanding first, each gang as one step. The same input
// with the same Options.Seed always gives the same plan.
package scheduler
