package reconciler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/metrics/metricstest"
)

// A node's report of a fence becomes a Fenced event of the node and of
// each stopped pod the server still holds with that UID, bound to the node
// or unbound since; the server counts the fence and its pods.
func TestReportedFenceEvents(t *testing.T) {
	fenced := func(pods ...api.FencedPod) []api.Fence {
		return []api.Fence{{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Unreachable: api.Duration{Duration: 34567 * time.Millisecond},
			Lease: api.Duration{Duration: 30 * time.Second}, Pods: pods}}
	}
	pod := func(name, uid string) api.FencedPod { return api.FencedPod{Namespace: "default", Name: name, UID: uid} }
	many := make([]api.FencedPod, 12)
	for i := range many {
		many[i] = pod(fmt.Sprintf("p%02d", i), "uid-default-web")
	}
	tests := []struct {
		name   string
		fences []api.Fence
		// podEvents are the pods given a Fenced event; nodeEvent is the
		// node event's message (empty: none).
		podEvents []string
		nodeEvent string
		// The counters berth_node_fenced_pods_total and
		// berth_node_fences_total of n1 move by pods and count.
		pods, count float64
	}{
		{
			name:      "a pod still bound here",
			fences:    fenced(pod("web", "uid-default-web")),
			podEvents: []string{"web"},
			nodeEvent: "Node n1 could not reach the server for 34.6s, past its lease of 30s: it stopped 1 pod the server would move: default/web",
			pods:      1, count: 1,
		},
		{
			name:      "a Job's pod the server unbound when the node was lost",
			fences:    fenced(pod("job-x", "uid-default-job-x")),
			podEvents: []string{"job-x"},
			nodeEvent: "Node n1 could not reach the server for 34.6s, past its lease of 30s: it stopped 1 pod the server would move: default/job-x",
			pods:      1, count: 1,
		},
		{
			name:      "moved pods: forgotten, made again with a new UID, bound elsewhere",
			fences:    fenced(pod("gone", "uid-gone"), pod("web", "uid-old"), pod("other", "uid-default-other")),
			nodeEvent: "Node n1 could not reach the server for 34.6s, past its lease of 30s: it stopped 3 pods the server would move: default/gone, default/web, default/other",
			pods:      3, count: 1,
		},
		{
			name:      "a fence that stopped nothing",
			fences:    fenced(),
			nodeEvent: "Node n1 could not reach the server for 34.6s, past its lease of 30s: it stopped 0 pods the server would move",
			count:     1,
		},
		{
			name:      "the node event names the first ten",
			fences:    fenced(many...),
			nodeEvent: "stopped 12 pods the server would move: default/p00, default/p01, default/p02, default/p03, default/p04, default/p05, default/p06, default/p07, default/p08, default/p09 and 2 more",
			pods:      12, count: 1,
		},
		{
			name:   "no fence",
			fences: nil,
		},
	}
	scrape := metricstest.Scraper(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := openTestStore(t)
			job := testPod("default", "job-x", "")
			job.Owner = Owner{Kind: OwnerJob, Name: "job"}
			if err := store.Update(func(tx Tx) error {
				for _, p := range []*PodRecord{testPod("default", "web", "n1"), testPod("default", "other", "n2"), job} {
					if err := tx.PutPod(p); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := scrape()
			clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
			if _, err := NewPodReports(store, clk).Report("n1", &api.PodStatusReport{Fences: tc.fences}); err != nil {
				t.Fatal(err)
			}
			after := scrape()
			var events []api.Event
			if err := store.View(func(tx ReadTx) (err error) { events, err = tx.Events(MaxEvents); return err }); err != nil {
				t.Fatal(err)
			}
			var podEvents []string
			var nodeEvent string
			for _, e := range events {
				if e.Reason != ReasonFenced || e.Type != "Warning" {
					t.Errorf("event %+v, want only Warning Fenced events", e)
					continue
				}
				switch e.Kind {
				case "Pod":
					podEvents = append(podEvents, e.Name)
					if want := "Stopped by node n1, which could not reach the server for 34.6s, past its lease of 30s"; e.Message != want {
						t.Errorf("pod event %q, want %q", e.Message, want)
					}
				case "Node":
					if e.Name != "n1" || nodeEvent != "" {
						t.Errorf("node event %+v: want one, of n1", e)
					}
					nodeEvent = e.Message
				}
			}
			if !slices.Equal(podEvents, tc.podEvents) {
				t.Errorf("pod events for %v, want %v", podEvents, tc.podEvents)
			}
			if tc.nodeEvent == "" && nodeEvent != "" || !strings.Contains(nodeEvent, tc.nodeEvent) {
				t.Errorf("node event %q, want one with %q", nodeEvent, tc.nodeEvent)
			}
			for m, want := range map[string]float64{"berth_node_fences_total": tc.count, "berth_node_fenced_pods_total": tc.pods} {
				if d := after.Get(m, "node", "n1") - before.Get(m, "node", "n1"); d != want {
					t.Errorf("%s moved by %v, want %v", m, d, want)
				}
			}
		})
	}
}

// A report bounds what a node may claim: the newest eight fences, each
// with at most MaxFencedPods pods.
func TestBoundFences(t *testing.T) {
	var in []api.Fence
	for i := range 10 {
		in = append(in, api.Fence{At: time.Unix(int64(i), 0), Pods: make([]api.FencedPod, MaxFencedPods+5)})
	}
	out := boundFences(in)
	if len(out) != maxFences || !out[0].At.Equal(time.Unix(2, 0)) {
		t.Fatalf("kept %d fences from %v, want the newest %d", len(out), out[0].At, maxFences)
	}
	for _, f := range out {
		if len(f.Pods) != MaxFencedPods {
			t.Errorf("a fence keeps %d pods, want %d", len(f.Pods), MaxFencedPods)
		}
	}
	if len(in[9].Pods) != MaxFencedPods+5 {
		t.Error("boundFences changed its input")
	}
}

// A fence is sent with every report until one is answered: a report the
// server took whose answer was lost brings it again. A fence with an ID
// the node's record holds is recorded once; one without an ID (an older
// agent) each time; the record keeps the newest maxFenceIDs IDs.
func TestFenceSentTwiceIsRecordedOnce(t *testing.T) {
	fence := func(id string, sec int) api.Fence {
		return api.Fence{ID: id, At: time.Unix(int64(sec), 0).UTC(), Lease: api.Duration{Duration: 30 * time.Second},
			Pods: []api.FencedPod{{Namespace: "default", Name: "web", UID: "uid-default-web"}}}
	}
	tests := []struct {
		name    string
		reports [][]api.Fence
		// events is the number of Fenced node events (counting repeats),
		// fences the move of berth_node_fences_total.
		events, fences int
	}{
		{"sent twice", [][]api.Fence{{fence("a1", 1)}, {fence("a1", 1)}}, 1, 1},
		{"the second report adds a new one", [][]api.Fence{{fence("a1", 1)}, {fence("a1", 1), fence("b2", 2)}}, 2, 2},
		{"twice in one report", [][]api.Fence{{fence("a1", 1), fence("a1", 1)}}, 1, 1},
		{"no ID: each time", [][]api.Fence{{fence("", 1)}, {fence("", 1)}}, 2, 2},
		{"an ID past the bound counts as none", [][]api.Fence{{fence(strings.Repeat("x", api.MaxFenceIDBytes+1), 1)}, {fence(strings.Repeat("x", api.MaxFenceIDBytes+1), 1)}}, 2, 2},
	}
	scrape := metricstest.Scraper(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := openTestStore(t)
			if err := store.Update(func(tx Tx) error {
				if err := tx.PutNode(&NodeRecord{Name: "n1", Ready: true}); err != nil {
					return err
				}
				return tx.PutPod(testPod("default", "web", "n1"))
			}); err != nil {
				t.Fatal(err)
			}
			before := scrape()
			reports := NewPodReports(store, testingclock.NewFakeClock(time.Unix(100, 0)))
			for _, fs := range tc.reports {
				if _, err := reports.Report("n1", &api.PodStatusReport{Fences: fs}); err != nil {
					t.Fatal(err)
				}
			}
			var events []api.Event
			if err := store.View(func(tx ReadTx) (err error) { events, err = tx.Events(MaxEvents); return err }); err != nil {
				t.Fatal(err)
			}
			nodeEvents := 0
			for _, e := range events {
				if e.Kind == "Node" && e.Reason == ReasonFenced {
					nodeEvents += max(e.Count, 1) // equal events are counted in one
				}
			}
			if nodeEvents != tc.events {
				t.Errorf("%d Fenced node events, want %d", nodeEvents, tc.events)
			}
			if d := scrape().Get("berth_node_fences_total", "node", "n1") - before.Get("berth_node_fences_total", "node", "n1"); d != float64(tc.fences) {
				t.Errorf("berth_node_fences_total moved by %v, want %d", d, tc.fences)
			}
		})
	}

	t.Run("the record keeps the newest IDs", func(t *testing.T) {
		store, _ := openTestStore(t)
		if err := store.Update(func(tx Tx) error { return tx.PutNode(&NodeRecord{Name: "n1", Ready: true}) }); err != nil {
			t.Fatal(err)
		}
		reports := NewPodReports(store, testingclock.NewFakeClock(time.Unix(100, 0)))
		for i := 0; i < maxFenceIDs+5; i++ {
			if _, err := reports.Report("n1", &api.PodStatusReport{Fences: []api.Fence{fence(fmt.Sprint("f", i), i)}}); err != nil {
				t.Fatal(err)
			}
		}
		var rec *NodeRecord
		if err := store.View(func(tx ReadTx) (err error) { rec, err = tx.Node("n1"); return err }); err != nil {
			t.Fatal(err)
		}
		if len(rec.FenceIDs) != maxFenceIDs || rec.FenceIDs[len(rec.FenceIDs)-1] != fmt.Sprint("f", maxFenceIDs+4) {
			t.Errorf("record holds %d IDs ending %q, want the newest %d", len(rec.FenceIDs), rec.FenceIDs[len(rec.FenceIDs)-1], maxFenceIDs)
		}
	})
}
