// Package podstatus computes a pod's status — phase, the kubelet-owned
// conditions and every container's state — from the pod spec, what the
// runtime observed (Observation) and the previous status, the way the
// kubelet does it (pkg/kubelet/kubelet_pods.go generateAPIPodStatus,
// convertToAPIContainerStatuses and getPhase; pkg/kubelet/status/generate.go;
// the probe manager's UpdatePodStatus). It is a pure function: no clock, no
// I/O; the caller passes "now" for condition transition times.
package podstatus
