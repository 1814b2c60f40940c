package chaos

import (
	"math"
	"testing"
	"time"
)

func TestHistQuantile(t *testing.T) {
	// 10 samples: 4 at most 0.1 s, 5 more at most 1 s, 1 above.
	h := hist{bounds: []float64{0.1, 1, 10}, counts: []float64{4, 9, 10}, total: 10}
	tests := []struct {
		name string
		q    float64
		want float64
	}{
		{name: "inside the first bucket", q: 0.2, want: 0.05},
		{name: "median in the second bucket", q: 0.5, want: 0.1 + 0.9*(5-4)/5},
		{name: "p99 in the last bucket", q: 0.99, want: 1 + 9*(9.9-9)/1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.quantile(tt.q); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if !math.IsNaN((hist{}).quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}

func TestAddHistFoldsARestart(t *testing.T) {
	before := hist{bounds: []float64{1, 2}, counts: []float64{1, 3}, total: 3}
	after := hist{bounds: []float64{1, 2}, counts: []float64{2, 2}, total: 2}
	got := addHist(addHist(hist{}, before), after)
	if got.total != 5 || got.counts[0] != 3 || got.counts[1] != 5 {
		t.Errorf("folded %+v, want counts [3 5] total 5", got)
	}
	if before.counts[0] != 1 {
		t.Error("addHist changed its input")
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5 * time.Second, time.Second, 3 * time.Second, 2 * time.Second, 4 * time.Second}
	tests := []struct {
		name string
		p    float64
		want time.Duration
	}{
		{name: "p50", p: 50, want: 3 * time.Second},
		{name: "p99", p: 99, want: 5 * time.Second},
		{name: "p0 is the least", p: 0, want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(ds, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestOverlapsMeasureTwoCopies(t *testing.T) {
	o := newOverlaps()
	t0 := time.Unix(1000, 0)
	both := []Copy{{Node: "a", Name: "web-1", Running: true}, {Node: "b", Name: "web-1", Running: true}}
	o.record(t0, []Copy{{Node: "a", Name: "web-1", Running: true}})
	o.record(t0.Add(time.Second), both)
	o.record(t0.Add(3*time.Second), both)
	// A copy whose containers are not running does not count.
	o.record(t0.Add(4*time.Second), []Copy{{Node: "a", Name: "web-1", Running: true}, {Node: "b", Name: "web-1"}})
	count, longest, which := o.summary()
	if count != 1 || longest != 3*time.Second || which != "web-1" {
		t.Errorf("overlaps %d, longest %v (%s); want 1 of 3s for web-1", count, longest, which)
	}
}

func TestTagOf(t *testing.T) {
	tests := []struct{ ref, want string }{
		{ref: "127.0.0.1:5000/berth/busybox:v2", want: "v2"},
		{ref: "127.0.0.1:5000/berth/busybox", want: ""},
	}
	for _, tt := range tests {
		if got := tagOf(tt.ref); got != tt.want {
			t.Errorf("tagOf(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}
