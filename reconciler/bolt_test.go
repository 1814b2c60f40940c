package reconciler

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/api"
)

func openTestStore(t testing.TB) (*BoltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func testPod(ns, name, node string) *PodRecord {
	return &PodRecord{
		Pod: corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		},
		Owner:        Owner{Kind: "Pod", Name: name},
		TemplateHash: "h1",
	}
}

func TestBoltRoundTrip(t *testing.T) {
	s, _ := openTestStore(t)
	err := s.Update(func(tx Tx) error {
		return errors.Join(
			tx.PutPod(testPod("default", "web", "n1")),
			tx.PutNode(&NodeRecord{Name: "n1", PodCIDR: "198.18.0.0/24"}),
			tx.PutDeployment(&DeploymentRecord{Namespace: "default", Name: "web", TemplateHash: "h"}),
			tx.PutJob(&JobRecord{CronJob: "cj"}), // no name: refused
		)
	})
	if err == nil {
		t.Fatal("a job without a name was stored")
	}
	if err := s.View(func(tx ReadTx) error {
		if _, err := tx.Pod("default", "web"); !errors.Is(err, ErrNotFound) {
			t.Errorf("pod after failed update: err = %v, want ErrNotFound", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := s.Update(func(tx Tx) error {
		return errors.Join(
			tx.PutPod(testPod("default", "web", "n1")),
			tx.PutPod(testPod("other", "db", "")),
			tx.PutNode(&NodeRecord{Name: "n1", PodCIDR: "198.18.0.0/24"}),
			tx.PutDeployment(&DeploymentRecord{Namespace: "default", Name: "web", TemplateHash: "h"}),
			tx.PutCronJob(&CronJobRecord{Namespace: "default", Name: "cj"}),
			tx.PutSync(&SyncRecord{Status: api.SyncStatus{Repository: "file:///repo", State: "Synced"}}),
		)
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		get  func(ReadTx) (any, error)
		want error
	}{
		{name: "pod", get: func(tx ReadTx) (any, error) { return tx.Pod("default", "web") }},
		{name: "pod in other namespace", get: func(tx ReadTx) (any, error) { return tx.Pod("other", "db") }},
		{name: "missing pod", get: func(tx ReadTx) (any, error) { return tx.Pod("default", "db") }, want: ErrNotFound},
		{name: "node", get: func(tx ReadTx) (any, error) { return tx.Node("n1") }},
		{name: "missing node", get: func(tx ReadTx) (any, error) { return tx.Node("n2") }, want: ErrNotFound},
		{name: "deployment", get: func(tx ReadTx) (any, error) { return tx.Deployment("default", "web") }},
		{name: "missing job", get: func(tx ReadTx) (any, error) { return tx.Job("default", "x") }, want: ErrNotFound},
		{name: "cronjob", get: func(tx ReadTx) (any, error) { return tx.CronJob("default", "cj") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.View(func(tx ReadTx) error {
				_, err := tc.get(tx)
				return err
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	err = s.View(func(tx ReadTx) error {
		pods, err := tx.Pods()
		if err != nil || len(pods) != 2 {
			t.Errorf("Pods() = %d, %v; want 2", len(pods), err)
		}
		sync, err := tx.Sync()
		if err != nil || sync.Status.State != "Synced" {
			t.Errorf("Sync() = %+v, %v", sync, err)
		}
		p, _ := tx.Pod("default", "web")
		p.Pod.Spec.NodeName = "changed"
		q, _ := tx.Pod("default", "web")
		if q.Pod.Spec.NodeName != "n1" {
			t.Error("changing a returned record changed the store")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltVersion(t *testing.T) {
	s, path := openTestStore(t)
	version := func() uint64 {
		var v uint64
		if err := s.View(func(tx ReadTx) error { v = tx.Version(); return nil }); err != nil {
			t.Fatal(err)
		}
		if v != s.Version() {
			t.Fatalf("tx version %d, store version %d", v, s.Version())
		}
		return v
	}
	steps := []struct {
		name   string
		update func(Tx) error
		wantOK bool
		bump   bool
	}{
		{name: "write", update: func(tx Tx) error { return tx.PutPod(testPod("default", "a", "")) }, wantOK: true, bump: true},
		{name: "same record again", update: func(tx Tx) error { return tx.PutPod(testPod("default", "a", "")) }, wantOK: true},
		{name: "read only", update: func(tx Tx) error { _, err := tx.Pods(); return err }, wantOK: true},
		{name: "delete missing", update: func(tx Tx) error { return tx.DeletePod("default", "zzz") }, wantOK: true},
		{name: "error after write keeps nothing", update: func(tx Tx) error {
			if err := tx.PutPod(testPod("default", "b", "")); err != nil {
				return err
			}
			if err := tx.DeletePod("default", "a"); err != nil {
				return err
			}
			return errors.New("boom")
		}},
		{name: "change", update: func(tx Tx) error { return tx.PutPod(testPod("default", "a", "n1")) }, wantOK: true, bump: true},
		{name: "event", update: func(tx Tx) error { return tx.AddEvent(api.Event{Kind: "Pod", Name: "a", Reason: "Started"}) }, wantOK: true, bump: true},
		{name: "delete", update: func(tx Tx) error { return tx.DeletePod("default", "a") }, wantOK: true, bump: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := version()
			err := s.Update(st.update)
			if (err == nil) != st.wantOK {
				t.Fatalf("err = %v, want ok=%v", err, st.wantOK)
			}
			want := before
			if st.bump {
				want++
			}
			if got := version(); got != want {
				t.Fatalf("version %d -> %d, want %d", before, got, want)
			}
		})
	}
	if err := s.View(func(tx ReadTx) error {
		if _, err := tx.Pod("default", "b"); !errors.Is(err, ErrNotFound) {
			t.Errorf("pod b of the failed update exists: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	last := s.Version()
	s.Close()
	s2, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Version() != last {
		t.Fatalf("version after reopen = %d, want %d", s2.Version(), last)
	}
}

// TestBoltTelemetry: a heartbeat or a fetch time alone is stored but does
// not raise the version, so it wakes neither the loop nor the agents'
// watches; anything else changed with it does.
func TestBoltTelemetry(t *testing.T) {
	s, _ := openTestStore(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	node := func(hb time.Time, ready bool) *NodeRecord {
		return &NodeRecord{Name: "n1", Ready: ready, LastHeartbeat: hb, Address: "127.0.0.1:1"}
	}
	sync := func(fetch time.Time, state string) *SyncRecord {
		return &SyncRecord{Status: api.SyncStatus{Repository: "r", State: state, LastFetch: fetch, LastFetchSuccess: fetch}}
	}
	steps := []struct {
		name  string
		write func(Tx) error
		bump  bool
	}{
		{name: "new node", write: func(tx Tx) error { return tx.PutNode(node(t0, true)) }, bump: true},
		{name: "heartbeat only", write: func(tx Tx) error { return tx.PutNode(node(t0.Add(time.Second), true)) }},
		{name: "heartbeat and readiness", write: func(tx Tx) error { return tx.PutNode(node(t0.Add(2*time.Second), false)) }, bump: true},
		{name: "first sync record", write: func(tx Tx) error { return tx.PutSync(sync(t0, "Synced")) }, bump: true},
		{name: "fetch time only", write: func(tx Tx) error { return tx.PutSync(sync(t0.Add(time.Minute), "Synced")) }},
		{name: "fetch time and state", write: func(tx Tx) error { return tx.PutSync(sync(t0.Add(2*time.Minute), "Progressing")) }, bump: true},
		{name: "heartbeat beside a pod", write: func(tx Tx) error {
			return errors.Join(tx.PutNode(node(t0.Add(3*time.Second), false)), tx.PutPod(testPod("default", "a", "")))
		}, bump: true},
	}
	for _, st := range steps {
		before := s.Version()
		if err := s.Update(st.write); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := s.Version() != before; got != st.bump {
			t.Errorf("%s: version raised %v, want %v", st.name, got, st.bump)
		}
	}
	err := s.View(func(tx ReadTx) error {
		n, err := tx.Node("n1")
		if err != nil {
			return err
		}
		sr, err := tx.Sync()
		if err != nil {
			return err
		}
		if !n.LastHeartbeat.Equal(t0.Add(3*time.Second)) || !sr.Status.LastFetch.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("stored heartbeat %v, fetch %v: telemetry was not kept", n.LastHeartbeat, sr.Status.LastFetch)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltNodeGeneration(t *testing.T) {
	base := func() *NodeRecord {
		return &NodeRecord{
			Name:        "n1",
			Labels:      map[string]string{"zone": "a"},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Ready:       true,
		}
	}
	tests := []struct {
		name   string
		change func(*NodeRecord)
		raise  bool
	}{
		{name: "heartbeat", change: func(n *NodeRecord) { n.LastHeartbeat = time.Unix(100, 0) }},
		{name: "address", change: func(n *NodeRecord) { n.Address = "127.0.0.1:1" }},
		{name: "caller's generation ignored", change: func(n *NodeRecord) { n.Generation = 99 }},
		{name: "same allocatable written differently", change: func(n *NodeRecord) {
			n.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2000m")}
		}},
		{name: "capacity", change: func(n *NodeRecord) {
			n.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
		}},
		{name: "labels", change: func(n *NodeRecord) { n.Labels["zone"] = "b" }, raise: true},
		{name: "taints", change: func(n *NodeRecord) {
			n.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}
		}, raise: true},
		{name: "allocatable", change: func(n *NodeRecord) {
			n.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}, raise: true},
		{name: "ready", change: func(n *NodeRecord) { n.Ready = false }, raise: true},
		{name: "unschedulable", change: func(n *NodeRecord) { n.Unschedulable = true }, raise: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTestStore(t)
			if err := s.Update(func(tx Tx) error { return tx.PutNode(base()) }); err != nil {
				t.Fatal(err)
			}
			n := base()
			tc.change(n)
			if err := s.Update(func(tx Tx) error { return tx.PutNode(n) }); err != nil {
				t.Fatal(err)
			}
			var got *NodeRecord
			if err := s.View(func(tx ReadTx) (err error) { got, err = tx.Node("n1"); return err }); err != nil {
				t.Fatal(err)
			}
			want := uint64(1)
			if tc.raise {
				want = 2
			}
			if got.Generation != want || n.Generation != want {
				t.Fatalf("generation stored %d, returned %d; want %d", got.Generation, n.Generation, want)
			}
		})
	}
}

func TestBoltEvents(t *testing.T) {
	ev := func(name, reason, msg string, sec int64) api.Event {
		return api.Event{Time: time.Unix(sec, 0).UTC(), Type: "Normal", Kind: "Pod", Namespace: "default", Name: name, Reason: reason, Message: msg}
	}
	tests := []struct {
		name   string
		add    []api.Event
		limit  int
		want   []string // name/reason/count, oldest first
		wantAt int64    // Time of the newest event
	}{
		{
			name:  "distinct events keep their order",
			add:   []api.Event{ev("a", "Scheduled", "to n1", 1), ev("a", "Started", "c", 2), ev("b", "Scheduled", "to n1", 3)},
			limit: 10,
			want:  []string{"a/Scheduled/1", "a/Started/1", "b/Scheduled/1"},
		},
		{
			name:   "a repeat raises the count and moves to the end",
			add:    []api.Event{ev("a", "BackOff", "restarting", 1), ev("b", "Started", "c", 2), ev("a", "BackOff", "restarting", 3), ev("a", "BackOff", "restarting", 4)},
			limit:  10,
			want:   []string{"b/Started/1", "a/BackOff/3"},
			wantAt: 4,
		},
		{
			name:  "a different message is a new event",
			add:   []api.Event{ev("a", "FailedScheduling", "0/1 nodes", 1), ev("a", "FailedScheduling", "0/2 nodes", 2)},
			limit: 10,
			want:  []string{"a/FailedScheduling/1", "a/FailedScheduling/1"},
		},
		{
			name:  "limit keeps the newest",
			add:   []api.Event{ev("a", "R1", "", 1), ev("a", "R2", "", 2), ev("a", "R3", "", 3)},
			limit: 2,
			want:  []string{"a/R2/1", "a/R3/1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTestStore(t)
			for _, e := range tc.add {
				if err := s.Update(func(tx Tx) error { return tx.AddEvent(e) }); err != nil {
					t.Fatal(err)
				}
			}
			var got []api.Event
			if err := s.View(func(tx ReadTx) (err error) { got, err = tx.Events(tc.limit); return err }); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, fmt.Sprintf("%s/%s/%d", e.Name, e.Reason, e.Count))
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Fatalf("events = %v, want %v", names, tc.want)
			}
			if tc.wantAt != 0 && got[len(got)-1].Time.Unix() != tc.wantAt {
				t.Fatalf("merged event time = %v, want %d", got[len(got)-1].Time, tc.wantAt)
			}
		})
	}
}

func TestBoltEventsBounded(t *testing.T) {
	s, _ := openTestStore(t)
	const total = MaxEvents + 250
	err := s.Update(func(tx Tx) error {
		for i := range total {
			if err := tx.AddEvent(api.Event{Kind: "Pod", Name: fmt.Sprintf("p%d", i), Reason: "Started"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Merge into one that survived, after the ring has wrapped.
	last := fmt.Sprintf("p%d", total-1)
	if err := s.Update(func(tx Tx) error { return tx.AddEvent(api.Event{Kind: "Pod", Name: last, Reason: "Started"}) }); err != nil {
		t.Fatal(err)
	}
	var got []api.Event
	if err := s.View(func(tx ReadTx) (err error) { got, err = tx.Events(10 * MaxEvents); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxEvents {
		t.Fatalf("kept %d events, want %d", len(got), MaxEvents)
	}
	if first := got[0].Name; first != fmt.Sprintf("p%d", total-MaxEvents) {
		t.Fatalf("oldest kept = %s", first)
	}
	if newest := got[len(got)-1]; newest.Name != last || newest.Count != 2 {
		t.Fatalf("newest = %+v, want %s with count 2", newest, last)
	}
}

func TestBoltWaitChange(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()

	t.Run("returns at once when already newer", func(t *testing.T) {
		if err := s.Update(func(tx Tx) error { return tx.PutPod(testPod("default", "a", "")) }); err != nil {
			t.Fatal(err)
		}
		v, err := s.WaitChange(ctx, 0)
		if err != nil || v != s.Version() {
			t.Fatalf("WaitChange = %d, %v", v, err)
		}
	})
	t.Run("wakes on a write", func(t *testing.T) {
		since := s.Version()
		got := make(chan uint64, 1)
		go func() {
			v, _ := s.WaitChange(ctx, since)
			got <- v
		}()
		if err := s.Update(func(tx Tx) error { return tx.PutPod(testPod("default", "b", "")) }); err != nil {
			t.Fatal(err)
		}
		if v := <-got; v != since+1 {
			t.Fatalf("woke with %d, want %d", v, since+1)
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.WaitChange(cctx, s.Version()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("close wakes waiters", func(t *testing.T) {
		s2, _ := openTestStore(t)
		done := make(chan error, 1)
		go func() {
			_, err := s2.WaitChange(ctx, s2.Version())
			done <- err
		}()
		s2.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	})
}

// TestBoltConcurrent runs writers, readers and waiters at once (meant for
// -race): every reader sees whole transactions and every waiter wakes.
func TestBoltConcurrent(t *testing.T) {
	s, _ := openTestStore(t)
	const writers, writes = 4, 15
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				err := s.Update(func(tx Tx) error {
					// Two pods per transaction: readers must see both or neither.
					return errors.Join(
						tx.PutPod(testPod("default", fmt.Sprintf("w%d-%d-a", w, i), "")),
						tx.PutPod(testPod("default", fmt.Sprintf("w%d-%d-b", w, i), "")),
					)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && s.Version() < writers*writes {
				err := s.View(func(tx ReadTx) error {
					pods, err := tx.Pods()
					if err != nil {
						return err
					}
					if len(pods)%2 != 0 || uint64(len(pods)/2) != tx.Version() {
						return fmt.Errorf("version %d with %d pods", tx.Version(), len(pods))
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v uint64
			for v < writers*writes {
				nv, err := s.WaitChange(ctx, v)
				if err != nil {
					t.Error(err)
					return
				}
				if nv <= v {
					t.Errorf("WaitChange went from %d to %d", v, nv)
					return
				}
				v = nv
			}
		}()
	}
	wg.Wait()
	if s.Version() != writers*writes {
		t.Fatalf("version %d, want %d", s.Version(), writers*writes)
	}
}

func TestBoltDeletes(t *testing.T) {
	s, _ := openTestStore(t)
	if err := s.Update(func(tx Tx) error {
		return errors.Join(
			tx.PutPod(testPod("default", "p", "")),
			tx.PutNode(&NodeRecord{Name: "n"}),
			tx.PutDeployment(&DeploymentRecord{Namespace: "default", Name: "d"}),
			tx.PutJob(&JobRecord{Job: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "j"}}}),
			tx.PutCronJob(&CronJobRecord{Namespace: "default", Name: "c"}),
		)
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		del  func(Tx) error
		get  func(ReadTx) error
	}{
		{name: "pod", del: func(tx Tx) error { return tx.DeletePod("default", "p") }, get: func(tx ReadTx) error { _, err := tx.Pod("default", "p"); return err }},
		{name: "node", del: func(tx Tx) error { return tx.DeleteNode("n") }, get: func(tx ReadTx) error { _, err := tx.Node("n"); return err }},
		{name: "deployment", del: func(tx Tx) error { return tx.DeleteDeployment("default", "d") }, get: func(tx ReadTx) error { _, err := tx.Deployment("default", "d"); return err }},
		{name: "job", del: func(tx Tx) error { return tx.DeleteJob("default", "j") }, get: func(tx ReadTx) error { _, err := tx.Job("default", "j"); return err }},
		{name: "cronjob", del: func(tx Tx) error { return tx.DeleteCronJob("default", "c") }, get: func(tx ReadTx) error { _, err := tx.CronJob("default", "c"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Version()
			if err := s.Update(tc.del); err != nil {
				t.Fatal(err)
			}
			if s.Version() != before+1 {
				t.Fatalf("version %d -> %d", before, s.Version())
			}
			if err := s.View(tc.get); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			if err := s.Update(tc.del); err != nil || s.Version() != before+1 {
				t.Fatalf("deleting again: %v, version %d", err, s.Version())
			}
		})
	}
}
