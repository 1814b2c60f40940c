package nodeagent

import (
	"time"

	"github.com/berth-dev/berth/metrics"
)

// podMetrics is what a pod worker needs for the agent's metrics. Owned by
// the worker goroutine.
type podMetrics struct {
	accepted time.Time // when this agent took the pod (wall clock: measured)
	started  bool      // berth_agent_pod_start_duration_seconds observed
}

// containerStarted records a container start: a restart (attempt > 1)
// counts in berth_agent_container_restarts_total; the moment every regular
// container has run once gives the pod's start latency.
func (w *podWorker) containerStarted(c *ctr) {
	node := w.a.cfg.NodeName
	if c.attempt > 1 {
		metrics.ContainerRestarts.WithLabelValues(node).Inc()
	}
	if w.m.started || w.m.accepted.IsZero() {
		return
	}
	for _, o := range w.ctrs {
		if o.kind != kindInit && o.attempt == 0 {
			return
		}
	}
	w.m.started = true
	metrics.PodStart.WithLabelValues(node).Observe(time.Since(w.m.accepted).Seconds())
}
