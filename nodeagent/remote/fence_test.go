package remote

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

// A node cut off from the server keeps its pods for its lease (the
// server's 40s node timeout less a 10s margin, counted from the last
// heartbeat it sent), then stops all but its DaemonSet pods, each within
// the 5s kill grace. When the server answers again, the pods it still
// binds here come back and the one it moved meanwhile does not.
func TestLinkFencesWhenTheLeaseRunsOut(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", nil)
	a := newFakeAgent()
	daemon := func(p *corev1.Pod) { p.Labels = map[string]string{api.LabelOwnerKind: "DaemonSet"} }
	s.bind(t, "web", "n1", nil)
	s.bind(t, "moved", "n1", nil)
	s.bind(t, "agentd", "n1", daemon)
	run(t, l, a)
	eventually(t, clk, "pods synced", func() bool {
		_, last := a.state()
		return slices.Equal(last, []string{"agentd", "moved", "web"})
	})

	s.down.Store(true)
	cut := clk.Now()
	for {
		clk.Step(500 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
		_, last := a.state()
		if slices.Equal(last, []string{"agentd"}) {
			break
		}
		if clk.Since(cut) > 40*time.Second {
			t.Fatalf("40s after the cut the agent still runs %v", last)
		}
	}
	// The last heartbeat went out at most one interval (10s) before the
	// cut, so the 30s lease ran out 20s to 30s after it.
	if at := clk.Since(cut); at < 20*time.Second {
		t.Errorf("fenced %v after the cut: before the lease could have run out", at)
	}
	a.mu.Lock()
	web := a.held["uid-web"]
	a.mu.Unlock()
	if g := web.Spec.TerminationGracePeriodSeconds; g == nil || *g != 5 {
		t.Errorf("web was stopped with grace %v, want the kill grace of 5s", g)
	}
	syncs, _ := a.state()
	for range 20 { // the lease stays out: nothing comes back
		clk.Step(time.Second)
		time.Sleep(time.Millisecond)
	}
	if n, last := a.state(); n != syncs && !slices.Equal(last, []string{"agentd"}) {
		t.Fatalf("a fenced node runs %v again while the server is away", last)
	}

	// The server moved one pod while the node was away.
	if err := s.store.Update(func(tx reconciler.Tx) error { return tx.DeletePod("default", "moved") }); err != nil {
		t.Fatal(err)
	}
	s.down.Store(false)
	eventually(t, clk, "the pods still bound here back", func() bool {
		_, last := a.state()
		return slices.Equal(last, []string{"agentd", "web"})
	})
}

// A fenced node keeps the pods that have finished: nothing of theirs
// runs, the server keeps them bound, and stopping them would lose a Job's
// succeeded pods (found by the chaos harness: after a long partition every
// Job counted 3 completions but had no succeeded pod left).
func TestLinkKeepsFinishedPodsThroughAFence(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", nil)
	a := newFakeAgent()
	a.ended = map[string]bool{"done": true}
	s.bind(t, "web", "n1", nil)
	s.bind(t, "done", "n1", nil)
	run(t, l, a)
	eventually(t, clk, "pods synced", func() bool {
		_, last := a.state()
		return slices.Equal(last, []string{"done", "web"})
	})
	s.down.Store(true)
	cut := clk.Now()
	for {
		clk.Step(500 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
		_, last := a.state()
		if !slices.Contains(last, "web") {
			if !slices.Equal(last, []string{"done"}) {
				t.Fatalf("fenced to %v, want the finished pod kept", last)
			}
			break
		}
		if clk.Since(cut) > 40*time.Second {
			t.Fatalf("40s after the cut the agent still runs %v", last)
		}
	}
}

// With NoFence the node keeps its pods however long the server is away.
func TestLinkWithoutFencingKeepsPods(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", func(c *Config) { c.NoFence = true })
	a := newFakeAgent()
	s.bind(t, "web", "n1", nil)
	run(t, l, a)
	eventually(t, clk, "web synced", func() bool { _, last := a.state(); return slices.Equal(last, []string{"web"}) })
	s.down.Store(true)
	for range 120 {
		clk.Step(time.Second)
		time.Sleep(time.Millisecond)
	}
	if _, last := a.state(); !slices.Equal(last, []string{"web"}) {
		t.Fatalf("two minutes away without fencing: the agent runs %v, want web", last)
	}
}
