package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/reconciler"
)

// TestRegisterRefusesBadFields: each finding of issue 17 about what
// registration accepted is a 400 that registers nothing.
func TestRegisterRefusesBadFields(t *testing.T) {
	h := newAPIHarness(t, nil)
	good := func() map[string]any {
		return map[string]any{
			"name":        "n1",
			"labels":      map[string]string{"kubernetes.io/hostname": "n1"},
			"capacity":    map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"},
			"allocatable": map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"},
			"address":     "127.0.0.1:7071",
		}
	}
	tests := []struct {
		name string
		mod  func(map[string]any)
		want int
	}{
		{name: "good", mod: func(map[string]any) {}, want: 200},
		{name: "address with a scheme", mod: func(b map[string]any) { b["address"] = "http://127.0.0.1:7071" }, want: 400},
		{name: "address with a path", mod: func(b map[string]any) { b["address"] = "127.0.0.1:7071/steal" }, want: 400},
		{name: "address with user info", mod: func(b map[string]any) { b["address"] = "u@host:7071" }, want: 400},
		{name: "address port out of range", mod: func(b map[string]any) { b["address"] = "127.0.0.1:70710" }, want: 400},
		{name: "taint effect Bogus", mod: func(b map[string]any) {
			b["taints"] = []map[string]string{{"key": "k", "effect": "Bogus"}}
		}, want: 400},
		{name: "capacity overflowing", mod: func(b map[string]any) {
			b["capacity"] = map[string]string{"cpu": "9223372036854775807"}
			b["allocatable"] = map[string]string{"cpu": "1"}
		}, want: 400},
		{name: "allocatable above capacity", mod: func(b map[string]any) {
			b["allocatable"] = map[string]string{"cpu": "3", "memory": "4Gi", "pods": "110"}
		}, want: 400},
		{name: "allocatable not in capacity", mod: func(b map[string]any) {
			b["allocatable"] = map[string]string{"cpu": "1", "example.com/gpu": "1"}
		}, want: 400},
		{name: "unknown field", mod: func(b map[string]any) { b["admin"] = true }, want: 400},
		{name: "another node's hostname label", mod: func(b map[string]any) {
			b["labels"] = map[string]string{"kubernetes.io/hostname": "other"}
		}, want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := good()
			name := "n-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			name = strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
					return r
				}
				return -1
			}, name)
			body["name"] = name
			if l, ok := body["labels"].(map[string]string); ok && l["kubernetes.io/hostname"] == "n1" {
				l["kubernetes.io/hostname"] = name
			}
			tc.mod(body)
			b, _ := json.Marshal(body)
			code, e := h.do("POST", api.PathRegister, testTokens.Agent, name, string(b))
			if code != tc.want {
				t.Fatalf("code %d (%s), want %d", code, e.Message, tc.want)
			}
			if code != 200 {
				if _, err := h.nodes.Node(name); err == nil {
					t.Fatal("a refused registration stored the node")
				}
			}
		})
	}
}

// TestStatusBounded: issue 17 grew the store by 81 MB with 20 reports of
// 3.8 MB. Messages are truncated to the kubelet's sizes, statuses of
// containers the pod does not have are dropped, and a report over the
// per-node cap is refused.
func TestStatusBounded(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	rec := h.putPod("default", "web", "n1", nil)
	big := strings.Repeat("é", 2<<20) // 4 MiB, and a rune to cut in half
	report := func(st corev1.PodStatus) error {
		_, err := h.agent("n1").ReportStatus(context.Background(), api.PodStatusReport{Pods: []api.PodStatus{
			{Namespace: "default", Name: "web", UID: string(rec.Pod.UID), Status: st}}})
		return err
	}
	st := corev1.PodStatus{Phase: corev1.PodFailed, Message: big[:1<<20], Reason: big[:1000]}
	st.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: big[:1<<20]}}},
	}
	for i := range 200 {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: fmt.Sprintf("ghost-%d", i), Image: big[:1000]})
	}
	if err := report(st); err != nil {
		t.Fatal(err)
	}
	pods, err := h.admin().Pods(context.Background(), "default")
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods %v, %v", pods, err)
	}
	got := pods.Items[0].Status
	b, _ := json.Marshal(got)
	if len(b) > 16<<10 || len(got.Message) > reconciler.MaxStatusMessage || len(got.ContainerStatuses) != 1 ||
		len(got.ContainerStatuses[0].State.Terminated.Message) > reconciler.MaxStatusMessage || len(got.Reason) > reconciler.MaxReason {
		t.Fatalf("stored status of %d bytes: message %d, reason %d, %d container statuses", len(b), len(got.Message), len(got.Reason), len(got.ContainerStatuses))
	}
	// Over the cap even once bounded: many pods each at the limits.
	var pods2 []api.PodStatus
	for i := range 400 {
		r := h.putPod("default", fmt.Sprintf("p%d", i), "n1", nil)
		pods2 = append(pods2, api.PodStatus{Namespace: "default", Name: r.Pod.Name, UID: string(r.Pod.UID), Status: corev1.PodStatus{
			Message: big[:8192], Conditions: []corev1.PodCondition{{Type: "A", Message: big[:8192]}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Message: big[:8192]}}}},
		}})
	}
	_, err = h.agent("n1").ReportStatus(context.Background(), api.PodStatusReport{Pods: pods2})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("report over the cap: %v, want 413", err)
	}
}

// TestEventsBoundedByBytes: event messages are cut to 1 KiB, so the
// events store is bounded by bytes (MaxEvents × a bounded event) as well
// as by count.
func TestEventsBoundedByBytes(t *testing.T) {
	h := newAPIHarness(t, nil)
	huge := strings.Repeat("x", 1<<20)
	h.update(func(tx reconciler.Tx) error {
		for i := range 50 {
			if err := tx.AddEvent(api.Event{Type: "Warning", Reason: "R", Kind: "Pod", Namespace: "default", Name: fmt.Sprintf("p%d", i), Message: huge,
				Time: metav1.Now().Time}); err != nil {
				return err
			}
		}
		return nil
	})
	events, err := h.admin().Events(context.Background(), client.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range events.Items {
		total += len(e.Message)
	}
	if len(events.Items) != 50 || total > 50*reconciler.MaxEventMessage {
		t.Fatalf("%d events with %d message bytes", len(events.Items), total)
	}
}
