package nodeagent

import (
	"sync"
	"time"

	"github.com/berth-dev/berth/metrics"
)

// podMetrics is what a pod worker needs for the agent's metrics. The app
// containers of a pod start in parallel, so what they record is kept
// under mu.
type podMetrics struct {
	mu       sync.Mutex
	accepted time.Time           // when this agent took the pod (wall clock: measured)
	started  bool                // berth_agent_pod_start_duration_seconds observed
	ran      map[string]struct{} // regular containers started at least once
}

// containerStarted records a container start: a restart (attempt > 1)
// counts in berth_agent_container_restarts_total; the moment every regular
// container has run once gives the pod's start latency.
func (w *podWorker) containerStarted(c *ctr) {
	node := w.a.cfg.NodeName
	if c.attempt > 1 {
		metrics.ContainerRestarts.WithLabelValues(node).Inc()
	}
	m := &w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.accepted.IsZero() {
		return
	}
	if c.kind != kindInit {
		if m.ran == nil {
			m.ran = map[string]struct{}{}
		}
		m.ran[c.spec.Name] = struct{}{}
	}
	for _, o := range w.ctrs {
		if o.kind == kindInit {
			continue
		}
		if _, ok := m.ran[o.spec.Name]; !ok {
			return
		}
	}
	m.started = true
	metrics.PodStart.WithLabelValues(node).Observe(time.Since(m.accepted).Seconds())
}
