// Package metricstest serves berth's real /metrics handler to a test and
// scrapes it, so a test checks the figures as Prometheus would read them.
package metricstest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/berth-dev/berth/metrics"
)

// Scraper serves metrics.Handler until the test ends and returns a
// function that scrapes it (failing the test if it cannot).
func Scraper(t testing.TB) func() metrics.Families {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler())
	t.Cleanup(srv.Close)
	return func() metrics.Families {
		t.Helper()
		f, err := metrics.Scrape(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
}
