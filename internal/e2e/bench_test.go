package e2e

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkCommitToRunning measures, on a one-node cluster of real
// processes, the time from `git push` returning to the API showing the
// pod of a one-pod change Running: 10 pushes announced by the generic
// webhook, then 10 found by polling every 2 s. One iteration does both
// series; the figures are p50 and p99 (of 10, the slowest) in ms.
func BenchmarkCommitToRunning(b *testing.B) {
	const pushes = 10
	c := newCluster(b, clusterOptions{
		prefix: "bench", clusterCIDR: "198.19.100.0/22", nodes: 1,
		interval: 2 * time.Second, nodeTimeout: 40 * time.Second,
	})
	// The first pod pulls the image; the measured ones do not.
	c.apply("warm up", map[string]string{"pods/warm.yaml": sleeper(c.image, "warm")})
	if err := c.waitRunning("warm", 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	series := map[string][]time.Duration{}
	for i := 0; i < b.N; i++ {
		for _, mode := range []string{"webhook", "poll"} {
			for j := 0; j < pushes; j++ {
				name := fmt.Sprintf("%s-%d-%d", mode, i, j)
				c.repo.commit("one more pod: "+name, map[string]string{"pods/" + name + ".yaml": sleeper(c.image, name)})
				c.repo.push()
				pushed := time.Now()
				if mode == "webhook" {
					c.hook()
				}
				if err := c.waitRunning(name, time.Minute); err != nil {
					b.Fatal(err)
				}
				series[mode] = append(series[mode], time.Since(pushed))
			}
		}
	}
	b.StopTimer()
	for _, mode := range []string{"webhook", "poll"} {
		d := series[mode]
		b.ReportMetric(percentileMS(d, 50), mode+"-p50-ms")
		b.ReportMetric(percentileMS(d, 99), mode+"-p99-ms")
		b.Logf("%s: %v", mode, d)
	}
}

// waitRunning polls the API every 20 ms until pod name is Running.
func (c *cluster) waitRunning(name string, limit time.Duration) error {
	return poll(limit, 20*time.Millisecond, func() error {
		p, err := c.admin.Pod(context.Background(), "default", name)
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s is %q on %q: %+v %+v", name, p.Status.Phase, p.Spec.NodeName, p.Status.Conditions, p.Status.ContainerStatuses)
		}
		return nil
	})
}

// percentileMS is the nearest-rank percentile of d, in milliseconds.
func percentileMS(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	return float64(s[rank-1].Microseconds()) / 1000
}
