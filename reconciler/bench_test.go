package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/manifest"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	clocktesting "k8s.io/utils/clock/testing"
)

// benchCluster is the control-plane benchmark's world: 200 nodes and 100
// Deployments of 100 replicas, 10,000 pods, on a real bbolt store.
func benchCluster(b *testing.B) *harness {
	st, err := OpenBolt(filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h := &harness{t: b, store: st, clock: clocktesting.NewFakeClock(t0), src: &fakeSource{updated: make(chan struct{}, 1)}}
	rec, err := New(Config{Store: st, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	h.rec = rec
	var names []string
	err = st.Update(func(tx Tx) error {
		for i := 0; i < 200; i++ {
			name := fmt.Sprintf("node-%03d", i)
			names = append(names, name)
			n := &NodeRecord{Name: name, Ready: true, LastHeartbeat: t0,
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")}}
			if err := tx.PutNode(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	h.src.push("r1", benchObjects(b, "v1"))
	return h
}

func benchObjects(b *testing.B, changedImage string) []manifest.Object {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		img := "web:v1"
		if i < 10 {
			img = "web:" + changedImage
		}
		fmt.Fprintf(&sb, `apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%03d}
spec:
  replicas: 100
  strategy: {rollingUpdate: {maxSurge: 100%%, maxUnavailable: 100%%}}
  selector: {matchLabels: {app: app-%03d}}
  template:
    metadata: {labels: {app: app-%03d}}
    spec:
      containers:
      - {name: web, image: %q, resources: {requests: {cpu: 100m, memory: 128Mi}}}
---
`, i, i, i, img)
	}
	return decodeObjsB(b, sb.String())
}

// BenchmarkControlPlane measures the figures that need no agent:
// a full reconcile of 10,000 pods on 200 nodes when nothing changes, and
// the time to converge the store after a commit that changes 1,000 pods,
// then one pass with nothing changed and one after one pod's status did,
// and the CPU time of Run over five minutes (of its clock) of an idle
// cluster.
func BenchmarkControlPlane(b *testing.B) {
	for i := 0; i < b.N; i++ {
		h := benchCluster(b)
		nodes := make([]string, 200)
		for j := range nodes {
			nodes[j] = fmt.Sprintf("node-%03d", j)
		}
		start := time.Now()
		h.reconcile()
		initial := time.Since(start)
		h.agents(nodes...)
		h.reconcile()
		h.agents(nodes...)

		start = time.Now()
		if _, err := h.rec.ReconcileOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		full := time.Since(start)

		h.src.push("r2", benchObjects(b, "v2"))
		start = time.Now()
		rounds := 0
		for ; rounds < 20; rounds++ {
			before := h.store.Version()
			h.reconcile()
			h.agents(nodes...)
			if h.store.Version() == before {
				break
			}
		}
		converge := time.Since(start)

		// Once converged: a pass when nothing changed (what an idle
		// server runs at every Resync and after its own writes), and a
		// pass after one pod's status changed (an agent's report).
		start = time.Now()
		h.reconcile()
		idle := time.Since(start)
		if err := h.store.Update(func(tx Tx) error {
			p, err := tx.Pod("default", h.pods()[0].Pod.Name)
			if err != nil {
				return err
			}
			p.Pod.Status.Message = "changed"
			return tx.PutPod(p)
		}); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		h.reconcile()
		onePod := time.Since(start)

		idleCPU := idleServer(b, h, nodes, 5*time.Minute)
		b.ReportMetric(float64(initial.Milliseconds()), "create-10k-ms")
		b.ReportMetric(float64(full.Milliseconds()), "full-reconcile-ms")
		b.ReportMetric(float64(converge.Milliseconds()), "converge-1k-ms")
		b.ReportMetric(float64(rounds), "converge-rounds")
		b.ReportMetric(float64(idle.Milliseconds()), "idle-pass-ms")
		b.ReportMetric(float64(onePod.Milliseconds()), "one-pod-pass-ms")
		b.ReportMetric(float64(idleCPU.Milliseconds()), "idle-5min-cpu-ms")
	}
}

func decodeObjsB(b *testing.B, yaml string) []manifest.Object {
	objs, errs := manifest.DecodeFile("bench.yaml", []byte(yaml))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return objs
}

// idleServer runs the loop (Run) for d of h's fake clock over a cluster
// where nothing happens but heartbeats, which are telemetry: the loop
// wakes at its Resync timer only. It returns the process's CPU time.
func idleServer(b *testing.B, h *harness, nodes []string, d time.Duration) time.Duration {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.rec.Run(ctx) }()
	waitLoop := func() {
		for !h.clock.HasWaiters() { // the loop is waiting on its timer
			time.Sleep(100 * time.Microsecond)
		}
	}
	waitLoop()
	cpu0 := processCPU(b)
	const step = 10 * time.Second // the default Resync
	for elapsed := time.Duration(0); elapsed < d; elapsed += step {
		h.heartbeat(nodes...)
		h.clock.Step(step)
		waitLoop()
	}
	cpu := processCPU(b) - cpu0
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return cpu
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
