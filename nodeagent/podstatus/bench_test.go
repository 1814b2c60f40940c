package podstatus

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkGenerate measures one status computation for a pod with an
// init container, a sidecar and two apps, as the agent does for every
// pod on every sync; one iteration computes 1000 of them.
func BenchmarkGenerate(b *testing.B) {
	const pods = 1000
	pod := newPod([]string{"web", "api"}, withInit("setup"), withSidecar("logs"))
	obs := Observation{
		SandboxReady: true,
		PodIPs:       []string{"198.18.0.9"},
		Containers:   []Container{exited("setup", 0), running("logs"), running("web"), running("api")},
	}
	var prev corev1.PodStatus
	for b.Loop() {
		start := time.Now()
		for i := range pods {
			s, err := Generate(pod, &prev, obs, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			prev = s
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/pods, "us/pod")
	}
}
