package reconciler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
