package reconciler

import (
	"os"
	"time"

	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/scheduler"
)

// syncLag remembers when the reconciler first saw the revision it has not
// admitted yet, for berth_sync_lag_seconds. Guarded by Reconciler.mu.
type syncLag struct {
	revision string
	seen     time.Time
}

// sawRevision notes the first time a candidate revision is seen.
func (r *Reconciler) sawRevision(rev string, now time.Time) {
	if r.lag.revision != rev {
		r.lag = syncLag{revision: rev, seen: now}
	}
}

// admittedRevision observes the sync lag of the revision just admitted.
func (r *Reconciler) admittedRevision(rev string, now time.Time) {
	metrics.RevisionsAdmitted.Inc()
	if r.lag.revision == rev {
		metrics.SyncLag.Observe(now.Sub(r.lag.seen).Seconds())
	}
}

// refusedRevision counts a revision refused by the reconciler (once per
// revision: callers call it only when the refusal is new).
func refusedRevision(reason string) { metrics.RevisionsRefused.WithLabelValues(reason).Inc() }

// observePass records a pass's wall-clock duration (measured, so not on
// the injected clock) and whether it failed.
func observePass(start time.Time, err error) {
	metrics.ReconcilePass.Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.ReconcileErrors.Inc()
	}
}

// observePlan records a committed scheduling plan: how long each bound pod
// waited since its creation, and how many pods remain unplaced. A nil plan
// means nothing was pending.
func observePlan(plan *scheduler.Plan, now time.Time) {
	if plan == nil {
		metrics.UnschedulablePods.Set(0)
		return
	}
	for _, b := range plan.Bindings {
		if c := b.Pod.CreationTimestamp.Time; !c.IsZero() {
			metrics.SchedulingLatency.Observe(max(now.Sub(c), 0).Seconds())
		}
	}
	metrics.UnschedulablePods.Set(float64(len(plan.Unplaced)))
}

// observeWrite records a write transaction's duration and the store
// file's size after it.
func (s *BoltStore) observeWrite(start time.Time) {
	metrics.StoreWriteDuration.Observe(time.Since(start).Seconds())
	if fi, err := os.Stat(s.db.Path()); err == nil {
		metrics.StoreSize.Set(float64(fi.Size()))
	}
}
