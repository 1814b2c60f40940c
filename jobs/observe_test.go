package jobs

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIndexSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    string // String() after parsing; "" with wantErr
		wantLen int
		wantErr bool
	}{
		{name: "empty", in: "", want: "", wantLen: 0},
		{name: "single", in: "4", want: "4", wantLen: 1},
		{name: "runs join", in: "0,1,2,4,6,7", want: "0-2,4,6-7", wantLen: 6},
		{name: "intervals kept", in: "1,3-5,7", want: "1,3-5,7", wantLen: 5},
		{name: "overlaps merge", in: "3-5,4-6", want: "3-6", wantLen: 4},
		{name: "negative", in: "-1", wantErr: true},
		{name: "reversed interval", in: "5-3", wantErr: true},
		{name: "garbage", in: "a,b", wantErr: true},
		{name: "too many", in: "0-200000", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseIndexSet(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if s.String() != tc.want || len(s) != tc.wantLen {
				t.Errorf("parse(%q) = %q (%d), want %q (%d)", tc.in, s.String(), len(s), tc.want, tc.wantLen)
			}
		})
	}
}

func TestObservePod(t *testing.T) {
	end := metav1.Time{Time: t0.Add(time.Minute)}
	now := metav1.Time{Time: t0}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want func(t *testing.T, o ObservedPod)
	}{
		{
			name: "failed pod: index, exit codes of app and init containers, finish time, restarts",
			pod: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "w-2-0", UID: "u", Annotations: map[string]string{CompletionIndexAnnotation: "2"}},
				Status: corev1.PodStatus{
					Phase: corev1.PodFailed,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, FinishedAt: now}}}},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "main", RestartCount: 2, State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, FinishedAt: end}}}},
				},
			},
			want: func(t *testing.T, o ObservedPod) {
				if o.Index != 2 || o.Phase != corev1.PodFailed || !o.FinishedAt.Equal(end.Time) || len(o.Containers) != 2 {
					t.Fatalf("observed %+v", o)
				}
				if c := o.Containers[0]; !c.Init || *c.ExitCode != 0 {
					t.Errorf("init container %+v", c)
				}
				if c := o.Containers[1]; c.Init || *c.ExitCode != 3 || c.RestartCount != 2 {
					t.Errorf("app container %+v", c)
				}
			},
		},
		{
			name: "running, ready, being deleted, no index",
			pod: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "w-0", UID: "u", DeletionTimestamp: &now},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
					// A container that restarted keeps its last termination
					// out of the pod's finish time: the pod runs.
					ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: end}}}},
				},
			},
			want: func(t *testing.T, o ObservedPod) {
				if o.Index != -1 || !o.Ready || !o.Deleting || !o.FinishedAt.IsZero() {
					t.Errorf("observed %+v", o)
				}
			},
		},
		{
			name: "a bad index annotation reads as no index",
			pod:  &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w", Annotations: map[string]string{CompletionIndexAnnotation: "-4"}}},
			want: func(t *testing.T, o ObservedPod) {
				if o.Index != -1 {
					t.Errorf("index %d", o.Index)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.want(t, ObservePod(tc.pod)) })
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		job     string
		index   int32
		seq     int64
		want    string
		wantSeq int64
	}{
		{name: "NonIndexed", job: "work", index: -1, seq: 7, want: "work-7", wantSeq: 7},
		{name: "Indexed", job: "work", index: 3, seq: 12, want: "work-3-12", wantSeq: 12},
		{name: "job name with dashes and digits", job: "a-1-b", index: -1, seq: 0, want: "a-1-b-0", wantSeq: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := podName(tc.job, tc.index, tc.seq)
			if got != tc.want || podSeq(tc.job, got) != tc.wantSeq {
				t.Errorf("podName = %q (seq %d), want %q (seq %d)", got, podSeq(tc.job, got), tc.want, tc.wantSeq)
			}
		})
	}
	if podSeq("work", "other-3") != -1 || podSeq("work", "work-x") != -1 {
		t.Error("podSeq read a name that is not the Job's")
	}
	at := time.Date(2024, 5, 6, 10, 0, 59, 0, time.UTC)
	if got, want := ScheduledJobName("tick", at), "tick-28583160"; got != want {
		t.Errorf("ScheduledJobName = %q, want %q", got, want)
	}
	if tt, ok := scheduledTimeFromName("tick", "tick-28583160"); !ok || !tt.Equal(at.Truncate(time.Minute)) {
		t.Errorf("scheduledTimeFromName = %v, %v", tt, ok)
	}
}
