package e2e

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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
	if _, _, err := c.waitRunning("warm", 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	type sample struct{ bound, running time.Duration }
	series := map[string][]sample{}
	for i := 0; i < b.N; i++ {
		for _, mode := range []string{"webhook", "poll"} {
			for j := 0; j < pushes; j++ {
				name := fmt.Sprintf("%s-%d-%d", mode, i, j)
				c.repo.Commit("one more pod: "+name, map[string]string{"pods/" + name + ".yaml": sleeper(c.image, name)})
				// Each push follows the last pod's status report, so
				// pushes would keep one phase against the periodic parts
				// (the server's 2 s poll, the agent's 1 s status report)
				// and measure one point of their period: spread them over
				// it.
				time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second))))
				c.repo.Push()
				pushed := time.Now()
				if mode == "webhook" {
					c.hook()
				}
				bound, running, err := c.waitRunning(name, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				series[mode] = append(series[mode], sample{bound: bound.Sub(pushed), running: running.Sub(pushed)})
			}
		}
	}
	b.StopTimer()
	for _, mode := range []string{"webhook", "poll"} {
		var bound, running []time.Duration
		for _, x := range series[mode] {
			bound = append(bound, x.bound)
			running = append(running, x.running)
		}
		b.ReportMetric(percentileMS(running, 50), mode+"-p50-ms")
		b.ReportMetric(percentileMS(running, 99), mode+"-p99-ms")
		// Where the time goes: until the API shows the pod bound to a
		// node (Git, admission, scheduling), the rest on the node and in
		// its status report.
		b.ReportMetric(percentileMS(bound, 50), mode+"-bound-p50-ms")
		b.Logf("%s: to Running %v; to bound %v", mode, running, bound)
	}
}

// waitRunning polls the API every 20 ms until pod name is Running, and
// returns when it was first seen bound to a node and first seen Running.
func (c *cluster) waitRunning(name string, limit time.Duration) (bound, running time.Time, err error) {
	err = poll(limit, 20*time.Millisecond, func() error {
		p, err := c.admin.Pod(context.Background(), "default", name)
		if err != nil {
			return err
		}
		now := time.Now()
		if p.Spec.NodeName != "" && bound.IsZero() {
			bound = now
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s is %q on %q: %+v %+v", name, p.Status.Phase, p.Spec.NodeName, p.Status.Conditions, p.Status.ContainerStatuses)
		}
		running = now
		if bound.IsZero() {
			bound = now
		}
		return nil
	})
	return bound, running, err
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
