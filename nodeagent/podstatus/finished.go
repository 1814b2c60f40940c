package podstatus

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/nodeagent/restart"
)

// Finished reports whether the pod will start nothing more, the kubelet's
// KillPod decision (computePodActions): a regular init container failed
// under restartPolicy Never, or every app container has exited and none
// is due for a restart. The runtime then stops what still runs — native
// sidecars last — and from then on reports with Observation.Terminal set,
// which turns the stopped pod Succeeded or Failed. A pod being deleted has
// finished too.
func Finished(pod *corev1.Pod, obs Observation) (bool, error) {
	byName, err := index(&pod.Spec, obs.Containers)
	if err != nil {
		return false, err
	}
	if obs.Rejected != nil || pod.DeletionTimestamp != nil {
		return true, nil
	}
	g := generator{pod: pod, obs: byName}
	policy := restart.EffectivePolicy(pod.Spec.RestartPolicy)
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if manifest.IsSidecar(c) {
			continue
		}
		as := attempts(byName[c.Name])
		if len(as) > 0 && as[0].State == StateExited && as[0].ExitCode != 0 && policy == corev1.RestartPolicyNever {
			return true, nil
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		as := attempts(byName[c.Name])
		if len(as) == 0 || as[0].State == StateRunning || g.dueForStart(c, as) {
			return false, nil
		}
	}
	return true, nil
}
