package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// BenchmarkCronJobsDueTogether runs 1,000 every-minute CronJobs on the
// real clock, driven the way the reconciler drives them: a WakeQueue hands
// out due keys, each CronJob is synced, each Job it creates is synced at
// once and its pods recorded. One iteration waits for the next minute
// boundary and measures, for the 1,000 runs due then, the lateness from
// the scheduled time to the Job and its pods existing (p50, p99, max; split
// into the wake-up delay and the time to work through the burst), and
// the CPU the whole process used while idle between runs (% of one core,
// from getrusage), over at least 15 s. It takes at most about 75 s.
//
// The store is in memory: what is measured is the control-plane logic and
// the wake-up machinery, not the reconciler's bbolt writes.
func BenchmarkCronJobsDueTogether(b *testing.B) {
	const cronJobs = 1000
	const idleWindow = 15 * time.Second
	for range b.N {
		c := clock.RealClock{}
		h := newBenchHarness(c, cronJobs)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.loop(ctx)
		}()

		setupDone := c.Now()
		due := setupDone.Truncate(time.Minute).Add(time.Minute)
		var idleCPU, idleWall time.Duration
		if due.Sub(setupDone) >= idleWindow+time.Second {
			// Idle before the runs: measure up to just before they are due.
			cpu0 := processCPU()
			c.Sleep(due.Sub(setupDone) - 500*time.Millisecond)
			idleCPU, idleWall = processCPU()-cpu0, c.Since(setupDone)
		}
		lateness := h.waitRuns(b, due, cronJobs)
		burstEnd := c.Now()
		if idleWall == 0 {
			// Too close to the minute before: measure the idle time after
			// the runs instead, well before the next minute.
			cpu0 := processCPU()
			c.Sleep(idleWindow)
			idleCPU, idleWall = processCPU()-cpu0, c.Since(burstEnd)
		}
		cancel()
		<-done

		slices.Sort(lateness)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(percentile(lateness, 50)), "p50-ms")
		b.ReportMetric(ms(percentile(lateness, 99)), "p99-ms")
		b.ReportMetric(ms(lateness[len(lateness)-1]), "max-ms")
		// Lateness splits into the wake-up (the timer firing and the
		// process getting a CPU: the machine's share) and the work of
		// syncing 1,000 CronJobs and their Jobs (the controllers' share).
		b.ReportMetric(ms(h.wokeAt.Sub(due)), "wake-ms")
		b.ReportMetric(ms(burstEnd.Sub(h.wokeAt)), "burst-ms")
		b.ReportMetric(float64(len(lateness)), "runs")
		b.ReportMetric(float64(h.pods), "pods")
		b.ReportMetric(100*float64(idleCPU)/float64(idleWall), "idle-cpu-%")
		b.ReportMetric(ms(idleCPU)*float64(time.Minute)/float64(idleWall), "idle-cpu-ms/min")
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, i-1)]
}

// processCPU is the user plus system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchHarness is a minimal reconciler: an in-memory store and the loop.
type benchHarness struct {
	clock clock.Clock
	queue *WakeQueue
	cron  map[string]*benchCronJob
	jobs  map[string]*benchJob
	pods  int
	// wokeAt is when the loop's first Wait returned keys.
	wokeAt time.Time
	// runs receives, for each Job whose pods were created, its lateness.
	runs chan time.Duration
}

type benchCronJob struct {
	cj    *batchv1.CronJob
	state CronJobState
	owned []string
}

type benchJob struct {
	job       *batchv1.Job
	scheduled time.Time
	progress  JobProgress
	pods      []ObservedPod
}

func newBenchHarness(c clock.Clock, n int) *benchHarness {
	h := &benchHarness{
		clock: c, queue: NewWakeQueue(c), cron: map[string]*benchCronJob{}, jobs: map[string]*benchJob{},
		runs: make(chan time.Duration, n),
	}
	now := c.Now()
	for i := range n {
		cj := testCronJob("* * * * *")
		cj.Name = fmt.Sprintf("tick-%04d", i)
		cj.UID = types.UID(cj.Name + "-uid")
		h.cron[cj.Name] = &benchCronJob{cj: cj}
		// First sight: the state starts now and the first wake-up is set.
		h.syncCronJob(cj.Name, now)
	}
	return h
}

func (h *benchHarness) loop(ctx context.Context) {
	for {
		keys, err := h.queue.Wait(ctx)
		if err != nil {
			return
		}
		if h.wokeAt.IsZero() {
			h.wokeAt = h.clock.Now()
		}
		for _, k := range keys {
			h.syncCronJob(k, h.clock.Now())
		}
	}
}

func (h *benchHarness) syncCronJob(name string, now time.Time) {
	c := h.cron[name]
	var owned []OwnedJob
	for _, jn := range c.owned {
		j := h.jobs[jn]
		owned = append(owned, ObserveJob(name, j.job))
	}
	r, err := SyncCronJob(CronJobInput{CronJob: c.cj, State: c.state, Jobs: owned, Now: now, LocalZone: time.UTC})
	if err != nil {
		panic(err)
	}
	for _, d := range r.Delete {
		delete(h.jobs, d.Name)
		c.owned = slices.DeleteFunc(c.owned, func(n string) bool { return n == d.Name })
	}
	for _, j := range r.Create {
		j.UID = types.UID(j.Name + "-uid")
		scheduled, _ := time.Parse(time.RFC3339, j.Annotations[ScheduledTimeAnnotation])
		h.jobs[j.Name] = &benchJob{job: j, scheduled: scheduled}
		c.owned = append(c.owned, j.Name)
		// The reconciler syncs a new Job straight away.
		h.syncJob(j.Name)
	}
	c.state = r.State
	h.queue.Set(name, r.WakeAt)
}

func (h *benchHarness) syncJob(name string) {
	j := h.jobs[name]
	r, err := SyncJob(JobInput{Job: j.job, Progress: j.progress, Pods: j.pods, Now: h.clock.Now()})
	if err != nil {
		panic(err)
	}
	for _, p := range r.Create {
		o := ObservePod(p)
		o.UID = types.UID(p.Name + "-uid")
		o.Phase = "Pending"
		j.pods = append(j.pods, o)
		h.pods++
	}
	j.job.Status = r.Status
	j.progress = r.Progress
	if len(r.Create) > 0 {
		h.runs <- h.clock.Since(j.scheduled)
	}
}

// waitRuns collects the lateness of the n runs due at `due`.
func (h *benchHarness) waitRuns(b *testing.B, due time.Time, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	deadline := time.After(time.Until(due) + time.Minute)
	for len(out) < n {
		select {
		case d := <-h.runs:
			out = append(out, d)
		case <-deadline:
			b.Fatalf("only %d of %d runs started within a minute of %v", len(out), n, due)
		}
	}
	for name, j := range h.jobs {
		if !j.scheduled.Equal(due) || !strings.HasPrefix(name, "tick-") {
			b.Fatalf("unexpected Job %s scheduled at %v", name, j.scheduled)
		}
	}
	return out
}
