package scheduler

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/manifest"
)

// Resources is an amount of the resources the scheduler accounts for, in
// the units it computes with: milli-cpu, bytes of memory, and pod slots.
type Resources struct {
	MilliCPU int64
	Memory   int64
	Pods     int64
}

// Quantities returns r in Kubernetes' form, for display and the API.
func (r Resources) Quantities() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(r.Memory, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(r.Pods, resource.DecimalSI),
	}
}

// String prints the non-zero parts, as "cpu 250m, memory 512Mi, pods 1".
func (r Resources) String() string {
	var parts []string
	if r.MilliCPU != 0 {
		parts = append(parts, "cpu "+cpuString(r.MilliCPU))
	}
	if r.Memory != 0 {
		parts = append(parts, "memory "+memString(r.Memory))
	}
	if r.Pods != 0 {
		parts = append(parts, fmt.Sprintf("pods %d", r.Pods))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// more phrases a shortfall: "512Mi more memory and 250m more cpu".
func (r Resources) more() string {
	var parts []string
	if r.Memory > 0 {
		parts = append(parts, memString(r.Memory)+" more memory")
	}
	if r.MilliCPU > 0 {
		parts = append(parts, cpuString(r.MilliCPU)+" more cpu")
	}
	if r.Pods > 0 {
		parts = append(parts, "a free pod slot")
	}
	return strings.Join(parts, " and ")
}

func cpuString(m int64) string {
	return resource.NewMilliQuantity(m, resource.DecimalSI).String()
}

func memString(b int64) string {
	return resource.NewQuantity(b, resource.BinarySI).String()
}

// defaultMaxPods is kubelet's --max-pods default, used when a node does not
// say how many pods it takes.
const defaultMaxPods = 110

// Requests that stand in for an unset one when ranking, so pods without
// requests do not all pile onto one node; kube-scheduler's non-zero
// defaults. Filters never use them.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 << 20
)

// EffectiveRequest is the pod's request as Kubernetes computes it for
// scheduling, per resource: the larger of (a) the sum of the app containers
// and every sidecar (an init container with restartPolicy Always), and (b)
// for each ordinary init container, its own request plus those of the
// sidecars started before it, which are still running while it runs (the
// KEP-753 formula). A container that sets only a limit requests its limit,
// as the API server's defaulting makes it. The pod overhead is added, and
// Pods is always 1.
func EffectiveRequest(pod *corev1.Pod) Resources {
	var apps, sidecars, inits Resources
	for i := range pod.Spec.Containers {
		apps = apps.add(containerRequest(&pod.Spec.Containers[i]))
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := containerRequest(c)
		var running Resources
		if manifest.IsSidecar(c) {
			// A sidecar keeps running beside everything after it.
			sidecars = sidecars.add(r)
			running = sidecars
		} else {
			// An init container runs to completion next to the
			// sidecars started before it.
			running = r.add(sidecars)
		}
		inits = inits.max(running)
	}
	req := apps.add(sidecars).max(inits)
	if len(pod.Spec.Overhead) > 0 {
		req = req.add(listRequest(pod.Spec.Overhead, nil))
	}
	req.Pods = 1
	return req
}

func containerRequest(c *corev1.Container) Resources {
	return listRequest(c.Resources.Requests, c.Resources.Limits)
}

// listRequest reads cpu and memory from requests, falling back to limits.
// A negative amount counts as none, so it can never make room on a node;
// a pending pod that has one is refused as invalid (negativeResource).
func listRequest(requests, limits corev1.ResourceList) Resources {
	var r Resources
	if q, ok := requests[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	} else if q, ok := limits[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := requests[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	} else if q, ok := limits[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	}
	return Resources{MilliCPU: max(r.MilliCPU, 0), Memory: max(r.Memory, 0)}
}

// negativeResource names the first negative request or limit of the pod,
// or "".
func negativeResource(pod *corev1.Pod) string {
	check := func(where string, l corev1.ResourceList) string {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := l[name]; ok && q.Sign() < 0 {
				return fmt.Sprintf("%s %s %s", where, name, q.String())
			}
		}
		return ""
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			c := &cs[i]
			if n := check("container "+c.Name+" requests", c.Resources.Requests); n != "" {
				return n
			}
			if n := check("container "+c.Name+" limits", c.Resources.Limits); n != "" {
				return n
			}
		}
	}
	return check("overhead", pod.Spec.Overhead)
}

func (r Resources) add(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU + o.MilliCPU, Memory: r.Memory + o.Memory, Pods: r.Pods + o.Pods}
}

func (r Resources) sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, Memory: r.Memory - o.Memory, Pods: r.Pods - o.Pods}
}

func (r Resources) max(o Resources) Resources {
	return Resources{MilliCPU: max(r.MilliCPU, o.MilliCPU), Memory: max(r.Memory, o.Memory), Pods: max(r.Pods, o.Pods)}
}

// scoringRequest is the request ranking uses: the effective request with
// kube-scheduler's non-zero defaults for a resource the pod leaves unset.
func scoringRequest(req Resources) Resources {
	if req.MilliCPU == 0 {
		req.MilliCPU = defaultMilliCPURequest
	}
	if req.Memory == 0 {
		req.Memory = defaultMemoryRequest
	}
	return req
}

// nodeAllocatable reads a node's allocatable; see Node.Allocatable.
func nodeAllocatable(l corev1.ResourceList) Resources {
	r := listRequest(l, nil)
	r.Pods = defaultMaxPods
	if q, ok := l[corev1.ResourcePods]; ok {
		r.Pods = q.Value()
	}
	return r
}

// unsupportedResource names the first resource the pod requests that the
// scheduler does not account for, or "". A request nobody accounts for
// would otherwise be silently ignored.
func unsupportedResource(pod *corev1.Pod) string {
	check := func(l corev1.ResourceList) string {
		first := ""
		for name := range l {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory && (first == "" || string(name) < first) {
				first = string(name) // the least, so the message is stable
			}
		}
		return first
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if n := check(cs[i].Resources.Requests); n != "" {
				return n
			}
			if n := check(cs[i].Resources.Limits); n != "" {
				return n
			}
		}
	}
	return check(pod.Spec.Overhead)
}
