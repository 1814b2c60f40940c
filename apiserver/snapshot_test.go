package apiserver

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

// TestSnapshot: the admin reads the cluster snapshot `berth plan` places
// pods on (nodes without their credentials, pods with what made them and
// only their phase); an agent's token cannot.
func TestSnapshot(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	h.putPod("default", "web-1", "n1", func(p *reconciler.PodRecord) {
		p.Pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Message: "detail the plan does not need"}
	})
	snap, err := h.admin().Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Time.Equal(h.clock.Now()) {
		t.Errorf("time %v, want %v", snap.Time, h.clock.Now())
	}
	if len(snap.Nodes) != 1 || snap.Nodes[0].Name != "n1" || snap.Nodes[0].Allocatable.Memory().String() != "4Gi" {
		t.Errorf("nodes %+v", snap.Nodes)
	}
	if len(snap.Pods) != 1 {
		t.Fatalf("pods %+v", snap.Pods)
	}
	p := snap.Pods[0]
	if p.OwnerKind != "Pod" || p.OwnerName != "web-1" || p.TemplateHash != "h1" || p.Pod.Spec.NodeName != "n1" {
		t.Errorf("pod %+v", p)
	}
	if p.Pod.Status.Phase != corev1.PodRunning || p.Pod.Status.Message != "" {
		t.Errorf("pod status %+v, want the phase only", p.Pod.Status)
	}
	if code, _ := h.do(http.MethodGet, api.PathSnapshot, testTokens.Agent, "", ""); code != http.StatusForbidden {
		t.Errorf("agent token: %d, want 403", code)
	}
	if code, _ := h.do(http.MethodGet, api.PathSnapshot, "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
}
