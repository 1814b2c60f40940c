package reconciler

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/api"
)

func daemonYAML(image, mem string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {disk: ssd}
      containers:
      - {name: a, image: %q, resources: {requests: {cpu: 100m, memory: %s}}}
---
`, image, mem)
}

func (h *harness) label(node, k, v string) {
	h.t.Helper()
	if err := h.store.Update(func(tx Tx) error {
		n, err := tx.Node(node)
		if err != nil {
			return err
		}
		n.Labels[k] = v
		return tx.PutNode(n)
	}); err != nil {
		h.t.Fatal(err)
	}
}

// daemonPods maps node to the daemon pod bound there.
func (h *harness) daemonPods() map[string]string {
	out := map[string]string{}
	for _, p := range h.pods() {
		if p.Owner.Kind == OwnerDaemonSet && !p.deleting() {
			out[p.Pod.Spec.NodeName] = p.Pod.Name
		}
	}
	return out
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		h.addNode(n, "2", "2Gi")
	}
	h.label("n1", "disk", "ssd")
	h.label("n2", "disk", "ssd")
	h.src.push("r1", decodeObjs(t, daemonYAML("agent:1", "64Mi")))
	h.converge("n1", "n2", "n3")
	hash := ""
	for _, p := range h.pods() {
		hash = p.TemplateHash
	}
	want := map[string]string{"n1": "agent-" + hash + "-n1", "n2": "agent-" + hash + "-n2"}
	if got := h.daemonPods(); !maps.Equal(got, want) {
		t.Fatalf("daemon pods %v, want %v", got, want)
	}

	// A node that joins and matches gets its pod.
	h.addNode("n4", "2", "2Gi")
	h.label("n4", "disk", "ssd")
	h.converge("n1", "n2", "n3", "n4")
	if got := h.daemonPods(); len(got) != 3 || got["n4"] == "" {
		t.Fatalf("after n4 joined: %v", got)
	}
	// One that stops matching loses it.
	h.label("n2", "disk", "hdd")
	h.converge("n1", "n2", "n3", "n4")
	if got := h.daemonPods(); len(got) != 2 || got["n2"] != "" {
		t.Fatalf("after n2 stopped matching: %v", got)
	}
	// One that leaves loses it.
	if err := h.store.Update(func(tx Tx) error { return tx.DeleteNode("n4") }); err != nil {
		t.Fatal(err)
	}
	h.converge("n1", "n2", "n3")
	if got := h.daemonPods(); len(got) != 1 || got["n1"] == "" {
		t.Fatalf("after n4 left: %v", got)
	}
	var status string
	if err := h.store.View(func(tx ReadTx) error {
		rec, err := tx.DaemonSet("default", "agent")
		if err == nil {
			status = fmt.Sprintf("%d/%d", rec.Status.NumberReady, rec.Status.DesiredNumberScheduled)
		}
		return err
	}); err != nil || status != "1/1" {
		t.Fatalf("status %s, %v", status, err)
	}
}

func TestDaemonPodThatDoesNotFitRefusesTheRevision(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.addNode("small", "2", "256Mi")
	h.label("n1", "disk", "ssd")
	h.label("small", "disk", "ssd")
	h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")))
	h.converge("n1", "small")
	h.src.push("r2", decodeObjs(t, podYAML("a", "64Mi")+daemonYAML("agent:1", "512Mi")))
	h.converge("n1", "small")
	st := h.sync()
	if st.State != "Rejected" || st.Rejected == nil || len(st.Rejected.Unplaceable) != 1 {
		t.Fatalf("status %+v", st)
	}
	u := st.Rejected.Unplaceable[0]
	if !strings.HasSuffix(u.Name, "-small") || !strings.Contains(u.Message, "Insufficient memory") || !strings.Contains(u.Shortfall, "on small") {
		t.Fatalf("unplaceable %+v", u)
	}
}

func TestNotReadyNodeDoesNotHoldUpADaemonSet(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.addNode("n2", "2", "2Gi")
	h.label("n1", "disk", "ssd")
	h.label("n2", "disk", "ssd")
	h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")))
	h.converge("n1", "n2")
	// n2 stops reporting and goes NotReady.
	h.clock.Step(5 * time.Minute)
	h.converge("n1")
	h.src.push("r2", decodeObjs(t, podYAML("a", "64Mi")+daemonYAML("agent:1", "64Mi")))
	h.converge("n1")
	if st := h.sync(); st.State != "Synced" || st.Applied.SHA != "r2" {
		t.Fatalf("status %+v", st)
	}
	if got := h.daemonPods(); len(got) != 2 || got["n1"] == "" || got[""] == "" {
		t.Fatalf("daemon pods %v: want n1's bound and n2's waiting", got)
	}
}

func TestSchedulerNodeReadsClaimStorage(t *testing.T) {
	n := &NodeRecord{Name: "n1", Allocatable: corev1.ResourceList{api.ResourceClaimStorage: resource.MustParse("10Gi")}}
	if got := schedulerNode(n).StorageCapacity; got != 10<<30 {
		t.Fatalf("StorageCapacity %d, want 10Gi", got)
	}
	if got := schedulerNode(&NodeRecord{Name: "n2"}).StorageCapacity; got != 0 {
		t.Fatalf("a node without claim storage offers %d", got)
	}
}
