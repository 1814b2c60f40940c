package reconciler

import (
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// Node liveness under wall-clock jumps. The fake clock plays the
// monotonic clock, which no jump moves: it is what the loop and the
// membership read. The records' LastHeartbeat play the wall clock: they
// are set by hand to what the store holds when the machine's clock
// jumped after they were written.

// withMembership gives the harness's loop the heartbeats a Membership on
// the same store receives, as `berth server` wires them.
func withMembership(t *testing.T, h *harness) *Membership {
	t.Helper()
	m, err := NewMembership(MembershipConfig{Store: h.store, Clock: h.clock, NodeTimeout: 40 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := New(Config{Store: h.store, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler), Configs: h.configs, Heartbeats: m})
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	return m
}

// twoNodesWithMembership: nodes n1 and n2 run a Deployment of four
// pods, and the membership has just received a heartbeat of each.
func twoNodesWithMembership(t *testing.T) (*harness, *Membership) {
	t.Helper()
	h := newHarness(t)
	m := withMembership(t, h)
	h.addNode("n1", "4", "4Gi")
	h.addNode("n2", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(4, "web:1")))
	h.converge("n1", "n2")
	beat(t, m, "n1", "n2")
	return h, m
}

// beat delivers a heartbeat of each node to the membership and flushes.
func beat(t *testing.T, m *Membership, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		if err := m.Heartbeat(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.FlushHeartbeats(); err != nil {
		t.Fatal(err)
	}
}

// editNode changes a node's record as the store holds it.
func editNode(t *testing.T, h *harness, node string, edit func(*NodeRecord)) {
	t.Helper()
	err := h.store.Update(func(tx Tx) error {
		n, err := tx.Node(node)
		if err != nil {
			return err
		}
		edit(n)
		return tx.PutNode(n)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setStoredHeartbeat writes a node's LastHeartbeat as the store would
// hold it after the wall clock moved.
func setStoredHeartbeat(t *testing.T, h *harness, node string, at time.Time) {
	t.Helper()
	editNode(t, h, node, func(n *NodeRecord) { n.LastHeartbeat = at })
}

// podsOn counts the pods bound to node.
func podsOn(h *harness, node string) int {
	n := 0
	for _, p := range h.pods() {
		if p.Pod.Spec.NodeName == node {
			n++
		}
	}
	return n
}

func nodeOf(h *harness) map[string]string {
	out := map[string]string{}
	for _, p := range h.pods() {
		out[p.Pod.Name] = p.Pod.Spec.NodeName + "/" + string(p.Pod.UID)
	}
	return out
}

func readyOf(t *testing.T, h *harness, node string) bool {
	t.Helper()
	var ready bool
	if err := h.store.View(func(tx ReadTx) error {
		n, err := tx.Node(node)
		if err == nil {
			ready = n.Ready
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ready
}

// The wall clock jumps an hour forward just after the nodes' heartbeats
// were stored: the store's heartbeats are an hour old on the wall clock,
// but the server received one a second ago. No node may time out and no
// pod may move (comparing the stored wall time with now moved them all).
func TestClockJumpForwardMovesNoPod(t *testing.T) {
	h, _ := twoNodesWithMembership(t)
	before := nodeOf(h)
	jumped := h.clock.Now().Add(-time.Hour)
	setStoredHeartbeat(t, h, "n1", jumped)
	setStoredHeartbeat(t, h, "n2", jumped)
	for i := 0; i < 5; i++ {
		h.clock.Step(time.Second)
		h.reconcile()
		h.agents("n1", "n2")
	}
	for _, n := range []string{"n1", "n2"} {
		if !readyOf(t, h, n) {
			t.Errorf("node %s NotReady after a forward jump of the wall clock, though its heartbeat came 5s ago", n)
		}
	}
	if after := nodeOf(h); len(after) != len(before) {
		t.Errorf("pods before %v, after %v", before, after)
	} else {
		for name, was := range before {
			if after[name] != was {
				t.Errorf("pod %s moved: %s → %s", name, was, after[name])
			}
		}
	}
}

// The wall clock jumps an hour back just after n2's heartbeat was stored,
// and n2's agent dies: its stored heartbeat lies an hour in the future.
// n2 must still time out after the node timeout, and its pods move after
// the fencing grace, as without a jump (before, n2 stayed Ready for the
// hour and its pods ran nowhere).
func TestClockJumpBackStillTimesOutADeadNode(t *testing.T) {
	h, m := twoNodesWithMembership(t)
	last := h.clock.Now()
	setStoredHeartbeat(t, h, "n2", last.Add(time.Hour))
	never := -time.Second
	notReadyAt, movedAt := never, never
	for i := 1; i <= 60; i++ {
		h.clock.Step(time.Second)
		beat(t, m, "n1")
		h.reconcile()
		h.agents("n1")
		if notReadyAt == never && !readyOf(t, h, "n2") {
			notReadyAt = h.clock.Since(last)
		}
		if movedAt == never && podsOn(h, "n2") == 0 {
			movedAt = h.clock.Since(last)
		}
	}
	if notReadyAt != 40*time.Second {
		t.Errorf("n2 NotReady %v after its last heartbeat, want 40s (the node timeout; -1s: never in 60s)", notReadyAt)
	}
	if movedAt != 50*time.Second {
		t.Errorf("n2's pods moved %v after its last heartbeat, want 50s (node timeout 40s + fencing grace 10s; -1s: never in 60s)", movedAt)
	}
}

// A restarted server finds a record Ready whose stored heartbeat is an
// hour old on the wall clock (the clock jumped while it was down, or it
// was down that long): it cannot tell how long ago that heartbeat really
// came, so the node gets a fresh timeout from the restart, as in
// Kubernetes' node lifecycle controller. Its pods move no earlier than
// node timeout + grace after the restart (before, at once: possibly
// beside copies a live agent still ran). A record stored NotReady stays
// NotReady until a heartbeat comes.
func TestRestartGivesNodesAFreshTimeout(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.addNode("n2", "4", "4Gi")
	h.addNode("n3", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, deployYAML(6, "web:1")))
	h.converge("n1", "n2", "n3")
	editNode(t, h, "n3", func(n *NodeRecord) { n.Ready = false })
	setStoredHeartbeat(t, h, "n2", h.clock.Now().Add(-time.Hour))
	h.restart()
	restarted := h.clock.Now()
	var movedAt time.Duration
	for i := 0; i <= 60; i++ {
		h.reconcile()
		h.agents("n1")
		if i == 0 {
			if !readyOf(t, h, "n2") {
				t.Error("n2 NotReady at the restart: a wall-clock heartbeat age is no evidence")
			}
			if readyOf(t, h, "n3") {
				t.Error("n3, stored NotReady, is Ready at the restart without a heartbeat")
			}
		}
		if movedAt == 0 && podsOn(h, "n2") == 0 {
			movedAt = h.clock.Since(restarted)
		}
		h.clock.Step(time.Second)
		h.heartbeat("n1")
	}
	if movedAt != 50*time.Second {
		t.Errorf("n2's pods moved %v after the restart, want 50s (node timeout 40s + fencing grace 10s)", movedAt)
	}
}

// What users see of a node follows the same rule: the age of the last
// heartbeat received, on the server's clock. After a backward jump the
// stored heartbeat lies in the future; a node whose agent died must
// still show Unknown once the node timeout has passed (before, the
// later, stored time won and the node showed Ready for the hour).
func TestNodeViewAfterClockJumpBack(t *testing.T) {
	h := newHarness(t)
	m := withMembership(t, h)
	if _, err := m.Register(&api.RegisterRequest{Name: "n1", Address: "127.0.0.1:1"}, false, ""); err != nil {
		t.Fatal(err)
	}
	beat(t, m, "n1")
	setStoredHeartbeat(t, h, "n1", h.clock.Now().Add(time.Hour))
	h.clock.Step(41 * time.Second)
	n, err := m.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	if c := n.Status.Conditions[0]; c.Status != corev1.ConditionUnknown {
		t.Errorf("41s after the last heartbeat received: Ready %s (%s), want Unknown", c.Status, c.Message)
	}
}
