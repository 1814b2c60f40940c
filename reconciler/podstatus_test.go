package reconciler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/api"
)

func TestPodStatusEvents(t *testing.T) {
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "c", Image: "img", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}}
	}
	runningAt := func(sec int64) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "c", Image: "img", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(sec, 0)}}}
	}
	tests := []struct {
		name     string
		old, new []corev1.ContainerStatus
		want     string
	}{
		{name: "first sight", new: []corev1.ContainerStatus{waiting("ContainerCreating")}, want: "[Normal/Pulling]"},
		{name: "started", old: []corev1.ContainerStatus{waiting("ContainerCreating")}, new: []corev1.ContainerStatus{runningAt(1)}, want: "[Normal/Started]"},
		{name: "still running", old: []corev1.ContainerStatus{runningAt(1)}, new: []corev1.ContainerStatus{runningAt(1)}, want: "[]"},
		{name: "restarted", old: []corev1.ContainerStatus{runningAt(1)}, new: []corev1.ContainerStatus{runningAt(5)}, want: "[Normal/Started]"},
		{name: "crash loop", old: []corev1.ContainerStatus{runningAt(1)}, new: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}, want: "[Warning/BackOff]"},
		{name: "crash loop continues", old: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}, new: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}, want: "[]"},
		{name: "pull failed", old: []corev1.ContainerStatus{waiting("ContainerCreating")}, new: []corev1.ContainerStatus{waiting("ErrImagePull")}, want: "[Warning/Failed]"},
		{name: "pull back-off", old: []corev1.ContainerStatus{waiting("ErrImagePull")}, new: []corev1.ContainerStatus{waiting("ImagePullBackOff")}, want: "[Normal/BackOff]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}, Status: corev1.PodStatus{ContainerStatuses: tc.new}}
			var got []string
			for _, e := range podStatusEvents(pod, &corev1.PodStatus{ContainerStatuses: tc.old}, time.Unix(9, 0)) {
				got = append(got, e.Type+"/"+e.Reason)
			}
			if s := fmt.Sprint(got); s != tc.want && !(tc.want == "[]" && got == nil) {
				t.Fatalf("events %v, want %s", got, tc.want)
			}
		})
	}
}

// TestNodeEvents: an agent's events (a failed lifecycle hook) are kept
// for its own pods only, stamped with the server's clock, as the
// NodeRestriction admission plugin limits a kubelet's events.
func TestNodeEvents(t *testing.T) {
	h := newHarness(t)
	err := h.store.Update(func(tx Tx) error {
		for _, p := range []struct{ name, node string }{{"web-0", "n1"}, {"web-1", "n2"}} {
			rec := &PodRecord{Pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: p.name, UID: types.UID("uid-" + p.name)}, Spec: corev1.PodSpec{NodeName: p.node}}}
			if err := tx.PutPod(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(name, typ, reason string) api.Event {
		return api.Event{Time: time.Unix(1, 0), Type: typ, Reason: reason, Kind: "Pod", Namespace: "default", Name: name, Message: "PreStopHook failed for container app"}
	}
	rep := &api.PodStatusReport{Events: []api.Event{
		ev("web-0", "Warning", "FailedPreStopHook"),              // kept
		ev("web-1", "Warning", "FailedPreStopHook"),              // another node's pod
		ev("gone", "Warning", "FailedPreStopHook"),               // no such pod
		ev("web-0", "Critical", "FailedPreStopHook"),             // no such type
		{Type: "Warning", Reason: "X", Kind: "Node", Name: "n2"}, // not a pod
	}}
	if _, err := NewPodReports(h.store, h.clock).Report("n1", rep); err != nil {
		t.Fatal(err)
	}
	var got []api.Event
	if err := h.store.View(func(tx ReadTx) error {
		var err error
		got, err = tx.Events(100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range got {
		if e.Kind == "Pod" {
			kept = append(kept, e.Name+"/"+e.Type+"/"+e.Reason)
			if !e.Time.Equal(h.clock.Now()) {
				t.Errorf("event time %v, want the server's %v", e.Time, h.clock.Now())
			}
		}
	}
	if fmt.Sprint(kept) != "[web-0/Warning/FailedPreStopHook]" {
		t.Fatalf("kept %v; want only web-0's Warning", kept)
	}
}

// TestFinishedPodStaysFinished: an agent restarted while it holds a Job's
// succeeded pod reports it Pending until it has adopted it again (chaos
// seed 1: SIGKILL of an agent holding a CronJob run's pod). The phase of
// a finished pod never goes back, as Kubernetes' API refuses; taking the
// report made the finished Job stop the "active" pod and lose it, leaving
// status.succeeded 1 with no succeeded pod.
func TestFinishedPodStaysFinished(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, jobYAML))
	h.converge("n1")
	var rep api.PodStatusReport
	for _, p := range h.pods() {
		if p.Pod.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod %s: %s, want Succeeded", p.Pod.Name, p.Pod.Status.Phase)
		}
		rep.Pods = append(rep.Pods, api.PodStatus{Namespace: p.Pod.Namespace, Name: p.Pod.Name, UID: string(p.Pod.UID),
			Status: corev1.PodStatus{Phase: corev1.PodPending}})
	}
	if _, err := NewPodReports(h.store, h.clock).Report("n1", &rep); err != nil {
		t.Fatal(err)
	}
	h.converge("n1")
	pods := h.pods()
	succeeded := countBy(pods, func(p *PodRecord) bool { return p.Pod.Status.Phase == corev1.PodSucceeded && !p.deleting() })
	if succeeded != 3 || len(pods) != 3 {
		t.Fatalf("%d pods, %d succeeded and kept; want the 3 succeeded pods kept", len(pods), succeeded)
	}
}
