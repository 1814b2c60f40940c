package reconciler

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

type podsHarness struct {
	t     *testing.T
	store *BoltStore
	pods  *AgentPods
}

func newPodsHarness(t *testing.T) *podsHarness {
	st, _ := openTestStore(t)
	return &podsHarness{t: t, store: st, pods: NewAgentPods(st)}
}

func (h *podsHarness) update(fn func(Tx) error) {
	h.t.Helper()
	if err := h.store.Update(fn); err != nil {
		h.t.Fatal(err)
	}
}

func (h *podsHarness) putPod(ns, name, node string, mod func(*PodRecord)) {
	h.t.Helper()
	rec := testPod(ns, name, node)
	if mod != nil {
		mod(rec)
	}
	h.update(func(tx Tx) error { return tx.PutPod(rec) })
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// plainStore hides the bolt store's raw fast path, as another Store
// implementation would.
type plainStore struct{ Store }

type plainReadTx struct{ ReadTx }

func (p plainStore) View(fn func(ReadTx) error) error {
	return p.Store.View(func(tx ReadTx) error { return fn(plainReadTx{tx}) })
}

func TestAgentPodIndex(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
	}{{name: "bolt fast path"}, {name: "any store", plain: true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPodsHarness(t)
			if tc.plain {
				h.pods.store = plainStore{h.store}
			}
			h.update(func(tx Tx) error {
				return errors.Join(tx.PutNode(&NodeRecord{Name: "n1"}), tx.PutNode(&NodeRecord{Name: "empty"}))
			})
			h.putPod("default", "a", "n1", nil)
			h.putPod("default", "b", "n1", nil)
			h.putPod("default", "pending", "", nil)
			idx, err := h.pods.podIndex()
			if err != nil {
				t.Fatal(err)
			}
			n1, empty := idx.list("n1"), idx.list("empty")
			if fmt.Sprint(podNames(n1.Items)) != "[a b]" || len(empty.Items) != 0 {
				t.Fatalf("n1 %v, empty %v", podNames(n1.Items), podNames(empty.Items))
			}
			steps := []struct {
				name           string
				write          func()
				n1, emptyMoved bool
			}{
				{name: "status of a pod", write: func() {
					h.putPod("default", "a", "n1", func(r *PodRecord) { r.Pod.Status.Phase = corev1.PodRunning })
				}},
				{name: "an unbound pod", write: func() { h.putPod("default", "pending2", "", nil) }},
				{name: "an event", write: func() {
					h.update(func(tx Tx) error { return tx.AddEvent(api.Event{Kind: "Pod", Name: "a", Reason: "X"}) })
				}},
				{name: "spec of a pod", write: func() {
					h.putPod("default", "b", "n1", func(r *PodRecord) { r.Pod.Spec.Containers[0].Image = "busybox:2" })
				}, n1: true},
				{name: "a pod moves to the empty node", write: func() { h.putPod("default", "b", "empty", nil) }, n1: true, emptyMoved: true},
			}
			for _, st := range steps {
				st.write()
				idx, err := h.pods.podIndex()
				if err != nil {
					t.Fatal(err)
				}
				got1, gotE := idx.list("n1"), idx.list("empty")
				if (got1.ResourceVersion != n1.ResourceVersion) != st.n1 || (gotE.ResourceVersion != empty.ResourceVersion) != st.emptyMoved {
					t.Fatalf("%s: n1 rv %d->%d, empty rv %d->%d", st.name, n1.ResourceVersion, got1.ResourceVersion, empty.ResourceVersion, gotE.ResourceVersion)
				}
				n1, empty = got1, gotE
			}
			if fmt.Sprint(podNames(n1.Items)) != "[a]" || fmt.Sprint(podNames(empty.Items)) != "[b]" {
				t.Fatalf("n1 %v, empty %v", podNames(n1.Items), podNames(empty.Items))
			}
		})
	}
}
