package jobs

import (
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// t0 is the fake "now" most tests start from.
var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }

// testJob is a Job as manifest would hand it over: defaulted, with a UID.
func testJob(mods ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Parallelism:  i32(1),
			Completions:  i32(1),
			BackoffLimit: i32(6),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "work"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}},
				},
			},
		},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

func parallel(p, c int32) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Spec.Parallelism = i32(p)
		if c < 0 {
			j.Spec.Completions = nil
		} else {
			j.Spec.Completions = i32(c)
		}
	}
}

func indexed(j *batchv1.Job) {
	m := batchv1.IndexedCompletion
	j.Spec.CompletionMode = &m
}

func withStatus(st batchv1.JobStatus) func(*batchv1.Job) {
	return func(j *batchv1.Job) { j.Status = st }
}

// started is the status of a Job that started at t0.
func started() batchv1.JobStatus {
	return batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}}
}

// podOpt changes an observed pod.
type podOpt func(*ObservedPod)

func obs(name string, phase corev1.PodPhase, opts ...podOpt) ObservedPod {
	p := ObservedPod{Name: name, UID: types.UID(name + "-uid"), Index: -1, Phase: phase}
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		code := int32(0)
		if phase == corev1.PodFailed {
			code = 1
		}
		p.Containers = []ContainerObservation{{Name: "main", ExitCode: &code}}
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func at(t time.Time) podOpt   { return func(p *ObservedPod) { p.FinishedAt = t } }
func index(ix int32) podOpt   { return func(p *ObservedPod) { p.Index = ix } }
func ready(p *ObservedPod)    { p.Ready = true }
func deleting(p *ObservedPod) { p.Deleting = true }
func exit(container string, code int32) podOpt {
	return func(p *ObservedPod) {
		p.Containers = []ContainerObservation{{Name: container, ExitCode: &code}}
	}
}
func restarts(n int32) podOpt {
	return func(p *ObservedPod) {
		p.Containers = []ContainerObservation{{Name: "main", RestartCount: n}}
	}
}

func createdNames(r JobResult) []string {
	var out []string
	for _, p := range r.Create {
		out = append(out, p.Name)
	}
	return out
}

func deletedNames(r JobResult) []string {
	var out []string
	for _, d := range r.Delete {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

// condition returns "Type/Reason" of the Job's true Complete, Failed or
// Suspended condition, or "".
func condition(st batchv1.JobStatus) string {
	for _, c := range st.Conditions {
		if c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("%s/%s", c.Type, c.Reason)
		}
	}
	return ""
}

// cluster is an in-memory stand-in for the reconciler's store, applying
// JobResults the way the reconciler is told to: pods created are observed
// Pending, pods deleted are observed Deleting, status and progress are
// written together.
type cluster struct {
	job      *batchv1.Job
	progress JobProgress
	pods     []ObservedPod
}

func (c *cluster) input(now time.Time) JobInput {
	return JobInput{Job: c.job, Progress: c.progress, Pods: slices.Clone(c.pods), Now: now}
}

func (c *cluster) apply(t *testing.T, r JobResult) {
	t.Helper()
	applyTo(c, r)
}

func (c *cluster) find(name string) int {
	return slices.IndexFunc(c.pods, func(p ObservedPod) bool { return p.Name == name })
}

// finish makes a pod end with the given phase at t.
func (c *cluster) finish(name string, phase corev1.PodPhase, t time.Time) {
	i := c.find(name)
	c.pods[i].Phase = phase
	c.pods[i].FinishedAt = t
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 1
	}
	c.pods[i].Containers = []ContainerObservation{{Name: "main", ExitCode: &code}}
}

func (c *cluster) sync(t *testing.T, now time.Time) JobResult {
	t.Helper()
	r, err := SyncJob(c.input(now))
	if err != nil {
		t.Fatalf("SyncJob: %v", err)
	}
	c.apply(t, r)
	return r
}
