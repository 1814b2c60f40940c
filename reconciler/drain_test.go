package reconciler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/endpoints"
)

// drainSetup runs the web Service and a Deployment of replicas on nodes,
// each pod with an address, every node confirming the network state, and
// then scales the Deployment to keep: the pods scaled away are returned
// (namespace/name), marked for deletion and draining, with the state the
// nodes confirmed.
func drainSetup(t *testing.T, nodes []string, replicas, keep int) (*harness, *Network, *AgentPods, []string, *api.NetworkState) {
	t.Helper()
	h := newHarness(t)
	for _, n := range nodes {
		h.addNode(n, "4", "4Gi")
	}
	h.src.push("r1", decodeObjs(t, serviceYAML("web", "")+"---\n"+deployYAML(replicas, "web:1")))
	h.reconcile()
	h.converge(nodes...)
	h.giveAddresses()
	n := NewNetwork(h.store, h.rec, endpoints.NetworkConfig{ClusterDNS: "198.19.0.10"})
	st, _, err := n.State()
	if err != nil {
		t.Fatal(err)
	}
	if got := readyEndpoints(st); len(got) != replicas {
		t.Fatalf("want %d ready endpoints before the scale-down, got %v", replicas, got)
	}
	for _, node := range nodes {
		_ = n.Applied(node, st.ResourceVersion)
	}
	h.src.push("r2", decodeObjs(t, serviceYAML("web", "")+"---\n"+deployYAML(keep, "web:1")))
	h.reconcile()
	var leaving []string
	for _, p := range h.pods() {
		if p.deleting() {
			if !p.Draining {
				t.Fatalf("%s marked for deletion without draining", p.key())
			}
			leaving = append(leaving, p.key())
		}
	}
	if len(leaving) != replicas-keep {
		t.Fatalf("want %d pods leaving, got %v", replicas-keep, leaving)
	}
	return h, n, NewAgentPods(h.store), leaving, st
}

// giveAddresses gives every pod an address, which the simulated agents
// do not.
func (h *harness) giveAddresses() {
	h.t.Helper()
	if err := h.store.Update(func(tx Tx) error {
		pods, err := tx.Pods()
		for i, p := range pods {
			p.Pod.Status.PodIP = fmt.Sprintf("198.18.0.%d", i+2)
			if err := tx.PutPod(p); err != nil {
				return err
			}
		}
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
}

// readyEndpoints returns the pods (namespace/name) that are ready
// endpoints in st.
func readyEndpoints(st *api.NetworkState) map[string]bool {
	out := map[string]bool{}
	for _, sl := range st.EndpointSlices {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				out[ep.TargetRef.Namespace+"/"+ep.TargetRef.Name] = true
			}
		}
	}
	return out
}

// toldToStop reports whether the pod's agent is told to stop it: its pod
// list carries the pod with a deletion timestamp (or no longer at all).
func toldToStop(t *testing.T, h *harness, ap *AgentPods, key string) bool {
	t.Helper()
	for _, p := range h.pods() {
		if p.key() != key {
			continue
		}
		list, _, err := ap.NodePods(p.Pod.Spec.NodeName)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range list.Items {
			if q.Namespace+"/"+q.Name == key {
				return q.DeletionTimestamp != nil
			}
		}
		return true
	}
	return true
}

// TestDrainWaitsForEveryReadyNode scales a Deployment down and checks the
// pod scaled away leaves the endpoints at once but reaches its agent as
// deleted only once every Ready node confirmed a network version without
// it: not after one of two nodes, and at once when the other is NotReady.
func TestDrainWaitsForEveryReadyNode(t *testing.T) {
	const timeout = 40 * time.Second
	h, n, ap, leaving, _ := drainSetup(t, []string{"n1", "n2"}, 2, 1)
	victim := leaving[0]
	st, _, err := n.State()
	if err != nil {
		t.Fatal(err)
	}
	if ready := readyEndpoints(st); ready[victim] || len(ready) != 1 {
		t.Fatalf("the leaving pod is still a ready endpoint: %v", ready)
	}
	pass := func() {
		t.Helper()
		if _, _, err := n.drainPass(h.clock.Now(), timeout); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	if toldToStop(t, h, ap, victim) {
		t.Fatal("the agent was told to stop the pod before any node confirmed its leaving")
	}
	_ = n.Applied("n1", st.ResourceVersion)
	pass()
	if toldToStop(t, h, ap, victim) {
		t.Fatal("the agent was told to stop the pod while n2 still sends to it")
	}
	_ = n.Applied("n2", st.ResourceVersion)
	pass()
	if !toldToStop(t, h, ap, victim) {
		t.Fatal("every node confirmed, yet the pod is not stopped")
	}

	// A NotReady node is not waited for.
	h2, n2, ap2, leaving2, _ := drainSetup(t, []string{"n1", "n2"}, 2, 1)
	st2, _, _ := n2.State()
	_ = n2.Applied("n1", st2.ResourceVersion)
	if err := h2.store.Update(func(tx Tx) error {
		nr, err := tx.Node("n2")
		if err != nil {
			return err
		}
		nr.Ready = false
		return tx.PutNode(nr)
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n2.drainPass(h2.clock.Now(), timeout); err != nil {
		t.Fatal(err)
	}
	if !toldToStop(t, h2, ap2, leaving2[0]) {
		t.Fatal("a NotReady node held the deletion")
	}
}

// TestDrainTimeout checks a Ready node that never confirms holds a
// deletion for the timeout after it, no longer.
func TestDrainTimeout(t *testing.T) {
	const timeout = 40 * time.Second
	h, n, ap, leaving, _ := drainSetup(t, []string{"n1", "n2"}, 2, 1)
	st, _, _ := n.State()
	_ = n.Applied("n1", st.ResourceVersion)
	deleted := h.clock.Now()
	h.clock.SetTime(deleted.Add(timeout - time.Second))
	_, next, err := n.drainPass(h.clock.Now(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	if toldToStop(t, h, ap, leaving[0]) {
		t.Fatal("released before the timeout")
	}
	if !next.Equal(deleted.Add(timeout)) {
		t.Errorf("next pass at %v, want the deadline %v", next, deleted.Add(timeout))
	}
	h.clock.SetTime(deleted.Add(timeout))
	if _, _, err := n.drainPass(h.clock.Now(), timeout); err != nil {
		t.Fatal(err)
	}
	if !toldToStop(t, h, ap, leaving[0]) {
		t.Fatal("a node that never confirms held the deletion past the timeout")
	}
}

// TestDrainNeverStopsAServedPod is the gate's property, over random
// interleavings of nodes fetching the network state, confirming what
// they fetched (possibly late), time passing and gate passes: whenever an
// agent is told to stop a pod, every Ready node's last confirmed state
// has the pod out of the ready endpoints, unless the timeout passed since
// its deletion; and once every node confirmed, every pod is stopped.
func TestDrainNeverStopsAServedPod(t *testing.T) {
	const timeout = 40 * time.Second
	nodes := []string{"n1", "n2", "n3"}
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			h, n, ap, leaving, before := drainSetup(t, nodes, 4, 1)
			deleted := h.clock.Now()
			fetched := map[string][]*api.NetworkState{}
			confirmed := map[string]*api.NetworkState{}
			for _, node := range nodes {
				confirmed[node] = before
			}
			for step := 0; step < 30; step++ {
				node := nodes[rng.IntN(len(nodes))]
				switch rng.IntN(4) {
				case 0: // the node fetches the state
					st, _, err := n.State()
					if err != nil {
						t.Fatal(err)
					}
					fetched[node] = append(fetched[node], st)
				case 1: // it confirms one it fetched, maybe an old one
					if f := fetched[node]; len(f) > 0 {
						st := f[rng.IntN(len(f))]
						if st.ResourceVersion > confirmed[node].ResourceVersion {
							confirmed[node] = st
						}
						_ = n.Applied(node, st.ResourceVersion)
					}
				case 2:
					h.clock.Step(time.Duration(rng.IntN(5)) * time.Second)
				case 3:
					if _, _, err := n.drainPass(h.clock.Now(), timeout); err != nil {
						t.Fatal(err)
					}
				}
				expired := !h.clock.Now().Before(deleted.Add(timeout))
				for _, key := range leaving {
					if !toldToStop(t, h, ap, key) || expired {
						continue
					}
					for _, node := range nodes {
						if readyEndpoints(confirmed[node])[key] {
							t.Fatalf("step %d: %s told to stop while %s last confirmed a state sending to it", step, key, node)
						}
					}
				}
			}
			st, _, _ := n.State()
			for _, node := range nodes {
				_ = n.Applied(node, st.ResourceVersion)
			}
			if _, _, err := n.drainPass(h.clock.Now(), timeout); err != nil {
				t.Fatal(err)
			}
			for _, key := range leaving {
				if !toldToStop(t, h, ap, key) {
					t.Errorf("%s not stopped after every node confirmed the current state", key)
				}
			}
		})
	}
}

// TestRunDrainWakes runs the gate's loop: a confirmation wakes it, and
// with a node that never confirms, the clock reaching the deadline does.
func TestRunDrainWakes(t *testing.T) {
	const timeout = 40 * time.Second
	h, n, ap, leaving, _ := drainSetup(t, []string{"n1", "n2"}, 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.RunDrain(ctx, h.clock, timeout) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunDrain: %v", err)
		}
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; i < 500 && !cond(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !cond() {
			t.Fatal(what)
		}
	}
	st, _, _ := n.State()
	_ = n.Applied("n1", st.ResourceVersion)
	_ = n.Applied("n2", st.ResourceVersion)
	waitFor("the confirmations did not release the first pod", func() bool { return toldToStop(t, h, ap, leaving[0]) && toldToStop(t, h, ap, leaving[1]) })

	// Scale to 0: n2 never confirms; the deadline releases the last pod.
	h.src.push("r3", decodeObjs(t, serviceYAML("web", "")+"---\n"+deployYAML(0, "web:1")))
	h.reconcile()
	var last string
	for _, p := range h.pods() {
		if p.Draining {
			last = p.key()
		}
	}
	if last == "" {
		t.Fatal("no pod draining after scaling to 0")
	}
	st, _, _ = n.State()
	_ = n.Applied("n1", st.ResourceVersion)
	waitFor("the gate did not arm its timer", func() bool { return h.clock.HasWaiters() })
	if toldToStop(t, h, ap, last) {
		t.Fatal("released while n2 is behind and before the deadline")
	}
	h.clock.Step(timeout)
	waitFor("the deadline did not release the pod", func() bool {
		// A pass that read the clock just before the step arms its timer
		// after it, and the fake clock fires timers only when stepped.
		h.clock.Step(time.Millisecond)
		return toldToStop(t, h, ap, last)
	})
}
