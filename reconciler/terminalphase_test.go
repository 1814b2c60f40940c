package reconciler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A pod's terminal phase is final: a later report of the same pod as
// pending or running (its node lost the sandbox and started it again)
// leaves the record Succeeded or Failed; a report of another terminal
// phase is taken.
func TestTerminalPhaseIsFinal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recorded  corev1.PodPhase
		reported  corev1.PodPhase
		wantPhase corev1.PodPhase
	}{
		{name: "succeeded stays succeeded when reported running", recorded: corev1.PodSucceeded, reported: corev1.PodRunning, wantPhase: corev1.PodSucceeded},
		{name: "succeeded stays succeeded when reported pending", recorded: corev1.PodSucceeded, reported: corev1.PodPending, wantPhase: corev1.PodSucceeded},
		{name: "failed stays failed when reported running", recorded: corev1.PodFailed, reported: corev1.PodRunning, wantPhase: corev1.PodFailed},
		{name: "running becomes succeeded", recorded: corev1.PodRunning, reported: corev1.PodSucceeded, wantPhase: corev1.PodSucceeded},
		{name: "pending becomes running", recorded: corev1.PodPending, reported: corev1.PodRunning, wantPhase: corev1.PodRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.addNode("n1", "2", "1Gi")
			h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")))
			h.converge("n1")
			now := time.Unix(1000, 0)
			if err := h.store.Update(func(tx Tx) error {
				rec, err := tx.Pod("default", "a")
				if err != nil {
					return err
				}
				rec.Pod.Status = corev1.PodStatus{Phase: tc.recorded}
				if err := tx.PutPod(rec); err != nil {
					return err
				}
				return applyPodStatus(tx, rec, corev1.PodStatus{Phase: tc.reported, Message: "reported"}, now)
			}); err != nil {
				t.Fatal(err)
			}
			var got corev1.PodPhase
			if err := h.store.View(func(tx ReadTx) error {
				rec, err := tx.Pod("default", "a")
				if err == nil {
					got = rec.Pod.Status.Phase
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got != tc.wantPhase {
				t.Errorf("recorded %s, reported %s: phase %s, want %s", tc.recorded, tc.reported, got, tc.wantPhase)
			}
		})
	}
}
