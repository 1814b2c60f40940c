package chaos

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/fencing"
)

// Report is what a run found.
type Report struct {
	Seed     int64
	Duration time.Duration
	// Injected counts faults by type; Converge holds the convergence
	// times by fault or change type.
	Injected map[string]int
	Converge map[string][]time.Duration
	// ConvergeDB holds, by the same types, how long the db StatefulSet
	// took to run as desired (within the Converge time).
	ConvergeDB map[string][]time.Duration
	// StatefulSet is the db StatefulSet's invariants, checked and violated.
	StatefulSet []StatefulSetLine
	// Violations and Leaks should be empty.
	Violations []string
	Leaks      []string
	// Overlaps counts pod names seen running on two nodes at once;
	// LongestOverlap is the longest such window and OverlapPod its pod.
	Overlaps       int
	LongestOverlap time.Duration
	OverlapPod     string
	// TaskOverlaps, TaskLongestOverlap and TaskOverlapPod are the same
	// from containerd's task events (exact to an event's arrival);
	// TaskEventGaps counts the times the event stream broke (containerd
	// restarts), each followed by a scan.
	TaskOverlaps       int
	TaskLongestOverlap time.Duration
	TaskOverlapPod     string
	TaskEventGaps      int
	TaskStarts         int
	// Metrics are p50/p99 of the histograms read from /metrics.
	Metrics []MetricLine
}

// MetricLine is one histogram as the server or agents exposed it.
type MetricLine struct {
	Name     string
	Count    float64
	P50, P99 float64
}

func (r *Run) report() *Report {
	rep := &Report{
		Seed: r.o.Seed, Duration: r.o.Duration, Injected: r.injected, Converge: r.converge,
		ConvergeDB: r.convergeDB, StatefulSet: r.sts.lines(), Violations: r.violations, Leaks: r.leaks,
	}
	rep.Overlaps, rep.LongestOverlap, rep.OverlapPod = r.overlap.summary()
	if r.tasks != nil {
		rep.TaskOverlaps, rep.TaskLongestOverlap, rep.TaskOverlapPod = r.tasks.o.summary()
		rep.TaskStarts, rep.TaskEventGaps = r.tasks.counts()
	}
	var names []string
	for _, hs := range reportHists {
		names = append(names, hs...)
	}
	sort.Strings(names)
	for _, name := range names {
		h := r.metrics.total(name)
		rep.Metrics = append(rep.Metrics, MetricLine{Name: name, Count: h.total, P50: h.quantile(0.5), P99: h.quantile(0.99)})
	}
	return rep
}

// percentile is the nearest-rank percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

// String is the table the run ends with.
func (rep *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run: seed %d, %v of faults (replay: -chaos.seed=%d)\n\n", rep.Seed, rep.Duration, rep.Seed)
	fmt.Fprintf(&b, "| fault / change | injected | converged | p50 | p99 | max | db p50 | db p99 | db max |\n|---|---|---|---|---|---|---|---|---|\n")
	var kinds []string
	for k := range rep.Converge {
		kinds = append(kinds, k)
	}
	for k := range rep.Injected {
		if _, ok := rep.Converge[k]; !ok {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ds := rep.Converge[k]
		inj := "-"
		if n, ok := rep.Injected[k]; ok {
			inj = fmt.Sprint(n)
		}
		db := rep.ConvergeDB[k]
		fmt.Fprintf(&b, "| %s | %s | %d | %v | %v | %v | %v | %v | %v |\n", k, inj, len(ds),
			percentile(ds, 50).Round(10*time.Millisecond), percentile(ds, 99).Round(10*time.Millisecond), percentile(ds, 100).Round(10*time.Millisecond),
			percentile(db, 50).Round(10*time.Millisecond), percentile(db, 99).Round(10*time.Millisecond), percentile(db, 100).Round(10*time.Millisecond))
	}
	if len(rep.StatefulSet) > 0 {
		fmt.Fprintf(&b, "\n| StatefulSet db (claims on the agents' --storage-dir) | checks | violations |\n|---|---|---|\n")
		for _, l := range rep.StatefulSet {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", l.Invariant, l.Checks, l.Violations)
		}
	}
	fmt.Fprintf(&b, "\n| from /metrics | samples | p50 | p99 |\n|---|---|---|---|\n")
	for _, m := range rep.Metrics {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s |\n", m.Name, m.Count, secs(m.P50), secs(m.P99))
	}
	which := ""
	if rep.OverlapPod != "" {
		which = " (" + rep.OverlapPod + ")"
	}
	// The rule the cluster runs under: the server's flush of heartbeats
	// is its default, min(5s, node timeout/8).
	fence := fencing.Timings{NodeTimeout: nodeTimeout, Flush: min(5*time.Second, nodeTimeout/8)}.WithDefaults()
	taskWhich := ""
	if rep.TaskOverlapPod != "" {
		taskWhich = " (" + rep.TaskOverlapPod + ")"
	}
	fmt.Fprintf(&b, "\ninvariant violations: %d\nleaks found: %d\npod names seen on two nodes at once: %d, longest overlap %v%s (node timeout %v; sampled every 300ms)\n",
		len(rep.Violations), len(rep.Leaks), rep.Overlaps, rep.LongestOverlap.Round(10*time.Millisecond), which, nodeTimeout)
	fmt.Fprintf(&b, "pod names with an app process on two nodes at once, from containerd's task events: %d, longest overlap %v%s (%d app starts followed; %d event-stream gaps at containerd restarts, each rescanned)\n",
		rep.TaskOverlaps, rep.TaskLongestOverlap.Round(time.Millisecond), taskWhich, rep.TaskStarts, rep.TaskEventGaps)
	fmt.Fprintf(&b, "fencing bound: a cut-off agent stops its pods by %v after its last accepted heartbeat; the server moves them from %v after the last it received (slack %v)\n",
		fence.StoppedBy(), fence.MoveAfter(), fence.Slack())
	for _, v := range rep.Violations {
		fmt.Fprintf(&b, "  violation: %s\n", v)
	}
	for _, l := range rep.Leaks {
		fmt.Fprintf(&b, "  leak: %s\n", l)
	}
	return b.String()
}

func secs(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	d := time.Duration(v * float64(time.Second))
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
