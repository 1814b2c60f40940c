// Package deployments holds the Deployment controller as a pure function of
// (spec, what was remembered, the pods observed, now) to actions, modelled
// on Kubernetes' deployment controller (rolloutRolling, rolloutRecreate,
// syncRolloutStatus) and the ReplicaSet controller's scale-down order.
// Nothing here reads the wall clock, touches the store or starts a
// goroutine.
//
// SyncDeployment(Input{Deployment, TemplateHash, State, Pods, Now}) returns
// a Result:
//
//   - Deployment is the defaulted Deployment from manifest; TemplateHash
//     names its current pod template.
//   - State is the State SyncDeployment last returned (zero the first
//     time): the DeploymentStatus, the template being rolled out, when the
//     rollout last progressed, when the Deployment was first seen.
//   - Pods are all pods the Deployment owns, as ObservedPod: template hash,
//     placed or not, phase, Ready and since when, being deleted or not.
//   - Now is read by the caller from its clock (k8s.io/utils/clock), so
//     tests drive time with a fake clock.
//
// The caller creates Result.Create (deterministic names from PodName;
// creating an existing name is a no-op), stops Result.Delete, writes State
// when Changed, records Events, and syncs again at RequeueAt (a pod passing
// minReadySeconds, the progress deadline) or whenever a pod changes.
//
// See README.md for where berth differs from Kubernetes.
package deployments
