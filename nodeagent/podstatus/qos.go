package podstatus

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// QOSClass is the pod's quality-of-service class as Kubernetes computes it
// (pkg/apis/core/helper/qos ComputePodQOS) from CPU and memory. A manifest
// read from a file has not passed the API server's defaulting, so a limit
// without a request counts as a request of the same amount, as it would
// after defaulting.
func QOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	add := func(into corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		sum := q.DeepCopy()
		if have, ok := into[name]; ok {
			sum.Add(have)
		}
		into[name] = sum
	}
	all := append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...)
	for _, c := range all {
		reqs := c.Resources.Requests.DeepCopy()
		if reqs == nil {
			reqs = corev1.ResourceList{}
		}
		for name, q := range c.Resources.Limits {
			if _, ok := reqs[name]; !ok {
				reqs[name] = q
			}
		}
		for name, q := range reqs {
			if qosResource(name) && q.Sign() > 0 {
				add(requests, name, q)
			}
		}
		found := map[corev1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if qosResource(name) && q.Sign() > 0 {
				found[name] = true
				add(limits, name, q)
			}
		}
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func qosResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}
