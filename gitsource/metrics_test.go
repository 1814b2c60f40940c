package gitsource

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/metrics/metricstest"
)

// TestMetricsFetchErrorsAndRefusals scrapes the real /metrics handler: a
// failed fetch counts in berth_git_fetch_errors_total, and a revision
// refused for its manifests counts once in
// berth_revisions_refused_total{reason="manifests"}, however often it is
// fetched again.
func TestMetricsFetchErrorsAndRefusals(t *testing.T) {
	scrape := metricstest.Scraper(t)
	const refused = "berth_revisions_refused_total"
	before := scrape()

	missing, _ := newTestSource(t, filepath.Join(t.TempDir(), "no-such-repo.git"), nil)
	if err := missing.Sync(context.Background()); err == nil {
		t.Fatal("Sync of a missing repository succeeded")
	}
	u := newUpstream(t)
	u.commitPush("bad", map[string]string{"b.yaml": badPod("b")})
	s, _ := newTestSource(t, u.bare, nil)
	for range 2 {
		wantKind(t, s.Sync(context.Background()), ErrInvalidManifests)
	}
	after := scrape()
	if d := after.Get("berth_git_fetch_errors_total") - before.Get("berth_git_fetch_errors_total"); d != 1 {
		t.Errorf("fetch errors moved by %v, want 1", d)
	}
	if d := after.Get(refused, "reason", "manifests") - before.Get(refused, "reason", "manifests"); d != 1 {
		t.Errorf("refused{manifests} moved by %v, want 1", d)
	}
}
