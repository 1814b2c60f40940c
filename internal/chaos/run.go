package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/jobs"
)

// Options configure a run.
type Options struct {
	// Duration is how long faults are injected; the final checks come
	// after it.
	Duration time.Duration
	// Seed picks the schedule of changes and faults; the same seed gives
	// the same schedule.
	Seed int64
	// ConvergeBound is how long the cluster may take to converge after a
	// fault before that counts as a violation.
	ConvergeBound time.Duration
	// Faults restricts the fault types (empty: all).
	Faults []string
	// OverlapBound, when set, makes a pod name running on two nodes at
	// once for longer than it a violation (the fencing bound); zero only
	// reports the longest overlap.
	OverlapBound time.Duration
}

// Run is one chaos run: the driver's desired state, the nemesis'
// schedule and what the checker found.
type Run struct {
	t   testing.TB
	c   *Cluster
	o   Options
	rng *rand.Rand
	ctx context.Context

	desired Desired
	good    string          // SHA of the last admitted commit
	refused map[string]bool // SHAs of commits berth must never apply
	nextJob int

	converge map[string][]time.Duration
	// convergeDB is when the db StatefulSet was as desired, by fault or
	// change type; dbAt is when it first was during the current measure.
	convergeDB map[string][]time.Duration
	dbAt       time.Time
	sts        *stsChecker
	injected   map[string]int
	mu         sync.Mutex // violations: the overlap sampler adds to them too
	violations []string
	leaks      []string
	cronRuns   map[string]string // scheduled time → Job UID
	overlap    *overlaps
	tasks      *taskEvents
	metrics    *metricsAcc
	baseline   map[string]map[string]int
}

// NewRun prepares a run on a started cluster.
func NewRun(t testing.TB, c *Cluster, o Options) *Run {
	if o.ConvergeBound == 0 {
		o.ConvergeBound = 90 * time.Second
	}
	r := &Run{
		t: t, c: c, o: o, rng: rand.New(rand.NewSource(o.Seed)), ctx: context.Background(),
		refused: map[string]bool{}, converge: map[string][]time.Duration{}, convergeDB: map[string][]time.Duration{},
		injected: map[string]int{}, cronRuns: map[string]string{}, metrics: newMetricsAcc(),
	}
	r.sts = newSTSChecker(c, r.violate)
	return r
}

func (r *Run) logf(format string, args ...any) {
	r.t.Logf("%s chaos: %s", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (r *Run) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.violations = append(r.violations, msg)
	r.mu.Unlock()
	r.logf("VIOLATION: %s", msg)
}

// Execute runs the whole schedule, then the final checks, and returns the
// report.
func (r *Run) Execute() *Report {
	r.logf("seed %d (replay: -chaos.seed=%d), duration %v", r.o.Seed, r.o.Seed, r.o.Duration)
	r.baseline = r.c.auditLeaks()
	r.desired = Desired{Replicas: 3, Tag: imageTagA, DBReplicas: dbMaxReplicas, DBTag: imageTagA, Cron: true, Service: true}
	r.overlap = r.c.watchOverlaps(300*time.Millisecond, r.sts.sample)
	r.tasks = r.c.watchTaskEvents()
	r.commit("the web Deployment, its Service, a CronJob every minute and the db StatefulSet")
	r.measure("initial", time.Now())

	types := r.faultTypes()
	deadline := time.Now().Add(r.o.Duration)
	// Every type once per round, in a seeded order; the run goes on past
	// the deadline until its first round is complete, so a short run still
	// meets each fault.
	var order []string
	rounds := 0
	for time.Now().Before(deadline) || rounds == 0 {
		r.driverStep()
		if len(order) == 0 {
			order = append([]string(nil), types...)
			r.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		r.inject(order[0])
		if order = order[1:]; len(order) == 0 {
			rounds++
		}
	}
	r.finalChecks()
	r.overlap.done()
	r.tasks.done()
	for _, o := range []struct {
		how string
		o   *overlaps
	}{{"sampled", r.overlap}, {"from containerd's task events", r.tasks.o}} {
		r.checkDBOverlaps(o.how, o.o)
		if _, longest, which := o.o.summary(); r.o.OverlapBound > 0 && longest > r.o.OverlapBound {
			r.violate("pod %s ran on two nodes at once for %v (%s), more than the bound %v", which, longest.Round(10*time.Millisecond), o.how, r.o.OverlapBound)
		}
	}
	return r.report()
}

func (r *Run) faultTypes() []string {
	if len(r.o.Faults) > 0 {
		return r.o.Faults
	}
	names := make([]string, 0, len(faults))
	for n := range faults {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// commit writes the desired state, pushes, hooks and waits until it is
// admitted.
func (r *Run) commit(msg string) string {
	r.t.Helper()
	sha := r.c.repo.Commit(msg, r.desired.files(r.c.image))
	r.c.repo.Push()
	if err := r.c.Hook(); err != nil {
		r.logf("webhook: %v (the poll will find it)", err)
	}
	r.logf("commit %s: %s", sha[:8], msg)
	r.good = sha
	return sha
}

// driverStep makes one change, chosen by the seed.
func (r *Run) driverStep() {
	start := time.Now()
	switch k := r.rng.Intn(8); k {
	case 0, 1:
		r.desired.Replicas = 1 + r.rng.Intn(5)
		r.commit(fmt.Sprintf("web: %d replicas", r.desired.Replicas))
		r.measure("change:scale", start)
	case 2:
		r.desired.Tag = otherTag(r.desired.Tag)
		r.commit("web: image " + r.desired.Tag)
		r.measure("change:image", start)
	case 3:
		r.nextJob++
		r.desired.Jobs = append(r.desired.Jobs, fmt.Sprintf("job-%d", r.nextJob))
		r.commit("a Job of 3 completions")
		r.measure("change:job", start)
	case 4:
		files := map[string]string{"apps/web.yaml": webYAML(r.c.image, r.desired.Replicas+1, r.desired.Tag, "comand")}
		r.refusedCommit("a typo (comand)", files, start)
	case 5:
		// 70 pods of 50m need 3.5 CPUs; the nodes offer 3.
		files := map[string]string{"apps/web.yaml": webYAML(r.c.image, 70, r.desired.Tag, "command")}
		r.refusedCommit("web: 70 replicas (does not fit)", files, start)
	case 6:
		r.desired.DBReplicas = 1 + (r.desired.DBReplicas+r.rng.Intn(dbMaxReplicas-1))%dbMaxReplicas
		r.commit(fmt.Sprintf("db: %d replicas", r.desired.DBReplicas))
		r.measure("change:db-scale", start)
	case 7:
		r.desired.DBTag = otherTag(r.desired.DBTag)
		r.commit("db: image " + r.desired.DBTag)
		r.measure("change:db-image", start)
	}
}

// refusedCommit pushes a commit berth must refuse, checks it is refused
// and that nothing of it runs, then puts the good state back.
func (r *Run) refusedCommit(msg string, files map[string]string, start time.Time) {
	sha := r.c.repo.Commit(msg, files)
	r.c.repo.Push()
	r.refused[sha] = true
	_ = r.c.Hook()
	r.logf("commit %s (must be refused): %s", sha[:8], msg)
	err := Poll(time.Minute, func() error {
		st, err := r.c.admin.Status(r.ctx)
		if err != nil {
			return err
		}
		if st.Rejected == nil || st.Rejected.SHA != sha {
			return fmt.Errorf("state %s, applied %+v, rejected %+v", st.State, st.Applied, st.Rejected)
		}
		return nil
	})
	if err != nil {
		r.violate("commit %s (%s) not refused: %v", sha[:8], msg, err)
	}
	// Give a wrongly applied revision the time to show, then look at what
	// runs.
	time.Sleep(3 * time.Second)
	if err := r.converged(); err != nil {
		r.violate("after the refused commit %s (%s), the cluster left the last good state: %v", sha[:8], msg, err)
	}
	r.commit("back to the good state after " + sha[:8])
	r.measure("change:refused", start)
}

// slowConvergence is the convergence time past which the run logs what
// it last waited on.
const slowConvergence = 10 * time.Second

// measure waits until the cluster runs exactly the desired pods and the
// last good commit is applied, and records how long that took from since
// under kind.
func (r *Run) measure(kind string, since time.Time) {
	r.dbAt = time.Time{}
	var waitedOn error // the last reason the cluster was not converged
	err := Poll(r.o.ConvergeBound, func() error {
		err := r.converged()
		if err != nil {
			waitedOn = err
		}
		return err
	})
	d := time.Since(since)
	if err == nil && d > slowConvergence {
		r.logf("%s: slow to converge; last waited on: %v", kind, waitedOn)
	}
	if err != nil {
		r.violate("%s: no convergence: %v", kind, err)
		return
	}
	r.converge[kind] = append(r.converge[kind], d)
	r.convergeDB[kind] = append(r.convergeDB[kind], r.dbAt.Sub(since))
	r.logf("%s: converged in %v (db in %v)", kind, d.Round(time.Millisecond), r.dbAt.Sub(since).Round(time.Millisecond))
	r.scrapeMetrics()
}

// converged compares what runs with what the driver wants: the last good
// commit is applied (and no refused one ever is); exactly Replicas web
// pods run, each once, on the desired image; every Job pod has a sandbox
// on one node only; the db StatefulSet runs as stsChecker.converged says
// (the first time it does is r.dbAt).
func (r *Run) converged() error {
	st, err := r.c.admin.Status(r.ctx)
	if err != nil {
		return err
	}
	if st.Applied != nil && r.refused[st.Applied.SHA] {
		r.violate("refused revision %s is applied", st.Applied.SHA[:8])
	}
	if st.Applied == nil || st.Applied.SHA != r.good {
		return fmt.Errorf("applied %v, want %s (state %s)", st.Applied, r.good[:8], st.State)
	}
	if err := r.c.nodesReady(len(r.c.nodes)); err != nil {
		return err
	}
	cs, err := r.c.Observe(r.ctx)
	if err != nil {
		return err
	}
	dbErr := r.sts.converged(cs, r.desired.DBReplicas, r.desired.DBTag, r.dbClaims())
	if dbErr == nil && r.dbAt.IsZero() {
		r.dbAt = time.Now()
	}
	var web []string
	where := map[string]string{}
	for _, cp := range cs {
		if prev, dup := where[cp.Name]; dup {
			return fmt.Errorf("pod %s on %s and %s", cp.Name, prev, cp.Node)
		}
		where[cp.Name] = cp.Node
		if !isWeb(cp.Name) {
			continue
		}
		if !cp.Running {
			return fmt.Errorf("web pod %s on %s not running", cp.Name, cp.Node)
		}
		if tagOf(cp.Image) != r.desired.Tag {
			return fmt.Errorf("web pod %s runs %s, want tag %s", cp.Name, cp.Image, r.desired.Tag)
		}
		web = append(web, cp.Name+"@"+cp.Node)
	}
	if len(web) != r.desired.Replicas {
		return fmt.Errorf("%d web pods run (%s), want %d", len(web), strings.Join(web, " "), r.desired.Replicas)
	}
	if dbErr != nil {
		return fmt.Errorf("db: %w", dbErr)
	}
	r.watchCron()
	return nil
}

// watchCron records each CronJob run's scheduled time and Job UID; a
// scheduled time that yields a second Job is a violation.
func (r *Run) watchCron() {
	l, err := r.c.admin.Jobs(r.ctx, "default")
	if err != nil {
		return
	}
	for _, j := range l.Items {
		if j.Labels[jobs.CronJobNameLabel] != "tick" && !strings.HasPrefix(j.Name, "tick-") {
			continue
		}
		at := j.Annotations[jobs.ScheduledTimeAnnotation]
		if at == "" {
			at = "name:" + j.Name
		}
		if prev, ok := r.cronRuns[at]; ok && prev != string(j.UID) {
			r.violate("CronJob tick: scheduled time %s yields two Jobs (%s and %s)", at, prev, j.UID)
		}
		r.cronRuns[at] = string(j.UID)
	}
}

// finalChecks waits for every Job, counts their pods, removes every
// workload through Git and audits the nodes for leaks.
func (r *Run) finalChecks() {
	r.logf("final checks")
	for _, name := range r.desired.Jobs {
		r.checkJob(name)
	}
	r.checkFinalOrdinals()
	cj, err := r.c.admin.Jobs(r.ctx, "default")
	if err == nil {
		for _, j := range cj.Items {
			if strings.HasPrefix(j.Name, "tick-") {
				r.checkJob(j.Name)
			}
		}
	}
	r.watchCron()
	r.scrapeMetrics()

	r.desired = Desired{}
	files := map[string]string{"apps/web.yaml": "", "apps/web-svc.yaml": "", "batch/tick.yaml": "", dbFile: ""}
	for i := 1; i <= r.nextJob; i++ {
		files[fmt.Sprintf("batch/job-%d.yaml", i)] = ""
	}
	r.good = r.c.repo.Commit("remove everything", files)
	r.c.repo.Push()
	_ = r.c.Hook()
	err = Poll(2*time.Minute, func() error {
		cs, err := r.c.Observe(r.ctx)
		if err != nil {
			return err
		}
		if len(cs) > 0 {
			return fmt.Errorf("%d pods still on the nodes", len(cs))
		}
		return nil
	})
	if err != nil {
		r.violate("removing everything: %v", err)
	}
	// The agents' garbage collection runs every 10 s: give it a few
	// rounds to get back to the counts taken before any workload ran.
	var leaks []string
	_ = Poll(35*time.Second, func() error {
		leaks = nil
		for node, counts := range r.c.auditLeaks() {
			for what, n := range counts {
				if b := r.baseline[node][what]; n > b {
					leaks = append(leaks, fmt.Sprintf("%s: %s %d (at the start %d)", node, what, n, b))
				}
			}
		}
		if len(leaks) > 0 {
			return fmt.Errorf("%d leaks", len(leaks))
		}
		return nil
	})
	sort.Strings(leaks)
	r.leaks = append(r.leaks, leaks...)
	r.checkStoreEmpty()
	for _, l := range r.leaks {
		r.logf("LEAK: %s", l)
	}
}

func (r *Run) checkJob(name string) {
	var j *batchv1.Job
	err := Poll(3*time.Minute, func() error {
		var err error
		if j, err = r.c.admin.Job(r.ctx, "default", name); err != nil {
			return err
		}
		for _, c := range j.Status.Conditions {
			if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
				return nil
			}
		}
		return fmt.Errorf("job %s: status %+v", name, j.Status)
	})
	if err != nil {
		r.violate("job %s never finished: %v", name, err)
		return
	}
	want := int32(1)
	if j.Spec.Completions != nil {
		want = *j.Spec.Completions
	}
	pods, err := r.c.admin.Pods(r.ctx, "default")
	if err != nil {
		r.violate("job %s: list pods: %v", name, err)
		return
	}
	succeeded := map[string]bool{}
	for _, p := range pods.Items {
		if p.Labels[batchv1.JobNameLabel] == name && p.Status.Phase == corev1.PodSucceeded {
			succeeded[p.Name] = true
		}
	}
	if j.Status.Succeeded != want || int32(len(succeeded)) != want {
		r.violate("job %s: status.succeeded %d, %d succeeded pods, want exactly %d", name, j.Status.Succeeded, len(succeeded), want)
	}
}

// checkStoreEmpty: once everything is removed from Git and torn down, the
// store keeps no record of it (a pod's record goes once its node reports
// it gone).
func (r *Run) checkStoreEmpty() {
	var left []string
	_ = Poll(30*time.Second, func() error {
		left = r.storeRecords()
		if len(left) > 0 {
			return fmt.Errorf("%d records", len(left))
		}
		return nil
	})
	for _, l := range left {
		r.leaks = append(r.leaks, "store: "+l+" after its removal from Git")
	}
}

func (r *Run) storeRecords() []string {
	var left []string
	if l, err := r.c.admin.Pods(r.ctx, ""); err == nil {
		for _, p := range l.Items {
			left = append(left, "pod "+p.Name)
		}
	} else {
		left = append(left, "pods: "+err.Error())
	}
	if l, err := r.c.admin.Deployments(r.ctx, ""); err == nil {
		for _, d := range l.Items {
			left = append(left, "deployment "+d.Name)
		}
	}
	if l, err := r.c.admin.Jobs(r.ctx, ""); err == nil {
		for _, d := range l.Items {
			left = append(left, "job "+d.Name)
		}
	}
	if l, err := r.c.admin.CronJobs(r.ctx, ""); err == nil {
		for _, d := range l.Items {
			left = append(left, "cronjob "+d.Name)
		}
	}
	if l, err := r.c.admin.StatefulSets(r.ctx, ""); err == nil {
		for _, d := range l.Items {
			left = append(left, "statefulset "+d.Name)
		}
	}
	if l, err := r.c.admin.PersistentVolumeClaims(r.ctx, ""); err == nil {
		for _, d := range l.Items {
			left = append(left, "claim "+d.Name)
		}
	}
	if l, err := r.c.admin.Services(r.ctx, "default"); err == nil {
		for _, d := range l.Items {
			if d.Name != "kubernetes" {
				left = append(left, "service "+d.Name)
			}
		}
	}
	return left
}
