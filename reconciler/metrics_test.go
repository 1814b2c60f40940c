package reconciler

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/metrics/metricstest"
)

// TestMetricsMove scrapes the real /metrics handler around a refused and
// then an admitted revision: each control-plane figure moves with its
// event, and a revision refused pass after pass counts once.
func TestMetricsMove(t *testing.T) {
	scrape := metricstest.Scraper(t)
	h := newHarness(t)
	start := scrape()

	// No node: the revision's pods do not fit.
	h.src.push("r1", decodeObjs(t, deployYAML(2, "web:1")))
	h.reconcile()
	h.reconcile()
	refused := scrape()
	if d := refused.Get("berth_revisions_refused_total", "reason", "fit") - start.Get("berth_revisions_refused_total", "reason", "fit"); d != 1 {
		t.Errorf("refused{fit} moved by %v, want 1 (once for two passes)", d)
	}
	if d := refused.Get("berth_reconcile_pass_duration_seconds") - start.Get("berth_reconcile_pass_duration_seconds"); d != 2 {
		t.Errorf("pass duration observed %v times, want 2", d)
	}

	// A node joins 5 s later: admitted, with a sync lag of 5 s, and the
	// pods are bound.
	h.clock.Step(5 * time.Second)
	h.addNode("n1", "2", "1Gi")
	h.reconcile()
	admitted := scrape()
	for _, m := range []string{"berth_revisions_admitted_total", "berth_sync_lag_seconds"} {
		if d := admitted.Get(m) - refused.Get(m); d != 1 {
			t.Errorf("%s moved by %v, want 1", m, d)
		}
	}
	lag := admitted["berth_sync_lag_seconds"].GetMetric()[0].GetHistogram().GetSampleSum() -
		refused["berth_sync_lag_seconds"].GetMetric()[0].GetHistogram().GetSampleSum()
	if lag != 5 {
		t.Errorf("sync lag %vs, want 5s", lag)
	}
	if d := admitted.Get("berth_scheduling_latency_seconds") - refused.Get("berth_scheduling_latency_seconds"); d != 2 {
		t.Errorf("scheduling latency observed %v times, want 2 (two pods bound)", d)
	}
	if v := admitted.Get("berth_unschedulable_pods"); v != 0 {
		t.Errorf("unschedulable pods %v, want 0", v)
	}
	if d := admitted.Get("berth_store_write_duration_seconds") - refused.Get("berth_store_write_duration_seconds"); d < 1 {
		t.Errorf("store writes observed %v, want some", d)
	}
	if v := admitted.Get("berth_store_size_bytes"); v <= 0 {
		t.Errorf("store size %v", v)
	}
}
