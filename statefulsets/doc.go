// Package statefulsets holds the StatefulSet controller as a pure function
// of (spec, what was remembered, the pods and claims observed, now) to
// actions, modelled on Kubernetes' StatefulSet controller
// (defaultStatefulSetControl.updateStatefulSet): stable ordinal names
// <set>-0 … <set>-N-1, one claim per volumeClaimTemplate and ordinal
// (<template>-<set>-<ordinal>), OrderedReady and Parallel pod management,
// RollingUpdate (highest ordinal first, partition, maxUnavailable) and
// OnDelete. Nothing here reads the wall clock, touches the store or starts
// a goroutine.
//
// SyncStatefulSet(Input{Set, Revision, State, Pods, Claims, Now}) returns a
// Result: pods to create (name, ordinal and the revision whose template to
// use), pods to delete, claims to create and delete, the new State, when to
// look again and events. The caller creates claims before the pods that
// use them, keeps the templates of State.CurrentRevision and Revision
// while a partitioned rollout has pods of both, and syncs again whenever a
// pod changes.
//
// Where berth differs from Kubernetes: spec.ordinals.start is refused at
// load (ordinals start at 0); a failed pod is deleted and recreated without
// Kubernetes' crash back-off (the node agent already backs off container
// restarts); revisions are template hashes, not ControllerRevisions, so a
// rollback is a new revision like any other.
package statefulsets
