package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/metrics/metricstest"
)

// TestMetricsPodStartAndRestarts scrapes the real /metrics handler around
// the worker's container-start hook: the pod's start latency is observed
// once, when its last regular container first starts (init containers do
// not wait for it), and each later attempt counts as a restart on this
// node. The hook is called by podWorker.start after containerd started
// the task; the containerd path itself is covered by the lifecycle tests.
func TestMetricsPodStartAndRestarts(t *testing.T) {
	scrape := metricstest.Scraper(t)
	a := &Agent{cfg: Config{NodeName: "metrics-test-node"}}
	init1 := &ctr{spec: &corev1.Container{Name: "init"}, kind: kindInit}
	app1 := &ctr{spec: &corev1.Container{Name: "a"}, kind: kindApp}
	app2 := &ctr{spec: &corev1.Container{Name: "b"}, kind: kindApp}
	w := &podWorker{a: a, ctrs: map[string]*ctr{"init": init1, "a": app1, "b": app2}, m: podMetrics{accepted: time.Now()}}
	const start, restarts = "berth_agent_pod_start_duration_seconds", "berth_agent_container_restarts_total"
	before := scrape()
	for _, step := range []struct {
		name                     string
		c                        *ctr
		wantStarts, wantRestarts float64
	}{
		{name: "init first", c: init1, wantStarts: 0, wantRestarts: 0},
		{name: "first app", c: app1, wantStarts: 0, wantRestarts: 0},
		{name: "last app", c: app2, wantStarts: 1, wantRestarts: 0},
		{name: "app restarts", c: app1, wantStarts: 1, wantRestarts: 1},
	} {
		step.c.attempt++
		w.containerStarted(step.c)
		now := scrape()
		if d := now.Get(start, "node", "metrics-test-node") - before.Get(start, "node", "metrics-test-node"); d != step.wantStarts {
			t.Errorf("%s: pod starts observed %v, want %v", step.name, d, step.wantStarts)
		}
		if d := now.Get(restarts, "node", "metrics-test-node") - before.Get(restarts, "node", "metrics-test-node"); d != step.wantRestarts {
			t.Errorf("%s: restarts %v, want %v", step.name, d, step.wantRestarts)
		}
	}
}
