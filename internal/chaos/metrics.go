package chaos

import (
	"context"
	"math"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-dev/berth/metrics"
)

// metricsAcc keeps the histograms the chaos report quotes from the
// server's and agents' /metrics. A killed process loses its counters, so
// the last scrape before a kill is folded into a base that later scrapes
// add to (what happened between that scrape and the kill is lost).
type metricsAcc struct {
	base map[string]map[string]hist // source → metric → folded
	last map[string]map[string]hist // source → metric → last scrape
}

// hist is a cumulative histogram: bucket upper bounds and counts.
type hist struct {
	bounds []float64
	counts []float64
	total  float64
}

func newMetricsAcc() *metricsAcc {
	return &metricsAcc{base: map[string]map[string]hist{}, last: map[string]map[string]hist{}}
}

// reportHists are the histograms the report shows, by source kind.
var reportHists = map[string][]string{
	"server": {"berth_sync_lag_seconds", "berth_scheduling_latency_seconds", "berth_reconcile_pass_duration_seconds", "berth_store_write_duration_seconds"},
	"agent":  {"berth_agent_pod_start_duration_seconds"},
}

func (r *Run) scrapeMetrics() {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	sources := map[string]string{"server": "http://" + r.c.metrics + "/metrics"}
	for _, n := range r.c.nodes {
		sources[n.Name] = "http://" + n.Metrics + "/metrics"
	}
	for src, url := range sources {
		fams, err := metrics.Scrape(ctx, url)
		if err != nil {
			continue // down or partitioned: the next scrape gets it
		}
		kind := "agent"
		if src == "server" {
			kind = "server"
		}
		m := map[string]hist{}
		for _, name := range reportHists[kind] {
			if h, ok := sumHist(fams[name]); ok {
				m[name] = h
			}
		}
		r.metrics.last[src] = m
	}
}

// fold moves src's last scrape into its base before src is killed.
func (a *metricsAcc) fold(src string) {
	if a.base[src] == nil {
		a.base[src] = map[string]hist{}
	}
	for name, h := range a.last[src] {
		a.base[src][name] = addHist(a.base[src][name], h)
	}
	delete(a.last, src)
}

// total is metric name summed over every source and restart.
func (a *metricsAcc) total(name string) hist {
	var t hist
	for _, m := range []map[string]map[string]hist{a.base, a.last} {
		for _, byName := range m {
			t = addHist(t, byName[name])
		}
	}
	return t
}

// sumHist adds up a family's histograms over its label sets.
func sumHist(f *dto.MetricFamily) (hist, bool) {
	if f == nil {
		return hist{}, false
	}
	var t hist
	for _, m := range f.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		var x hist
		for _, b := range h.GetBucket() {
			x.bounds = append(x.bounds, b.GetUpperBound())
			x.counts = append(x.counts, float64(b.GetCumulativeCount()))
		}
		x.total = float64(h.GetSampleCount())
		t = addHist(t, x)
	}
	return t, true
}

func addHist(a, b hist) hist {
	if len(a.bounds) == 0 {
		return hist{bounds: append([]float64(nil), b.bounds...), counts: append([]float64(nil), b.counts...), total: b.total}
	}
	if len(b.bounds) == 0 {
		return a
	}
	out := hist{bounds: a.bounds, counts: append([]float64(nil), a.counts...), total: a.total + b.total}
	for i := range out.counts {
		if i < len(b.counts) {
			out.counts[i] += b.counts[i]
		}
	}
	return out
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile
// does: linear within the bucket that holds it.
func (h hist) quantile(q float64) float64 {
	if h.total == 0 || len(h.bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.total
	i := sort.Search(len(h.counts), func(i int) bool { return h.counts[i] >= rank })
	if i == len(h.counts) {
		return h.bounds[len(h.bounds)-1] // in the +Inf bucket
	}
	lo, prev := 0.0, 0.0
	if i > 0 {
		lo, prev = h.bounds[i-1], h.counts[i-1]
	}
	in := h.counts[i] - prev
	if in == 0 {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-prev)/in
}
