package nodeagent_test

import (
	"bytes"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/images"
)

func TestImagePullPolicies(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := images.WriteArchive(&archive, img, "localhost/test/archived:1"); err != nil {
		t.Fatal(err)
	}
	names, err := nd.agent.ImportImages(t.Context(), &archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "localhost/test/archived:1" {
		t.Fatalf("imported %v", names)
	}
	tests := []struct {
		name   string
		image  string
		policy corev1.PullPolicy
		want   string // "running" or a waiting reason
	}{
		{name: "Never uses an imported archive", image: "localhost/test/archived:1", policy: corev1.PullNever, want: "running"},
		{name: "Never does not pull", image: nd.parts.reg.Host + "/library/busybox:never", policy: corev1.PullNever, want: "ErrImageNeverPull"},
		{name: "Always pulls", image: nd.parts.busybox, policy: corev1.PullAlways, want: "running"},
		{name: "IfNotPresent pulls when missing", image: nd.parts.busybox, policy: corev1.PullIfNotPresent, want: "running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := idle("app")
			c.Image, c.ImagePullPolicy = tc.image, tc.policy
			zero := int64(0)
			pod := nd.pod("img", corev1.PodSpec{Containers: []corev1.Container{c}, TerminationGracePeriodSeconds: &zero})
			nd.agent.Sync([]*corev1.Pod{pod})
			defer nd.agent.Sync(nil)
			nd.waitFor(pod.UID, 60*time.Second, tc.want, func(p *corev1.Pod) bool {
				cs := containerStatus(p, "app")
				if tc.want == "running" {
					return cs.State.Running != nil
				}
				return cs.State.Waiting != nil && cs.State.Waiting.Reason == tc.want
			})
		})
	}
}

// A container that ignores SIGTERM is killed when the grace period ends,
// not before (the fake clock holds the grace period still).
func TestGracePeriodThenSIGKILL(t *testing.T) {
	clk := newFakeClock()
	nd := newNode(t, nodeOpts{clock: clk})
	grace := int64(30)
	// sleep as PID 1 has no SIGTERM handler, so SIGTERM does nothing.
	pod := nd.pod("stubborn", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Command: []string{"sleep", "3600"}}}, TerminationGracePeriodSeconds: &grace})
	nd.agent.Sync([]*corev1.Pod{pod})
	nd.waitFor(pod.UID, 60*time.Second, "running", running)
	nd.agent.Sync(nil)
	// SIGTERM has been sent; a container it ended would be gone within
	// milliseconds. Without a clock step the grace period cannot end.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if p := nd.statusOf(pod.UID); p == nil || containerStatus(p, "app").State.Running == nil {
			t.Fatalf("container stopped before its grace period ended: %s", describe(p))
		}
	}
	clk.Step(time.Duration(grace) * time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for nd.statusOf(pod.UID) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not killed after the grace period: %s", describe(nd.statusOf(pod.UID)))
		}
		clk.Step(time.Second)
		time.Sleep(20 * time.Millisecond)
	}
}
