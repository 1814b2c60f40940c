package apiserver

import (
	"net/http"
	"testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/metrics/metricstest"
)

// TestMetricsCountRequests scrapes the real /metrics handler around API
// calls: each is counted under its route pattern and status code, and
// timed; a path no route matches is counted as "unmatched", not by its
// raw path.
func TestMetricsCountRequests(t *testing.T) {
	scrape := metricstest.Scraper(t)
	h := newAPIHarness(t, nil)
	route := "GET " + api.PathStatus
	before := scrape()
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{name: "no token", token: "", want: http.StatusUnauthorized},
		{name: "admin", token: testTokens.Admin, want: http.StatusOK},
	} {
		if code, e := h.do("GET", api.PathStatus, tc.token, "", ""); code != tc.want {
			t.Fatalf("%s: %d %+v, want %d", tc.name, code, e, tc.want)
		}
	}
	if code, _ := h.do("GET", "/no/such/path/x1", testTokens.Admin, "", ""); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
	after := scrape()
	for _, tc := range []struct {
		name   string
		labels []string
	}{
		{name: "401", labels: []string{"route", route, "code", "401"}},
		{name: "200", labels: []string{"route", route, "code", "200"}},
		{name: "404", labels: []string{"route", "unmatched", "code", "404"}},
	} {
		if d := after.Get("berth_api_requests_total", tc.labels...) - before.Get("berth_api_requests_total", tc.labels...); d != 1 {
			t.Errorf("%s: requests moved by %v, want 1", tc.name, d)
		}
	}
	if d := after.Get("berth_api_request_duration_seconds", "route", route) - before.Get("berth_api_request_duration_seconds", "route", route); d != 2 {
		t.Errorf("latency observed %v times, want 2", d)
	}
	if _, ok := after.Value("berth_api_requests_total", "route", "/no/such/path/x1"); ok {
		t.Error("a raw path became a label value")
	}
}
