package gitsource

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/metrics"
)

// TestMetricsFetchErrorsAndRefusals scrapes the real /metrics handler: a
// failed fetch counts in berth_git_fetch_errors_total, and a revision
// refused for its manifests counts once in
// berth_revisions_refused_total{reason="manifests"}, however often it is
// fetched again.
func TestMetricsFetchErrorsAndRefusals(t *testing.T) {
	srv := httptest.NewServer(metrics.Handler())
	defer srv.Close()
	scrape := func() metrics.Families {
		t.Helper()
		f, err := metrics.Scrape(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	val := func(f metrics.Families, name string, labels ...string) float64 {
		v, _ := f.Value(name, labels...)
		return v
	}
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
	if d := val(after, "berth_git_fetch_errors_total") - val(before, "berth_git_fetch_errors_total"); d != 1 {
		t.Errorf("fetch errors moved by %v, want 1", d)
	}
	if d := val(after, refused, "reason", "manifests") - val(before, refused, "reason", "manifests"); d != 1 {
		t.Errorf("refused{manifests} moved by %v, want 1", d)
	}
}
