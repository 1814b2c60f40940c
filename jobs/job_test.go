package jobs

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// jobCase is one row of the Job controller's rule tables. Fields left
// zero are not checked, except the lists and counters, which are.
type jobCase struct {
	name     string
	job      *batchv1.Job
	progress JobProgress
	pods     []ObservedPod
	now      time.Time // zero: t0

	wantErr       error
	wantCreate    []string
	wantDelete    []string
	wantActive    int32
	wantSucceeded int32
	wantFailed    int32
	wantCondition string // "Type/Reason" of the true condition, or ""
	wantRequeue   time.Time
	wantExpired   bool
	check         func(t *testing.T, r JobResult)
}

func runJobCases(t *testing.T, cases []jobCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			r, err := SyncJob(JobInput{Job: tc.job, Progress: tc.progress, Pods: tc.pods, Now: now})
			if tc.wantErr != nil || err != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if got := createdNames(r); !slices.Equal(got, tc.wantCreate) {
				t.Errorf("created %q, want %q", got, tc.wantCreate)
			}
			if got := deletedNames(r); !slices.Equal(got, tc.wantDelete) {
				t.Errorf("deleted %q, want %q", got, tc.wantDelete)
			}
			if r.Status.Active != tc.wantActive {
				t.Errorf("active = %d, want %d", r.Status.Active, tc.wantActive)
			}
			if r.Status.Succeeded != tc.wantSucceeded {
				t.Errorf("succeeded = %d, want %d", r.Status.Succeeded, tc.wantSucceeded)
			}
			if r.Status.Failed != tc.wantFailed {
				t.Errorf("failed = %d, want %d", r.Status.Failed, tc.wantFailed)
			}
			if got := condition(r.Status); got != tc.wantCondition {
				t.Errorf("condition = %q, want %q", got, tc.wantCondition)
			}
			if !r.RequeueAt.Equal(tc.wantRequeue) {
				t.Errorf("requeue at %v, want %v", r.RequeueAt, tc.wantRequeue)
			}
			if r.Expired != tc.wantExpired {
				t.Errorf("expired = %v, want %v", r.Expired, tc.wantExpired)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestJobCompletionsAndParallelism(t *testing.T) {
	runJobCases(t, []jobCase{
		{
			name:       "completions 3 parallelism 2 starts two pods",
			job:        testJob(parallel(2, 3)),
			wantCreate: []string{"work-0", "work-1"},
			wantActive: 2,
			check: func(t *testing.T, r JobResult) {
				if r.Status.StartTime == nil || !r.Status.StartTime.Time.Equal(t0) {
					t.Errorf("startTime = %v, want %v", r.Status.StartTime, t0)
				}
				if !r.Changed {
					t.Error("Changed = false for a first sync")
				}
			},
		},
		{
			name:          "two of three succeeded: one more pod, not two",
			job:           testJob(parallel(2, 3), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodSucceeded)},
			wantCreate:    []string{"work-2"},
			wantActive:    1,
			wantSucceeded: 2,
		},
		{
			name:          "third success completes the Job",
			job:           testJob(parallel(2, 3), withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Succeeded: 2})),
			progress:      JobProgress{Counted: map[types.UID]bool{"work-0-uid": true, "work-1-uid": true}, NextPod: 3},
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodSucceeded), obs("work-2", corev1.PodSucceeded)},
			now:           t0.Add(time.Minute),
			wantSucceeded: 3,
			wantCondition: "Complete/CompletionsReached",
			check: func(t *testing.T, r JobResult) {
				if r.Status.CompletionTime == nil || !r.Status.CompletionTime.Time.Equal(t0.Add(time.Minute)) {
					t.Errorf("completionTime = %v", r.Status.CompletionTime)
				}
				if len(r.Events) != 1 || r.Events[0].Reason != ReasonCompleted {
					t.Errorf("events = %+v, want one Completed", r.Events)
				}
			},
		},
		{
			name:       "work queue (completions unset) starts parallelism pods",
			job:        testJob(parallel(3, -1)),
			wantCreate: []string{"work-0", "work-1", "work-2"},
			wantActive: 3,
		},
		{
			name:          "work queue with a success starts nothing new and waits for the rest",
			job:           testJob(parallel(3, -1), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodRunning), obs("work-2", corev1.PodRunning)},
			wantActive:    2,
			wantSucceeded: 1,
		},
		{
			name:          "work queue is done when one pod succeeded and none run",
			job:           testJob(parallel(3, -1), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodSucceeded), obs("work-2", corev1.PodFailed)},
			wantSucceeded: 2,
			wantFailed:    1,
			wantCondition: "Complete/CompletionsReached",
		},
		{
			name: "neither set defaults to one completion, one at a time",
			job: testJob(func(j *batchv1.Job) {
				j.Spec.Parallelism, j.Spec.Completions = nil, nil
			}),
			wantCreate: []string{"work-0"},
			wantActive: 1,
		},
		{
			name:       "parallelism 0 runs nothing",
			job:        testJob(parallel(0, 3)),
			wantActive: 0,
		},
		{
			name: "parallelism lowered: pending and unready pods stop first, newest first",
			job:  testJob(parallel(1, 5), withStatus(started())),
			pods: []ObservedPod{
				obs("work-0", corev1.PodRunning, ready),
				obs("work-1", corev1.PodRunning),
				obs("work-2", corev1.PodPending),
				obs("work-3", corev1.PodRunning, ready),
			},
			wantDelete: []string{"work-1", "work-2", "work-3"},
			wantActive: 1,
			check: func(t *testing.T, r JobResult) {
				if *r.Status.Terminating != 3 || *r.Status.Ready != 1 {
					t.Errorf("terminating = %d, ready = %d, want 3 and 1", *r.Status.Terminating, *r.Status.Ready)
				}
			},
		},
		{
			name:       "names continue after the highest pod seen, even if progress lags",
			job:        testJob(parallel(2, 5), withStatus(started())),
			progress:   JobProgress{NextPod: 1},
			pods:       []ObservedPod{obs("work-7", corev1.PodRunning)},
			wantCreate: []string{"work-8"},
			wantActive: 2,
		},
		{
			name:    "a Job without a UID is refused",
			job:     testJob(func(j *batchv1.Job) { j.UID = "" }),
			wantErr: errNoUID,
		},
		{
			name:    "negative parallelism is a spec error",
			job:     testJob(parallel(-1, 1)),
			wantErr: ErrInvalidSpec,
		},
	})
}

func TestJobPodShape(t *testing.T) {
	j := testJob(parallel(2, 3), indexed, func(j *batchv1.Job) {
		j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		j.Spec.Template.Annotations = map[string]string{"note": "kept"}
	})
	r, err := SyncJob(JobInput{Job: j, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := createdNames(r), []string{"work-0-0", "work-1-1"}; !slices.Equal(got, want) {
		t.Fatalf("created %q, want %q", got, want)
	}
	for i, p := range r.Create {
		ix := []string{"0", "1"}[i]
		for k, v := range map[string]string{
			"app": "work", JobNameLabel: "work", LegacyJobNameLabel: "work",
			ControllerUIDLabel: "job-uid", LegacyControllerUIDLabel: "job-uid", CompletionIndexAnnotation: ix,
		} {
			if p.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", p.Name, k, p.Labels[k], v)
			}
		}
		if p.Annotations[CompletionIndexAnnotation] != ix || p.Annotations["note"] != "kept" {
			t.Errorf("%s: annotations %v", p.Name, p.Annotations)
		}
		for _, c := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
			if !slices.Contains(c.Env, corev1.EnvVar{Name: CompletionIndexEnv, Value: ix}) {
				t.Errorf("%s/%s: env %v lacks %s=%s", p.Name, c.Name, c.Env, CompletionIndexEnv, ix)
			}
		}
		if p.Spec.Hostname != "work-"+ix {
			t.Errorf("%s: hostname %q", p.Name, p.Spec.Hostname)
		}
		if p.Namespace != "default" || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != "job-uid" || !*p.OwnerReferences[0].Controller {
			t.Errorf("%s: namespace %q owner %+v", p.Name, p.Namespace, p.OwnerReferences)
		}
		if _, ok := p.Annotations[GangAnnotation]; ok {
			t.Errorf("%s: gang annotation on a Job without %s", p.Name, GangMinAnnotation)
		}
	}
	// The template itself must be left alone.
	if len(j.Spec.Template.Spec.Containers[0].Env) != 0 || len(j.Spec.Template.Labels) != 1 {
		t.Errorf("template changed: %+v", j.Spec.Template)
	}
}

func TestJobIndexed(t *testing.T) {
	runJobCases(t, []jobCase{
		{
			name:          "a succeeded index is not run again; the next free index is",
			job:           testJob(parallel(2, 3), indexed, withStatus(started())),
			pods:          []ObservedPod{obs("work-0-0", corev1.PodSucceeded, index(0)), obs("work-1-1", corev1.PodRunning, index(1))},
			wantCreate:    []string{"work-2-2"},
			wantActive:    2,
			wantSucceeded: 1,
			check: func(t *testing.T, r JobResult) {
				if r.Status.CompletedIndexes != "0" {
					t.Errorf("completedIndexes = %q", r.Status.CompletedIndexes)
				}
			},
		},
		{
			name:          "one success per index: a second success of index 0 does not count",
			job:           testJob(parallel(1, 2), indexed, withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Succeeded: 1, CompletedIndexes: "0"})),
			progress:      JobProgress{Counted: map[types.UID]bool{"work-0-0-uid": true}, NextPod: 2},
			pods:          []ObservedPod{obs("work-0-0", corev1.PodSucceeded, index(0)), obs("work-0-1", corev1.PodSucceeded, index(0))},
			wantCreate:    []string{"work-1-2"},
			wantActive:    1,
			wantSucceeded: 1,
		},
		{
			name: "duplicate pods of one index: the newer one stops",
			job:  testJob(parallel(2, 2), indexed, withStatus(started())),
			pods: []ObservedPod{obs("work-1-3", corev1.PodRunning, index(1)), obs("work-1-1", corev1.PodRunning, index(1))},
			// index 0 has no pod: it gets one.
			wantCreate: []string{"work-0-4"},
			wantDelete: []string{"work-1-3"},
			wantActive: 2,
		},
		{
			name:       "a pod with an index out of range stops",
			job:        testJob(parallel(1, 1), indexed, withStatus(started())),
			pods:       []ObservedPod{obs("work-5-0", corev1.PodRunning, index(5))},
			wantCreate: []string{"work-0-1"},
			wantDelete: []string{"work-5-0"},
			wantActive: 1,
		},
		{
			name:          "all indexes succeeded: Complete",
			job:           testJob(parallel(3, 3), indexed, withStatus(started())),
			pods:          []ObservedPod{obs("work-0-0", corev1.PodSucceeded, index(0)), obs("work-1-1", corev1.PodSucceeded, index(1)), obs("work-2-2", corev1.PodSucceeded, index(2))},
			wantSucceeded: 3,
			wantCondition: "Complete/CompletionsReached",
			check: func(t *testing.T, r JobResult) {
				if r.Status.CompletedIndexes != "0-2" {
					t.Errorf("completedIndexes = %q, want 0-2", r.Status.CompletedIndexes)
				}
			},
		},
		{
			name:    "Indexed without completions is a spec error",
			job:     testJob(parallel(1, -1), indexed),
			wantErr: ErrInvalidSpec,
		},
	})
}

func TestJobGang(t *testing.T) {
	gang := func(v string) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Annotations = map[string]string{GangMinAnnotation: v} }
	}
	runJobCases(t, []jobCase{
		{
			name:       "parallelism 3 with gang-min 2: every pod is in the gang",
			job:        testJob(parallel(3, 3), gang("2")),
			wantCreate: []string{"work-0", "work-1", "work-2"},
			wantActive: 3,
			check: func(t *testing.T, r JobResult) {
				for _, p := range r.Create {
					if p.Annotations[GangAnnotation] != "default/work" || p.Annotations[GangMinAnnotation] != "2" {
						t.Errorf("%s: annotations %v", p.Name, p.Annotations)
					}
				}
			},
		},
		{
			name:          "the last pods of a gang never ask for more members than remain",
			job:           testJob(parallel(3, 4), gang("3"), withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Succeeded: 3})),
			progress:      JobProgress{NextPod: 3},
			wantCreate:    []string{"work-3"},
			wantActive:    1,
			wantSucceeded: 3,
			check: func(t *testing.T, r JobResult) {
				if got := r.Create[0].Annotations[GangMinAnnotation]; got != "1" {
					t.Errorf("gang-min = %q, want 1", got)
				}
			},
		},
		{
			name:       "parallelism 1: no gang",
			job:        testJob(parallel(1, 1), gang("1")),
			wantCreate: []string{"work-0"},
			wantActive: 1,
			check: func(t *testing.T, r JobResult) {
				if _, ok := r.Create[0].Annotations[GangAnnotation]; ok {
					t.Error("gang annotation with parallelism 1")
				}
			},
		},
		{
			name:    "gang-min above parallelism is a spec error",
			job:     testJob(parallel(2, 2), gang("3")),
			wantErr: ErrInvalidSpec,
		},
		{
			name:    "gang-min not a number is a spec error",
			job:     testJob(parallel(2, 2), gang("two")),
			wantErr: ErrInvalidSpec,
		},
	})
}

func TestJobBackoff(t *testing.T) {
	runJobCases(t, []jobCase{
		{
			name:        "first failure: the replacement waits 10s",
			job:         testJob(withStatus(started())),
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed, at(t0))},
			wantFailed:  1,
			wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name:       "after the back-off the replacement is created",
			job:        testJob(withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Failed: 1})),
			progress:   JobProgress{Counted: map[types.UID]bool{"work-0-uid": true}, FailuresSinceSuccess: 1, LastFailure: t0, NextPod: 1},
			pods:       []ObservedPod{obs("work-0", corev1.PodFailed, at(t0))},
			now:        t0.Add(10 * time.Second),
			wantCreate: []string{"work-1"},
			wantActive: 1,
			wantFailed: 1,
		},
		{
			name:        "third failure in a row waits 40s",
			job:         testJob(withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Failed: 2})),
			progress:    JobProgress{Counted: map[types.UID]bool{"work-0-uid": true, "work-1-uid": true}, FailuresSinceSuccess: 2, LastFailure: t0, NextPod: 2},
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed), obs("work-1", corev1.PodFailed), obs("work-2", corev1.PodFailed, at(t0.Add(time.Minute)))},
			now:         t0.Add(time.Minute),
			wantFailed:  3,
			wantRequeue: t0.Add(time.Minute + 40*time.Second),
		},
		{
			name:        "the delay is capped at 10 minutes",
			job:         testJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(100) }, withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Failed: 20})),
			progress:    JobProgress{FailuresSinceSuccess: 20, LastFailure: t0, NextPod: 20},
			wantFailed:  20,
			wantRequeue: t0.Add(10 * time.Minute),
		},
		{
			name:          "a success resets the back-off",
			job:           testJob(parallel(1, 2), withStatus(started())),
			progress:      JobProgress{FailuresSinceSuccess: 5, LastFailure: t0, NextPod: 1},
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded, at(t0))},
			wantCreate:    []string{"work-1"},
			wantActive:    1,
			wantSucceeded: 1,
			check: func(t *testing.T, r JobResult) {
				if r.Progress.FailuresSinceSuccess != 0 {
					t.Errorf("failuresSinceSuccess = %d", r.Progress.FailuresSinceSuccess)
				}
			},
		},
	})
}

func TestBackoffDelay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int32
		want     time.Duration
	}{
		{name: "no failure", failures: 0, want: 0},
		{name: "one", failures: 1, want: 10 * time.Second},
		{name: "two", failures: 2, want: 20 * time.Second},
		{name: "three", failures: 3, want: 40 * time.Second},
		{name: "six", failures: 6, want: 320 * time.Second},
		{name: "seven reaches the cap", failures: 7, want: 10 * time.Minute},
		{name: "a thousand stays capped", failures: 1000, want: 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoffDelay(tc.failures); got != tc.want {
				t.Errorf("backoffDelay(%d) = %v, want %v", tc.failures, got, tc.want)
			}
		})
	}
}

func TestJobBackoffLimit(t *testing.T) {
	onFailure := func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }
	runJobCases(t, []jobCase{
		{
			name:        "failures equal to backoffLimit: still retrying",
			job:         testJob(parallel(1, 1), func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(2) }, withStatus(started())),
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed, at(t0)), obs("work-1", corev1.PodFailed, at(t0))},
			wantFailed:  2,
			wantRequeue: t0.Add(20 * time.Second),
		},
		{
			name: "failures above backoffLimit: Failed, running pods stopped",
			job:  testJob(parallel(2, 4), func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(1) }, withStatus(started())),
			pods: []ObservedPod{
				obs("work-0", corev1.PodFailed, at(t0)), obs("work-1", corev1.PodFailed, at(t0)),
				obs("work-2", corev1.PodRunning), obs("work-3", corev1.PodSucceeded),
			},
			wantDelete:    []string{"work-2"},
			wantFailed:    2,
			wantSucceeded: 1,
			wantCondition: "Failed/BackoffLimitExceeded",
			check: func(t *testing.T, r JobResult) {
				if r.Status.CompletionTime != nil {
					t.Error("completionTime set on a failed Job")
				}
				if len(r.Events) != 1 || r.Events[0].Type != corev1.EventTypeWarning || r.Events[0].Reason != batchv1.JobReasonBackoffLimitExceeded {
					t.Errorf("events = %+v", r.Events)
				}
			},
		},
		{
			name:          "OnFailure: container restarts count against backoffLimit",
			job:           testJob(onFailure, func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(3) }, withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodRunning, restarts(3))},
			wantDelete:    []string{"work-0"},
			wantCondition: "Failed/BackoffLimitExceeded",
		},
		{
			name:       "OnFailure: fewer restarts than the limit keep running",
			job:        testJob(onFailure, func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(3) }, withStatus(started())),
			pods:       []ObservedPod{obs("work-0", corev1.PodRunning, restarts(2))},
			wantActive: 1,
		},
		{
			name:          "OnFailure with backoffLimit 0: one restart fails the Job",
			job:           testJob(onFailure, func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(0) }, withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodRunning, restarts(1))},
			wantDelete:    []string{"work-0"},
			wantCondition: "Failed/BackoffLimitExceeded",
		},
		{
			name:       "Never: restarts do not count (there are none to count)",
			job:        testJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(0) }, withStatus(started())),
			pods:       []ObservedPod{obs("work-0", corev1.PodRunning, restarts(5))},
			wantActive: 1,
		},
	})
}

func TestJobBackoffLimitPerIndex(t *testing.T) {
	perIndex := func(limit int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = i32(limit); j.Spec.BackoffLimit = nil }
	}
	runJobCases(t, []jobCase{
		{
			name: "an index failing past its limit is given up; the others go on",
			job:  testJob(parallel(3, 3), indexed, perIndex(1), withStatus(started())),
			progress: JobProgress{
				Counted:       map[types.UID]bool{"work-1-1-uid": true},
				IndexFailures: map[int32]IndexFailures{1: {Count: 1, Last: t0}},
				NextPod:       4,
			},
			pods: []ObservedPod{
				obs("work-0-0", corev1.PodRunning, index(0)),
				obs("work-1-1", corev1.PodFailed, index(1), at(t0)),
				obs("work-1-3", corev1.PodFailed, index(1), at(t0.Add(time.Minute))),
				obs("work-2-2", corev1.PodRunning, index(2)),
			},
			now:        t0.Add(time.Minute),
			wantActive: 2,
			wantFailed: 1, // only the newly counted failure; status started at 0
			check: func(t *testing.T, r JobResult) {
				if r.Status.FailedIndexes == nil || *r.Status.FailedIndexes != "1" {
					t.Errorf("failedIndexes = %v, want 1", r.Status.FailedIndexes)
				}
			},
		},
		{
			name:       "per-index back-off holds back only the failed index",
			job:        testJob(parallel(3, 3), indexed, perIndex(2), withStatus(started())),
			pods:       []ObservedPod{obs("work-0-0", corev1.PodRunning, index(0)), obs("work-1-1", corev1.PodFailed, index(1), at(t0))},
			wantCreate: []string{"work-2-2"},
			wantActive: 2,
			wantFailed: 1,
			// index 1 may come back 10s after its failure
			wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name:          "every index done and one failed: Failed with FailedIndexes",
			job:           testJob(parallel(2, 2), indexed, perIndex(0), withStatus(started())),
			pods:          []ObservedPod{obs("work-0-0", corev1.PodSucceeded, index(0)), obs("work-1-1", corev1.PodFailed, index(1), at(t0))},
			wantSucceeded: 1,
			wantFailed:    1,
			wantCondition: "Failed/FailedIndexes",
		},
		{
			name: "more failed indexes than maxFailedIndexes: Failed at once",
			job: testJob(parallel(2, 4), indexed, perIndex(0), func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = i32(0) },
				withStatus(started())),
			pods:          []ObservedPod{obs("work-0-0", corev1.PodRunning, index(0)), obs("work-1-1", corev1.PodFailed, index(1), at(t0))},
			wantDelete:    []string{"work-0-0"},
			wantFailed:    1,
			wantCondition: "Failed/MaxFailedIndexesExceeded",
		},
		{
			name:    "backoffLimitPerIndex on a NonIndexed Job is a spec error",
			job:     testJob(perIndex(1)),
			wantErr: ErrInvalidSpec,
		},
	})
}

func TestJobPodFailurePolicy(t *testing.T) {
	policy := func(rules ...batchv1.PodFailurePolicyRule) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules} }
	}
	rule := func(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, container string, codes ...int32) batchv1.PodFailurePolicyRule {
		r := batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
		if container != "" {
			r.OnExitCodes.ContainerName = &container
		}
		return r
	}
	in, notIn := batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn
	runJobCases(t, []jobCase{
		{
			name:          "FailJob on a matching exit code fails the Job at once",
			job:           testJob(parallel(2, 2), policy(rule(batchv1.PodFailurePolicyActionFailJob, in, "", 42)), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 42)), obs("work-1", corev1.PodRunning)},
			wantDelete:    []string{"work-1"},
			wantFailed:    1,
			wantCondition: "Failed/PodFailurePolicy",
			check: func(t *testing.T, r JobResult) {
				msg := r.Status.Conditions[0].Message
				if !strings.Contains(msg, "Container main for pod default/work-0 failed with exit code 42 matching FailJob rule at index 0") {
					t.Errorf("message = %q", msg)
				}
			},
		},
		{
			name:       "Ignore: not counted, replaced without back-off",
			job:        testJob(policy(rule(batchv1.PodFailurePolicyActionIgnore, in, "", 137)), withStatus(started())),
			pods:       []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 137), at(t0))},
			wantCreate: []string{"work-1"},
			wantActive: 1,
		},
		{
			name:        "Count: counted like any failure",
			job:         testJob(policy(rule(batchv1.PodFailurePolicyActionCount, in, "", 1)), withStatus(started())),
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 1), at(t0))},
			wantFailed:  1,
			wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name:          "NotIn matches a code outside the list",
			job:           testJob(policy(rule(batchv1.PodFailurePolicyActionFailJob, notIn, "", 1, 2)), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 3))},
			wantFailed:    1,
			wantCondition: "Failed/PodFailurePolicy",
		},
		{
			name: "containerName limits the rule to that container",
			job: testJob(policy(rule(batchv1.PodFailurePolicyActionFailJob, in, "sidecar", 42)), withStatus(started()), func(j *batchv1.Job) {
				j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
			}),
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 42), at(t0))},
			wantFailed:  1,
			wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name:        "exit code 0 never matches, even with NotIn",
			job:         testJob(policy(rule(batchv1.PodFailurePolicyActionFailJob, notIn, "", 1)), withStatus(started())),
			pods:        []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 0), at(t0))},
			wantFailed:  1,
			wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name: "the first matching rule wins",
			job: testJob(policy(
				rule(batchv1.PodFailurePolicyActionIgnore, in, "", 42),
				rule(batchv1.PodFailurePolicyActionFailJob, in, "", 42),
			), withStatus(started())),
			pods:       []ObservedPod{obs("work-0", corev1.PodFailed, exit("main", 42))},
			wantCreate: []string{"work-1"},
			wantActive: 1,
		},
		{
			name: "FailIndex gives up the pod's index",
			job: testJob(parallel(2, 2), indexed, func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = i32(3) },
				policy(rule(batchv1.PodFailurePolicyActionFailIndex, in, "", 5)), withStatus(started())),
			pods:       []ObservedPod{obs("work-0-0", corev1.PodFailed, index(0), exit("main", 5)), obs("work-1-1", corev1.PodRunning, index(1))},
			wantActive: 1,
			wantFailed: 1,
			check: func(t *testing.T, r JobResult) {
				if *r.Status.FailedIndexes != "0" {
					t.Errorf("failedIndexes = %q", *r.Status.FailedIndexes)
				}
			},
		},
		{
			name: "onPodConditions is refused, not ignored",
			job: testJob(policy(batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}})),
			wantErr: ErrInvalidSpec,
		},
	})
}

func TestJobActiveDeadline(t *testing.T) {
	deadline := func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = i64(60) }
	runJobCases(t, []jobCase{
		{
			name:        "before the deadline: wake at the deadline",
			job:         testJob(deadline, withStatus(started())),
			pods:        []ObservedPod{obs("work-0", corev1.PodRunning)},
			now:         t0.Add(30 * time.Second),
			wantActive:  1,
			wantRequeue: t0.Add(time.Minute),
		},
		{
			name:          "at the deadline: Failed, pods stopped",
			job:           testJob(deadline, withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodRunning)},
			now:           t0.Add(time.Minute),
			wantDelete:    []string{"work-0"},
			wantCondition: "Failed/DeadlineExceeded",
		},
		{
			name: "a suspended Job's deadline does not run",
			job: testJob(deadline, func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) },
				withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended"}}})),
			now:           t0.Add(time.Hour),
			wantCondition: "Suspended/JobSuspended",
		},
	})
}

func TestJobTTL(t *testing.T) {
	ttl := func(s int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = i32(s) }
	}
	done := batchv1.JobStatus{
		StartTime: &metav1.Time{Time: t0}, CompletionTime: &metav1.Time{Time: t0}, Succeeded: 1,
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: metav1.Time{Time: t0}}},
	}
	finishedPods := []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodFailed)}
	runJobCases(t, []jobCase{
		{
			name:          "finished: pods are kept for their logs until the TTL",
			job:           testJob(ttl(100), withStatus(done)),
			pods:          finishedPods,
			now:           t0.Add(50 * time.Second),
			wantSucceeded: 1,
			wantCondition: "Complete/CompletionsReached",
			wantRequeue:   t0.Add(100 * time.Second),
		},
		{
			name:          "TTL passed: the Job expires and all its pods go",
			job:           testJob(ttl(100), withStatus(done)),
			pods:          finishedPods,
			now:           t0.Add(100 * time.Second),
			wantDelete:    []string{"work-0", "work-1"},
			wantSucceeded: 1,
			wantCondition: "Complete/CompletionsReached",
			wantExpired:   true,
		},
		{
			name:          "no TTL: finished pods stay",
			job:           testJob(withStatus(done)),
			pods:          finishedPods,
			now:           t0.Add(1000 * time.Hour),
			wantSucceeded: 1,
			wantCondition: "Complete/CompletionsReached",
		},
		{
			name:          "TTL 0: expires as it finishes",
			job:           testJob(ttl(0), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded)},
			wantDelete:    []string{"work-0"},
			wantSucceeded: 1,
			wantCondition: "Complete/CompletionsReached",
			wantExpired:   true,
		},
		{
			name:          "a finished Job stops a pod still running (crash between finishing and stopping)",
			job:           testJob(withStatus(done)),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-9", corev1.PodRunning)},
			wantDelete:    []string{"work-9"},
			wantSucceeded: 1,
			wantCondition: "Complete/CompletionsReached",
		},
	})
}

func TestJobSuspend(t *testing.T) {
	suspend := func(v bool) func(*batchv1.Job) { return func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(v) } }
	suspendedStatus := batchv1.JobStatus{
		StartTime:  &metav1.Time{Time: t0},
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended"}},
	}
	runJobCases(t, []jobCase{
		{
			name:          "created suspended: no pods, no start time",
			job:           testJob(suspend(true)),
			wantCondition: "Suspended/JobSuspended",
			check: func(t *testing.T, r JobResult) {
				if r.Status.StartTime != nil {
					t.Errorf("startTime = %v", r.Status.StartTime)
				}
			},
		},
		{
			name:          "suspending stops running pods",
			job:           testJob(parallel(2, 2), suspend(true), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodRunning), obs("work-1", corev1.PodPending)},
			wantDelete:    []string{"work-0", "work-1"},
			wantCondition: "Suspended/JobSuspended",
			check: func(t *testing.T, r JobResult) {
				if len(r.Events) != 1 || r.Events[0].Reason != ReasonSuspended {
					t.Errorf("events = %+v", r.Events)
				}
			},
		},
		{
			name:          "a pod stopped by suspension that ends Failed is not a failure",
			job:           testJob(suspend(true), withStatus(suspendedStatus)),
			pods:          []ObservedPod{obs("work-0", corev1.PodFailed, deleting)},
			wantCondition: "Suspended/JobSuspended",
		},
		{
			name:       "resuming restarts the clock and the pods",
			job:        testJob(suspend(false), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = i64(60) }, withStatus(suspendedStatus)),
			now:        t0.Add(time.Hour),
			wantCreate: []string{"work-0"},
			wantActive: 1,
			// the deadline counts from the resume
			wantRequeue: t0.Add(time.Hour + time.Minute),
			check: func(t *testing.T, r JobResult) {
				if !r.Status.StartTime.Time.Equal(t0.Add(time.Hour)) {
					t.Errorf("startTime = %v", r.Status.StartTime)
				}
				c := r.Status.Conditions[0]
				if c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
					t.Errorf("condition = %+v", c)
				}
			},
		},
	})
}

func TestJobExactlyOnce(t *testing.T) {
	runJobCases(t, []jobCase{
		{
			name:          "a pod reported twice counts once",
			job:           testJob(parallel(1, 3), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-0", corev1.PodSucceeded)},
			wantCreate:    []string{"work-1"},
			wantActive:    1,
			wantSucceeded: 1,
		},
		{
			name:          "a stale running report beside a finished one: the finished one wins",
			job:           testJob(parallel(1, 3), withStatus(started())),
			pods:          []ObservedPod{obs("work-0", corev1.PodRunning), obs("work-0", corev1.PodSucceeded)},
			wantCreate:    []string{"work-1"},
			wantActive:    1,
			wantSucceeded: 1,
		},
		{
			name:          "a pod already counted is not counted again",
			job:           testJob(parallel(1, 3), withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Succeeded: 1})),
			progress:      JobProgress{Counted: map[types.UID]bool{"work-0-uid": true}, NextPod: 1},
			pods:          []ObservedPod{obs("work-0", corev1.PodSucceeded)},
			wantCreate:    []string{"work-1"},
			wantActive:    1,
			wantSucceeded: 1,
		},
	})

	t.Run("counted UIDs are forgotten once their pods are gone", func(t *testing.T) {
		tests := []struct {
			name        string
			counted     []types.UID
			pods        []ObservedPod
			wantCounted []types.UID
		}{
			{
				name:        "a counted pod still in the store stays remembered",
				counted:     []types.UID{"work-0-uid"},
				pods:        []ObservedPod{obs("work-0", corev1.PodSucceeded), obs("work-1", corev1.PodRunning)},
				wantCounted: []types.UID{"work-0-uid"},
			},
			{
				name:        "a counted pod deleted from the store is dropped; its count stays in status",
				counted:     []types.UID{"work-0-uid", "work-1-uid"},
				pods:        []ObservedPod{obs("work-1", corev1.PodSucceeded), obs("work-2", corev1.PodRunning)},
				wantCounted: []types.UID{"work-1-uid"},
			},
			{
				name:    "all counted pods gone: nothing is remembered",
				counted: []types.UID{"work-0-uid", "work-1-uid"},
				pods:    []ObservedPod{obs("work-2", corev1.PodRunning)},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				prog := JobProgress{Counted: map[types.UID]bool{}, NextPod: 3}
				for _, uid := range tt.counted {
					prog.Counted[uid] = true
				}
				job := testJob(parallel(1, 5), withStatus(batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}, Succeeded: 2}))
				r, err := SyncJob(JobInput{Job: job, Progress: prog, Pods: tt.pods, Now: t0})
				if err != nil {
					t.Fatal(err)
				}
				got := slices.Sorted(maps.Keys(r.Progress.Counted))
				if !slices.Equal(got, tt.wantCounted) {
					t.Errorf("counted %v, want %v", got, tt.wantCounted)
				}
				if r.Status.Succeeded != 2 {
					t.Errorf("succeeded %d, want the 2 already counted", r.Status.Succeeded)
				}
			})
		}
	})

	t.Run("replaying a sync whose result was lost gives the same result", func(t *testing.T) {
		c := &cluster{job: testJob(parallel(2, 4))}
		c.sync(t, t0)
		c.finish("work-0", corev1.PodSucceeded, t0.Add(time.Second))
		c.finish("work-1", corev1.PodFailed, t0.Add(time.Second))
		first, err := SyncJob(c.input(t0.Add(time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		// Crash: nothing of first was applied. Same input, same answer.
		again, err := SyncJob(c.input(t0.Add(time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(createdNames(first), createdNames(again)) || first.Status.Succeeded != again.Status.Succeeded ||
			first.Status.Failed != again.Status.Failed || first.RequeueAt != again.RequeueAt {
			t.Fatalf("replay differs: %+v vs %+v", first, again)
		}
		// Crash after the pods were created but before status and
		// progress were written: the replay sees the new pods and neither
		// creates more nor counts twice.
		for _, p := range first.Create {
			c.pods = append(c.pods, ObservedPod{Name: p.Name, UID: types.UID(p.Name + "-uid"), Index: -1, Phase: corev1.PodPending})
		}
		replay := c.sync(t, t0.Add(time.Minute))
		if len(replay.Create) != 0 || replay.Status.Succeeded != 1 || replay.Status.Failed != 1 {
			t.Fatalf("after a partial apply: created %q, succeeded %d, failed %d", createdNames(replay), replay.Status.Succeeded, replay.Status.Failed)
		}
		// And once written, syncing again changes nothing.
		if r := c.sync(t, t0.Add(time.Minute)); r.Changed || len(r.Create) != 0 || len(r.Delete) != 0 {
			t.Fatalf("a settled Job changed: %+v", r)
		}
	})
}

func TestJobCompletesThreeOfThreeWithParallelismTwo(t *testing.T) {
	c := &cluster{job: testJob(parallel(2, 3))}
	now := t0
	for step := 0; step < 10; step++ {
		r := c.sync(t, now)
		if condition(r.Status) == "Complete/CompletionsReached" {
			break
		}
		if r.Status.Active > 2 {
			t.Fatalf("step %d: %d active pods, parallelism is 2", step, r.Status.Active)
		}
		now = now.Add(time.Second)
		for i := range c.pods {
			if c.pods[i].Phase == corev1.PodPending && !c.pods[i].Deleting {
				c.finish(c.pods[i].Name, corev1.PodSucceeded, now)
			}
		}
	}
	succeeded := 0
	for _, p := range c.pods {
		if p.Phase == corev1.PodSucceeded {
			succeeded++
		}
	}
	if condition(c.job.Status) != "Complete/CompletionsReached" || c.job.Status.Succeeded != 3 || succeeded != 3 {
		t.Fatalf("condition %q, status succeeded %d, pods succeeded %d; want Complete with exactly 3",
			condition(c.job.Status), c.job.Status.Succeeded, succeeded)
	}
}
