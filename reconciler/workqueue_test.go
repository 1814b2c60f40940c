package reconciler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWorkQueue(t *testing.T) {
	type step struct {
		add   []string
		addAt map[string]time.Duration // from t0
		now   time.Duration            // due at t0+now
		done  bool                     // the pass succeeded: its keys leave
		want  []string
		next  time.Duration // -1: none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a key added twice is due once",
			steps: []step{
				{add: []string{"Deployment/default/web", "Deployment/default/web"}, done: true, want: []string{"Deployment/default/web"}, next: -1},
				{want: []string{}, next: -1},
			},
		},
		{
			name: "a failed pass keeps its keys",
			steps: []step{
				{add: []string{"Job/default/a"}, want: []string{"Job/default/a"}, next: -1},
				{add: []string{"Job/default/b"}, done: true, want: []string{"Job/default/a", "Job/default/b"}, next: -1},
				{want: []string{}, next: -1},
			},
		},
		{
			name: "a delayed key is due at its time, the earliest of several",
			steps: []step{
				{addAt: map[string]time.Duration{"CronJob/default/c": time.Minute}, done: true, want: []string{}, next: time.Minute},
				{addAt: map[string]time.Duration{"CronJob/default/c": 30 * time.Second}, now: 29 * time.Second, done: true, want: []string{}, next: 30 * time.Second},
				{now: 30 * time.Second, done: true, want: []string{"CronJob/default/c"}, next: -1},
				{addAt: map[string]time.Duration{"CronJob/default/c": 2 * time.Minute}, now: time.Minute, done: true, want: []string{}, next: 2 * time.Minute},
				{now: 2 * time.Minute, done: true, want: []string{"CronJob/default/c"}, next: -1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newWorkQueue()
			for i, s := range tt.steps {
				for _, k := range s.add {
					q.add(k)
				}
				for k, d := range s.addAt {
					q.addAt(k, t0.Add(d))
				}
				got := q.due(t0.Add(s.now))
				if !slices.Equal(got, s.want) {
					t.Errorf("step %d: due = %v, want %v", i, got, s.want)
				}
				if s.done {
					q.done(got)
				}
				var want time.Time
				if s.next >= 0 {
					want = t0.Add(s.next)
				}
				if n := q.next(); !n.Equal(want) {
					t.Errorf("step %d: next = %v, want %v", i, n, want)
				}
			}
		})
	}
}

func TestChangedSinceNamesTheOwners(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	pod := func(name, kind, owner string) *PodRecord {
		return newPodRecord("default", name, Owner{Kind: kind, Name: owner}, &metav1.ObjectMeta{}, &corev1.PodSpec{}, "h", "r1", t0)
	}
	update := func(fn func(Tx) error) []string {
		t.Helper()
		v := h.store.Version()
		if err := h.store.Update(fn); err != nil {
			t.Fatal(err)
		}
		keys, _, ok := h.store.ChangedSince(v)
		if !ok {
			t.Fatal("the log does not reach back one version")
		}
		sort.Strings(keys)
		return keys
	}
	tests := []struct {
		name string
		fn   func(Tx) error
		want []string
	}{
		{name: "pods name their owners", want: []string{"Deployment/default/web", "Pod/default/solo"}, fn: func(tx Tx) error {
			return errorsJoin(tx.PutPod(pod("web-1", OwnerDeployment, "web")), tx.PutPod(pod("web-2", OwnerDeployment, "web")), tx.PutPod(pod("solo", OwnerPod, "solo")))
		}},
		{name: "a deleted pod names its owner", want: []string{"Deployment/default/web"}, fn: func(tx Tx) error {
			return tx.DeletePod("default", "web-1")
		}},
		{name: "a Job made by a CronJob names both", want: []string{"CronJob/default/nightly", "Job/default/nightly-1"}, fn: func(tx Tx) error {
			jr := &JobRecord{CronJob: "nightly"}
			jr.Job.Namespace, jr.Job.Name = "default", "nightly-1"
			return tx.PutJob(jr)
		}},
		{name: "a node's readiness concerns every key", want: []string{fullKey}, fn: func(tx Tx) error {
			n, err := tx.Node("n1")
			if err != nil {
				return err
			}
			n.Ready = false
			return tx.PutNode(n)
		}},
		{name: "a record written back unchanged names nothing", want: nil, fn: func(tx Tx) error {
			p, err := tx.Pod("default", "solo")
			if err != nil {
				return err
			}
			if err := tx.PutPod(p); err != nil {
				return err
			}
			return tx.AddEvent(event(t0, "Normal", "Test", "Pod", "default", "solo", "an event is not work"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := update(tt.fn); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("a heartbeat alone is telemetry: no version, no key", func(t *testing.T) {
		v := h.store.Version()
		h.clock.Step(time.Second)
		h.heartbeat("n1")
		if keys, nv, ok := h.store.ChangedSince(v); !ok || nv != v || len(keys) != 0 {
			t.Errorf("ChangedSince after a heartbeat = %v, %d, %v; want nothing at %d", keys, nv, ok, v)
		}
	})
	t.Run("two Updates announced out of order", func(t *testing.T) {
		st := h.store
		st.mu.Lock()
		v := st.version
		st.appendLog(v+2, map[string]struct{}{"Job/default/b": {}}) // v+2 committed after v+1, announced first
		st.version = v + 2
		st.mu.Unlock()
		if keys, nv, ok := st.ChangedSince(v); !ok || nv != v || len(keys) != 0 {
			t.Errorf("with v+1 not announced yet: %v, %d, %v; want nothing up to %d", keys, nv, ok, v)
		}
		st.mu.Lock()
		st.appendLog(v+1, map[string]struct{}{"Job/default/a": {}})
		st.mu.Unlock()
		keys, nv, ok := st.ChangedSince(v)
		sort.Strings(keys)
		if !ok || nv != v+2 || !slices.Equal(keys, []string{"Job/default/a", "Job/default/b"}) {
			t.Errorf("once both are announced: %v, %d, %v; want both up to %d", keys, nv, ok, v+2)
		}
	})
	t.Run("a version the log does not reach is not ok", func(t *testing.T) {
		st, err := OpenBolt(h.path + ".2")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Update(func(tx Tx) error { return tx.PutPod(pod("a", OwnerPod, "a")) }); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st, err = OpenBolt(h.path + ".2") // the log starts at the version it opened at
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, _, ok := st.ChangedSince(0); ok {
			t.Error("ChangedSince(0) after a reopen is ok; the changes before it are not in the log")
		}
		if _, _, ok := st.ChangedSince(st.Version()); !ok {
			t.Error("ChangedSince(version) is not ok")
		}
	})
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// syncCountingStore records which Deployments a pass reads the record of:
// syncDeployments reads it once per Deployment it syncs.
type syncCountingStore struct {
	*BoltStore
	mu     sync.Mutex
	synced []string
}

type syncCountingTx struct {
	Tx
	s *syncCountingStore
}

func (t syncCountingTx) Deployment(ns, name string) (*DeploymentRecord, error) {
	t.s.mu.Lock()
	t.s.synced = append(t.s.synced, ns+"/"+name)
	t.s.mu.Unlock()
	return t.Tx.Deployment(ns, name)
}

func (s *syncCountingStore) Update(fn func(Tx) error) error {
	return s.BoltStore.Update(func(tx Tx) error { return fn(syncCountingTx{tx, s}) })
}

func (s *syncCountingStore) View(fn func(ReadTx) error) error {
	return s.BoltStore.View(func(tx ReadTx) error { return fn(syncCountingTx{tx.(Tx), s}) })
}

func (s *syncCountingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.synced
	s.synced = nil
	sort.Strings(out)
	return slices.Compact(out)
}

func twoDeployments(image string) string {
	var b strings.Builder
	for _, name := range []string{"a", "b"} {
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - {name: web, image: %q, resources: {requests: {cpu: 100m, memory: 64Mi}}}
---
`, name, name, name, image)
	}
	return b.String()
}

// TestPassSyncsOnlyWhatChanged: a status report for one Deployment's pod
// syncs that Deployment alone; a pass with nothing changed syncs none; the
// FullResync safety net syncs both.
func TestPassSyncsOnlyWhatChanged(t *testing.T) {
	h := newHarness(t)
	counting := &syncCountingStore{BoltStore: h.store}
	rec, err := New(Config{Store: counting, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), FullResync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, twoDeployments("web:v1")))
	h.converge("n1")
	counting.take()

	h.reconcile()
	if got := counting.take(); len(got) != 0 {
		t.Errorf("a pass with nothing changed synced %v", got)
	}
	var podOfA string
	for _, p := range h.pods() {
		if p.Owner.Name == "a" {
			podOfA = p.Pod.Name
		}
	}
	if err := h.store.Update(func(tx Tx) error {
		p, err := tx.Pod("default", podOfA)
		if err != nil {
			return err
		}
		p.Pod.Status.Conditions = nil // no longer ready
		return tx.PutPod(p)
	}); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if got := counting.take(); !slices.Equal(got, []string{"default/a"}) {
		t.Errorf("after a report for a pod of a, the pass synced %v, want [default/a]", got)
	}
	// What that pass wrote (a's status) is a's again; then nothing is due.
	h.reconcile()
	h.reconcile()
	if got := counting.take(); slices.Contains(got, "default/b") {
		t.Errorf("passes after a's sync synced %v; b did not change", got)
	}
	h.src.push("r2", decodeObjs(t, strings.Replace(twoDeployments("web:v1"), "replicas: 2\n  selector: {matchLabels: {app: b}}", "replicas: 3\n  selector: {matchLabels: {app: b}}", 1)))
	h.reconcile()
	// A new revision syncs every workload: each records the revision it
	// was reconciled at (rollout status waits for it), a's too.
	if got := counting.take(); !slices.Equal(got, []string{"default/a", "default/b"}) {
		t.Errorf("after a revision that scales b, the pass synced %v, want both", got)
	}
	h.clock.Step(time.Hour)
	h.heartbeat("n1")
	h.reconcile()
	if got := counting.take(); !slices.Equal(got, []string{"default/a", "default/b"}) {
		t.Errorf("a pass FullResync after the last full one synced %v, want both", got)
	}
}

// records is every record a workload pass can write, as stored (events,
// whose counts a repeated pass raises, left out).
func (h *harness) records() string {
	h.t.Helper()
	var b bytes.Buffer
	err := h.store.View(func(tx ReadTx) error {
		enc := json.NewEncoder(&b)
		for _, list := range []func() (any, error){
			func() (any, error) { return tx.Pods() },
			func() (any, error) { return tx.Nodes() },
			func() (any, error) { return tx.Deployments() },
			func() (any, error) { return tx.Jobs() },
			func() (any, error) { return tx.CronJobs() },
			func() (any, error) { return tx.DaemonSets() },
		} {
			v, err := list()
			if err != nil {
				return err
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return b.String()
}

// propertyRevision is a random revision over a few names of each kind.
func propertyRevision(r *rand.Rand) string {
	var b strings.Builder
	for i := range 3 {
		if r.IntN(4) == 0 {
			continue
		}
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: d%d}
spec:
  replicas: %d
  minReadySeconds: %d
  progressDeadlineSeconds: %d
  strategy: {rollingUpdate: {maxSurge: %d, maxUnavailable: %d}}
  selector: {matchLabels: {app: d%d}}
  template:
    metadata: {labels: {app: d%d}}
    spec:
      containers:
      - {name: web, image: "web:v%d", resources: {requests: {cpu: 100m, memory: 64Mi}}}
---
`, i, r.IntN(4), r.IntN(2)*20, 30+r.IntN(60), r.IntN(2), 1+r.IntN(2), i, i, r.IntN(2))
	}
	for i := range 2 {
		if r.IntN(3) == 0 {
			continue
		}
		fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata: {name: p%d}
spec:
  containers:
  - {name: app, image: "busybox:%d", resources: {requests: {cpu: 100m, memory: 64Mi}}}
---
`, i, r.IntN(2))
	}
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, `apiVersion: batch/v1
kind: Job
metadata: {name: j0}
spec:
  completions: %d
  parallelism: 2
  backoffLimit: 1
  activeDeadlineSeconds: %d
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: "busybox:%d", resources: {requests: {cpu: 100m, memory: 64Mi}}}
---
`, 1+r.IntN(3), 30+r.IntN(60), r.IntN(2))
	}
	if r.IntN(2) == 0 {
		b.WriteString(cronJobYAML("c0", []string{"* * * * *", "*/2 * * * *"}[r.IntN(2)]))
		b.WriteString("---\n")
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds0}
spec:
  minReadySeconds: %d
  selector: {matchLabels: {app: ds0}}
  template:
    metadata: {labels: {app: ds0}}
    spec:
      containers:
      - {name: agent, image: "agent:v%d", resources: {requests: {cpu: 10m, memory: 16Mi}}}
---
`, r.IntN(2)*20, r.IntN(2))
	}
	return b.String()
}

// TestPerKeyPassesReachWhatAFullPassWould is the work queue's property:
// after any sequence of changes (revisions, agents' reports, pods failing
// or gone, nodes lost and back, time passing), passes that sync only the
// keys due leave the store where a pass over every key leaves it. Each
// round runs per-key passes until the store stops changing, then one
// full pass, which must change no record.
func TestPerKeyPassesReachWhatAFullPassWould(t *testing.T) {
	for seed := range uint64(16) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			h := newHarness(t)
			// No Resync within the run: every pass but the first is per key.
			rec, err := New(Config{Store: h.store, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), FullResync: 1000 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			h.rec = rec
			nodes := []string{"n1", "n2"}
			for _, n := range nodes {
				h.addNode(n, "8", "8Gi")
			}
			rev := 0
			var log []string
			for round := range 25 {
				switch op := r.IntN(8); op {
				case 0:
					rev++
					h.src.push(fmt.Sprint("r", rev), decodeObjs(t, propertyRevision(r)))
					log = append(log, "revision")
				case 1:
					h.agents(nodes[:1+r.IntN(len(nodes))]...)
					log = append(log, "agents report")
				case 2:
					h.failPod(r)
					log = append(log, "a pod fails")
				case 3:
					h.clock.Step(time.Duration(r.IntN(90)) * time.Second)
					h.heartbeat(nodes...)
					log = append(log, "time passes")
				case 4:
					// n2 stops for longer than the node timeout, then returns.
					h.clock.Step(41 * time.Second)
					h.heartbeat("n1")
					log = append(log, "n2 lost")
				case 5:
					h.heartbeat(nodes...)
					log = append(log, "heartbeats")
				case 7:
					// Long enough for deadlines (a Job's activeDeadlineSeconds,
					// a rollout's progress deadline) with no report between.
					h.clock.Step(time.Duration(60+r.IntN(120)) * time.Second)
					h.heartbeat(nodes...)
					log = append(log, "minutes pass")
				case 6:
					h.agents(nodes...)
					h.clock.Step(time.Second)
					h.heartbeat(nodes...)
					log = append(log, "agents report, a second passes")
				}
				for range 20 {
					before := h.store.Version()
					h.reconcile()
					if h.store.Version() == before {
						break
					}
				}
				want := h.records()
				h.rec.queue.add(fullKey)
				h.reconcile()
				if got := h.records(); got != want {
					t.Fatalf("round %d (%s): a full pass changed what per-key passes left:\n%s", round, strings.Join(log, ", "), recordDiff(want, got))
				}
			}
		})
	}
}

// failPod marks a random running pod failed, as its agent would.
func (h *harness) failPod(r *rand.Rand) {
	h.t.Helper()
	err := h.store.Update(func(tx Tx) error {
		pods, err := tx.Pods()
		if err != nil || len(pods) == 0 {
			return err
		}
		p := pods[r.IntN(len(pods))]
		if !p.bound() || p.deleting() || p.finished() {
			return nil
		}
		p.Pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Error"}
		return tx.PutPod(p)
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// recordDiff names the first line where two records dumps differ.
func recordDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(w), len(g)) {
		if w[i] != g[i] {
			return fmt.Sprintf("per-key: %.1500s\nfull:    %.1500s", w[i], g[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(w), len(g))
}

// TestDeadlinesWakeTheirKey: a deadline a controller asks for (a Job's
// activeDeadlineSeconds, a CronJob's next schedule) makes its key due at
// that time, with nothing else changing.
func TestDeadlinesWakeTheirKey(t *testing.T) {
	h := newHarness(t)
	rec, err := New(Config{Store: h.store, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), FullResync: 1000 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, `apiVersion: batch/v1
kind: Job
metadata: {name: slow}
spec:
  activeDeadlineSeconds: 20
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1"}]
---
`+cronJobYAML("tick", "* * * * *")))
	for range 5 {
		h.reconcile()
	}
	jobs := func() map[string]*JobRecord {
		out := map[string]*JobRecord{}
		if err := h.store.View(func(tx ReadTx) error {
			l, err := tx.Jobs()
			for _, j := range l {
				out[j.Job.Name] = j
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if n := len(jobs()); n != 1 {
		t.Fatalf("%d jobs before the first schedule, want the Job alone", n)
	}
	h.clock.Step(25 * time.Second) // within the node timeout: no node changes
	h.heartbeat("n1")
	h.reconcile()
	var reason string
	for _, c := range jobs()["slow"].Job.Status.Conditions {
		reason = c.Reason
	}
	if reason != "DeadlineExceeded" {
		t.Errorf("Job past its activeDeadlineSeconds: condition %q, want DeadlineExceeded", reason)
	}
	h.clock.Step(36 * time.Second) // past the minute
	h.heartbeat("n1")
	h.reconcile()
	if n := len(jobs()); n != 2 {
		t.Errorf("%d jobs after the CronJob's schedule, want 2", n)
	}
}
