package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/scheduler"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type fakeSource struct {
	cur     *Desired
	updated chan struct{}
}

func (s *fakeSource) Current() *Desired        { return s.cur }
func (s *fakeSource) Updated() <-chan struct{} { return s.updated }
func (s *fakeSource) Info() api.SyncStatus     { return api.SyncStatus{Repository: "test"} }
func (s *fakeSource) push(rev string, objs []manifest.Object) {
	s.cur = &Desired{Revision: rev, Subject: "commit " + rev, Objects: objs}
}

// harness is a reconciler on a real bbolt store with a fake clock, and a
// simulated agent per node that runs whatever is bound to it.
type harness struct {
	t     testing.TB
	store *BoltStore
	clock *clocktesting.FakeClock
	src   *fakeSource
	rec   *Reconciler
	path  string
	// configs, when set before restart, is the reconciler's ConfigFeed.
	configs *ConfigFeed
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, store: st, clock: clocktesting.NewFakeClock(t0), src: &fakeSource{updated: make(chan struct{}, 1)}, path: path}
	h.restart()
	return h
}

// restart makes a new Reconciler on the same store, as a server restart.
func (h *harness) restart() {
	rec, err := New(Config{Store: h.store, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), Configs: h.configs})
	if err != nil {
		h.t.Fatal(err)
	}
	h.rec = rec
}

func (h *harness) addNode(name, cpu, mem string) {
	h.t.Helper()
	err := h.store.Update(func(tx Tx) error {
		return tx.PutNode(&NodeRecord{
			Name:          name,
			Labels:        map[string]string{"kubernetes.io/hostname": name},
			Allocatable:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")},
			Ready:         true,
			LastHeartbeat: h.clock.Now(),
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) heartbeat(names ...string) {
	h.t.Helper()
	err := h.store.Update(func(tx Tx) error {
		for _, name := range names {
			n, err := tx.Node(name)
			if err != nil {
				return err
			}
			n.LastHeartbeat = h.clock.Now()
			if err := tx.PutNode(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// agents acts for the agents of the given nodes: bound pods run and are
// ready (job pods succeed), pods being deleted are reported gone.
func (h *harness) agents(nodes ...string) {
	h.t.Helper()
	on := map[string]bool{}
	for _, n := range nodes {
		on[n] = true
	}
	now := metav1.NewTime(h.clock.Now())
	err := h.store.Update(func(tx Tx) error {
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			if !p.bound() || !on[p.Pod.Spec.NodeName] {
				continue
			}
			if p.deleting() {
				if err := tx.DeletePod(p.Pod.Namespace, p.Pod.Name); err != nil {
					return err
				}
				continue
			}
			if p.finished() || p.Pod.Status.Phase == corev1.PodRunning {
				continue
			}
			if p.Owner.Kind == OwnerJob {
				p.Pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: p.Pod.Spec.Containers[0].Name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, FinishedAt: now}}}}}
			} else {
				p.Pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
			}
			if err := tx.PutPod(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) reconcile() {
	h.t.Helper()
	if _, err := h.rec.ReconcileOnce(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// converge alternates reconcile passes and agent reports until nothing
// changes, advancing the clock a second per round.
func (h *harness) converge(nodes ...string) {
	h.t.Helper()
	for i := 0; i < 60; i++ {
		before := h.store.Version()
		h.reconcile()
		h.agents(nodes...)
		h.clock.Step(time.Second)
		h.heartbeat(nodes...)
		h.reconcile()
		if h.store.Version() == before { // only the heartbeat wrote, and it is telemetry
			return
		}
	}
	h.t.Fatal("did not converge in 60 rounds")
}

func (h *harness) pods() []*PodRecord {
	h.t.Helper()
	var out []*PodRecord
	if err := h.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Pods()
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) sync() api.SyncStatus {
	h.t.Helper()
	var s *SyncRecord
	if err := h.store.View(func(tx ReadTx) error {
		var err error
		s, err = tx.Sync()
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return s.Status
}

func decodeObjs(t *testing.T, yaml string) []manifest.Object {
	t.Helper()
	objs, errs := manifest.DecodeFile("test.yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return objs
}

func podYAML(name, mem string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - {name: app, image: "busybox:1", resources: {requests: {cpu: 100m, memory: %s}}}
---
`, name, mem)
}

func deployYAML(replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: %q, resources: {requests: {cpu: 100m, memory: 256Mi}}}
---
`, replicas, image)
}

const jobYAML = `apiVersion: batch/v1
kind: Job
metadata: {name: crunch}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      containers:
      - {name: c, image: "busybox:1", resources: {requests: {cpu: 100m, memory: 64Mi}}}
---
`

func countBy(pods []*PodRecord, pred func(*PodRecord) bool) int {
	n := 0
	for _, p := range pods {
		if pred(p) {
			n++
		}
	}
	return n
}

func TestGitToBoundPods(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.addNode("n2", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, podYAML("solo", "128Mi")+deployYAML(3, "web:1")+jobYAML))
	h.converge("n1", "n2")

	pods := h.pods()
	running := countBy(pods, func(p *PodRecord) bool { return p.Pod.Status.Phase == corev1.PodRunning })
	if running != 4 {
		t.Fatalf("want 4 running pods (solo + 3 web), got %d", running)
	}
	succeeded := countBy(pods, func(p *PodRecord) bool { return p.Owner.Kind == OwnerJob && p.Pod.Status.Phase == corev1.PodSucceeded })
	if succeeded != 3 {
		t.Fatalf("want exactly 3 succeeded job pods, got %d", succeeded)
	}
	var jr *JobRecord
	_ = h.store.View(func(tx ReadTx) error { jr, _ = tx.Job("default", "crunch"); return nil })
	if jr == nil || jr.Job.Status.Succeeded != 3 || !jobFinished(jr) {
		t.Fatalf("job status %+v", jr)
	}
	if st := h.sync(); st.State != "Synced" || st.Applied == nil || st.Applied.SHA != "r1" {
		t.Fatalf("sync status %+v", st)
	}
	// Idempotent: a pass with nothing new writes nothing.
	v := h.store.Version()
	h.reconcile()
	h.reconcile()
	if h.store.Version() != v {
		t.Fatalf("idle passes wrote %d times", h.store.Version()-v)
	}
}

func TestRolloutReplacesEveryPod(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(3, "web:1")))
	h.converge("n1")
	h.src.push("r2", decodeObjs(t, deployYAML(3, "web:2")))
	h.converge("n1")
	pods := h.pods()
	if len(pods) != 3 {
		t.Fatalf("want 3 pods, got %d", len(pods))
	}
	for _, p := range pods {
		if p.Pod.Spec.Containers[0].Image != "web:2" || p.Pod.Annotations[api.AnnotationRevision] != "r2" {
			t.Fatalf("pod %s runs %s from %s", p.Pod.Name, p.Pod.Spec.Containers[0].Image, p.Pod.Annotations[api.AnnotationRevision])
		}
	}
}

func TestRevisionThatDoesNotFitIsRefusedWhole(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "1Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(2, "web:1")))
	h.converge("n1")
	before := h.pods()

	// 10 replicas of 256Mi on a 1Gi node, plus a new pod: nothing applies.
	h.src.push("r2", decodeObjs(t, deployYAML(10, "web:1")+podYAML("extra", "64Mi")))
	h.converge("n1")
	after := h.pods()
	if len(after) != len(before) {
		t.Fatalf("refused revision changed the pods: %d -> %d", len(before), len(after))
	}
	for i := range after {
		if after[i].Pod.UID != before[i].Pod.UID {
			t.Fatal("refused revision replaced a pod")
		}
	}
	st := h.sync()
	if st.State != "Rejected" || st.Applied.SHA != "r1" || st.Rejected == nil || st.Rejected.SHA != "r2" {
		t.Fatalf("status %+v", st)
	}
	// The replicas that do not fit are one line for the Deployment, with
	// the scheduler's reason and the shortfall.
	grouped := false
	for _, u := range st.Rejected.Unplaceable {
		if !strings.Contains(u.Message, "Insufficient memory") || u.Shortfall == "" {
			t.Fatalf("unplaceable %+v", u)
		}
		grouped = grouped || (u.Count > 1 && strings.HasSuffix(u.Name, "pods of deployment web"))
	}
	if !grouped {
		t.Fatalf("want one grouped line for deployment web, got %+v", st.Rejected.Unplaceable)
	}

	// A commit that fits applies.
	h.src.push("r3", decodeObjs(t, deployYAML(3, "web:1")+podYAML("extra", "64Mi")))
	h.converge("n1")
	if n := len(h.pods()); n != 4 {
		t.Fatalf("want 4 pods after r3, got %d", n)
	}
	if st := h.sync(); st.State != "Synced" || st.Applied.SHA != "r3" {
		t.Fatalf("status %+v", st)
	}
}

func TestPruneAndReplace(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")+podYAML("b", "64Mi")))
	h.converge("n1")
	uidA := ""
	for _, p := range h.pods() {
		if p.Pod.Name == "a" {
			uidA = string(p.Pod.UID)
		}
	}
	// b is deleted from Git, a changes.
	h.src.push("r2", decodeObjs(t, podYAML("a", "96Mi")))
	h.converge("n1")
	pods := h.pods()
	if len(pods) != 1 || pods[0].Pod.Name != "a" || string(pods[0].Pod.UID) == uidA {
		t.Fatalf("want only a new pod a, got %d pods", len(pods))
	}
}

func TestNodeLostMovesPods(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.addNode("n2", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(4, "web:1")+podYAML("solo", "64Mi")))
	h.converge("n1", "n2")
	onN2 := func() int {
		n := 0
		for _, p := range h.pods() {
			if p.Pod.Spec.NodeName == "n2" {
				n++
			}
		}
		return n
	}
	held := onN2()
	var last time.Time
	if err := h.store.View(func(tx ReadTx) error {
		n, err := tx.Node("n2")
		if err == nil {
			last = n.LastHeartbeat
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	moveAt := last.Add(50 * time.Second)
	// n2 stops heartbeating; n1 continues. n2's pods stay bound to it
	// for the node timeout (40s) and the fencing grace (10s), while its
	// agent, if alive behind a partition, stops them; the loop asks to
	// run again when they move.
	for i := 1; i <= 55; i++ {
		h.clock.Step(time.Second)
		h.heartbeat("n1")
		wake, err := h.rec.ReconcileOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h.agents("n1")
		if now := h.clock.Now(); now.Before(moveAt) && (wake.IsZero() || wake.After(moveAt)) {
			t.Fatalf("%ds after n2's last heartbeat: the loop wakes at %v, after its pods move at %v", i, wake, moveAt)
		}
		if got := onN2(); h.clock.Now().Before(moveAt) && got != held {
			t.Fatalf("%ds after n2's last heartbeat: %d pods on n2, want all %d still there until %v", i, got, held, moveAt)
		}
	}
	h.converge("n1")
	for _, p := range h.pods() {
		if p.Pod.Spec.NodeName != "n1" {
			t.Fatalf("pod %s still on %s", p.Pod.Name, p.Pod.Spec.NodeName)
		}
	}
	if n := len(h.pods()); n != 5 {
		t.Fatalf("want 5 pods, got %d", n)
	}
}

func TestRestartResumesWithoutDuplicates(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(3, "web:1")+podYAML("solo", "64Mi")+jobYAML))
	// One pass creates records; a crash (new reconciler) and passes again.
	h.reconcile()
	h.restart()
	h.reconcile()
	h.restart()
	h.converge("n1")
	names := map[string]int{}
	for _, p := range h.pods() {
		names[p.Owner.Kind+"/"+p.Owner.Name]++
	}
	if names["Deployment/web"] != 3 || names["Pod/solo"] != 1 || names["Job/crunch"] != 3 {
		t.Fatalf("pods by owner: %v", names)
	}
	if h.rec.Applied() != "r1" {
		t.Fatalf("applied %q after restart", h.rec.Applied())
	}
}

// cronJobYAML is a CronJob running `date` on schedule (in UTC).
func cronJobYAML(name, schedule string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: %s}
spec:
  schedule: %q
  timeZone: Etc/UTC
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: date, image: "busybox:1", command: [date]}]
`, name, schedule)
}

func TestCronJobRunsOncePerSchedule(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, cronJobYAML("date", "* * * * *")))
	for i := 0; i < 3*60+5; i++ {
		h.reconcile()
		h.agents("n1")
		h.clock.Step(time.Second)
		h.heartbeat("n1")
	}
	var recs []*JobRecord
	_ = h.store.View(func(tx ReadTx) error { recs, _ = tx.Jobs(); return nil })
	if len(recs) != 3 {
		t.Fatalf("want 3 runs in 3 minutes, got %d", len(recs))
	}
	for _, jr := range recs {
		if jr.CronJob != "date" || jr.Job.Status.Succeeded != 1 {
			t.Fatalf("run %s: %+v", jr.Job.Name, jr.Job.Status)
		}
	}
}

// revSource remembers every revision pushed, as a Git clone does.
type revSource struct {
	fakeSource
	all map[string]*Desired
}

func (s *revSource) At(rev string) (*Desired, error) {
	if d, ok := s.all[rev]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no revision %s", rev)
}

func TestRestartKeepsRunningTheAppliedRevisionWhileTheNewestIsRefused(t *testing.T) {
	h := newHarness(t)
	src := &revSource{fakeSource: fakeSource{updated: make(chan struct{}, 1)}, all: map[string]*Desired{}}
	push := func(rev string, objs []manifest.Object) {
		src.push(rev, objs)
		src.all[rev] = src.cur
	}
	h.src = &src.fakeSource
	restart := func() {
		rec, err := New(Config{Store: h.store, Source: src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		h.rec = rec
	}
	restart()
	h.addNode("n1", "2", "1Gi")
	push("r1", decodeObjs(t, deployYAML(2, "web:1")))
	h.converge("n1")
	push("r2", decodeObjs(t, deployYAML(40, "web:1")))
	h.converge("n1")
	restart()
	h.reconcile()
	if got := h.rec.Applied(); got != "r1" {
		t.Fatalf("after restart applied %q, want r1 kept running", got)
	}
	// r1's Deployment still heals: a pod that fails is replaced.
	err := h.store.Update(func(tx Tx) error {
		pods, _ := tx.Pods()
		pods[0].Pod.Status.Phase = corev1.PodFailed
		return tx.PutPod(pods[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	h.converge("n1")
	running := countBy(h.pods(), func(p *PodRecord) bool { return p.Pod.Status.Phase == corev1.PodRunning })
	if running != 2 {
		t.Fatalf("want 2 running pods of r1, got %d", running)
	}
	if st := h.sync(); st.State != "Rejected" || st.Rejected == nil || st.Rejected.SHA != "r2" {
		t.Fatalf("status %+v", st)
	}
}

// TestCommitPlanRefusesStalePlan: a plan placed on a node view that has
// since moved (here the node was cordoned) binds nothing and says so with
// scheduler.ErrStale, which the pass answers by placing again.
func TestCommitPlanRefusesStalePlan(t *testing.T) {
	tests := []struct {
		name      string
		cordon    bool
		wantStale bool
	}{
		{name: "node unchanged: pod is bound", cordon: false, wantStale: false},
		{name: "node cordoned since the view: nothing is bound", cordon: true, wantStale: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addNode("n1", "4", "8Gi")
			p := newPodRecord("default", "p", Owner{Kind: OwnerPod, Name: "p"}, &metav1.ObjectMeta{}, &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}, "h", "r1", t0)
			var gen uint64
			err := h.store.Update(func(tx Tx) error {
				if err := tx.PutPod(p); err != nil {
					return err
				}
				n, err := tx.Node("n1")
				gen = n.Generation
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.cordon {
				err := h.store.Update(func(tx Tx) error {
					n, err := tx.Node("n1")
					if err != nil {
						return err
					}
					n.Unschedulable = true
					return tx.PutNode(n)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			plan := &scheduler.Plan{Bindings: []scheduler.Binding{{Pod: &p.Pod, Node: "n1"}}, NodeGenerations: map[string]uint64{"n1": gen}}
			err = h.rec.commitPlan(plan, t0)
			if got := errors.Is(err, scheduler.ErrStale); got != tt.wantStale {
				t.Fatalf("commitPlan = %v, stale %v, want stale %v", err, got, tt.wantStale)
			}
			if !tt.wantStale && err != nil {
				t.Fatal(err)
			}
			var node string
			if err := h.store.View(func(tx ReadTx) error {
				got, err := tx.Pod("default", "p")
				if err == nil {
					node = got.Pod.Spec.NodeName
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "n1", true: ""}[tt.wantStale]; node != want {
				t.Fatalf("pod bound to %q, want %q", node, want)
			}
		})
	}
}

// countingStore counts the write transactions opened on a Store.
type countingStore struct {
	Store
	updates int
}

func (s *countingStore) Update(fn func(Tx) error) error {
	s.updates++
	return s.Store.Update(fn)
}

func TestIdlePassOpensNoWriteTransaction(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, podYAML("solo", "128Mi")+deployYAML(2, "web:1")+jobYAML+"---\n"+cronJobYAML("yearly", "0 0 1 1 *")))
	h.converge("n1")

	counted := &countingStore{Store: h.store}
	rec, err := New(Config{Store: counted, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	h.reconcile() // the new Reconciler admits r1 read-only: it is already applied
	v := h.store.Version()
	counted.updates = 0
	for range 3 {
		h.clock.Step(time.Second)
		h.heartbeat("n1")
		h.reconcile()
	}
	if counted.updates != 0 || h.store.Version() != v {
		t.Fatalf("idle passes opened %d write transactions and raised the version by %d", counted.updates, h.store.Version()-v)
	}

	// The same passes do write once there is something to do.
	h.src.push("r2", decodeObjs(t, podYAML("solo", "128Mi")+deployYAML(3, "web:1")+jobYAML))
	h.reconcile()
	if counted.updates == 0 || h.store.Version() == v {
		t.Fatalf("a pass with a new revision wrote nothing (%d updates)", counted.updates)
	}

	// Once converged again, passes are read-only again.
	h.converge("n1")
	v, counted.updates = h.store.Version(), 0
	for range 3 {
		h.clock.Step(time.Second)
		h.heartbeat("n1")
		h.reconcile()
	}
	if counted.updates != 0 || h.store.Version() != v {
		t.Fatalf("idle passes after a rollout opened %d write transactions and raised the version by %d", counted.updates, h.store.Version()-v)
	}
}

// TestIdlePassWithUnplaceablePodOpensNoWriteTransaction: a pod whose only
// node was lost stays pending with the same message; the passes that find
// it so again write nothing.
func TestIdlePassWithUnplaceablePodOpensNoWriteTransaction(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, podYAML("solo", "128Mi")))
	h.converge("n1")
	h.clock.Step(time.Hour) // n1 stops sending heartbeats
	h.reconcile()
	h.reconcile()
	if p := h.pods(); len(p) != 1 || p[0].Unschedulable == "" {
		t.Fatalf("want one unschedulable pod, got %d", len(p))
	}
	counted := &countingStore{Store: h.store}
	rec, err := New(Config{Store: counted, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	h.reconcile()
	v := h.store.Version()
	counted.updates = 0
	for range 3 {
		h.clock.Step(time.Second)
		h.reconcile()
	}
	if counted.updates != 0 || h.store.Version() != v {
		t.Fatalf("idle passes opened %d write transactions and raised the version by %d", counted.updates, h.store.Version()-v)
	}
}

func TestRevisionWithKindsNotRunYetIsRefused(t *testing.T) {
	// No kind is unrun today; the mechanism stays for the next one.
	notRunKinds[manifest.KindStorageClass] = true
	defer delete(notRunKinds, manifest.KindStorageClass)
	h := newHarness(t)
	h.addNode("n1", "2", "1Gi")
	h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")))
	h.converge("n1")
	h.src.push("r2", decodeObjs(t, podYAML("a", "64Mi")+retainClassYAML))
	h.converge("n1")
	st := h.sync()
	if st.State != "Rejected" || st.Applied.SHA != "r1" || st.Rejected == nil || len(st.Rejected.Errors) != 1 ||
		st.Rejected.Errors[0].Message != "StorageClass is valid but this server does not run it yet" {
		t.Fatalf("status %+v", st)
	}
}
