package jobs

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ObservedPod is what the Job controller needs to know about one of the
// Job's pods, as the store last recorded it. ObservePod fills it from a
// corev1.Pod; the reconciler may also fill it from its own records.
type ObservedPod struct {
	Name string
	UID  types.UID
	// Index is the completion index of an Indexed Job's pod, -1 if none.
	Index int32
	Phase corev1.PodPhase
	// Ready is the pod's Ready condition.
	Ready bool
	// Deleting is true once berth has asked for the pod to be stopped. Such
	// a pod no longer counts as active, and if it ends Failed the failure is
	// not the workload's and is not counted.
	Deleting bool
	// Containers holds init containers (Init true) and app containers.
	Containers []ContainerObservation
	// FinishedAt is when a Succeeded or Failed pod finished; zero when not
	// known, in which case the time the controller first sees it counts.
	FinishedAt time.Time
}

// ContainerObservation is one container of an observed pod.
type ContainerObservation struct {
	Name         string
	Init         bool
	RestartCount int32
	// ExitCode is set when the container's current state is terminated.
	ExitCode *int32
}

func (p *ObservedPod) finished() bool {
	return p.Phase == corev1.PodSucceeded || p.Phase == corev1.PodFailed
}

// ObservePod reads an ObservedPod from a pod object and its status: the
// completion index from its annotation, Deleting from its deletion
// timestamp, FinishedAt from the latest container termination.
func ObservePod(p *corev1.Pod) ObservedPod {
	o := ObservedPod{
		Name:     p.Name,
		UID:      p.UID,
		Index:    -1,
		Phase:    p.Status.Phase,
		Deleting: p.DeletionTimestamp != nil,
	}
	if v, ok := p.Annotations[CompletionIndexAnnotation]; ok {
		if ix, err := strconv.ParseInt(v, 10, 32); err == nil && ix >= 0 {
			o.Index = int32(ix)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			o.Ready = true
		}
	}
	add := func(statuses []corev1.ContainerStatus, init bool) {
		for _, s := range statuses {
			c := ContainerObservation{Name: s.Name, Init: init, RestartCount: s.RestartCount}
			if t := s.State.Terminated; t != nil {
				code := t.ExitCode
				c.ExitCode = &code
				if t.FinishedAt.Time.After(o.FinishedAt) {
					o.FinishedAt = t.FinishedAt.Time
				}
			}
			o.Containers = append(o.Containers, c)
		}
	}
	add(p.Status.InitContainerStatuses, true)
	add(p.Status.ContainerStatuses, false)
	if !o.finished() {
		o.FinishedAt = time.Time{}
	}
	return o
}

// JobOutcome is where a Job owned by a CronJob stands.
type JobOutcome string

// The outcomes of a Job.
const (
	JobRunning   JobOutcome = "Running"
	JobSucceeded JobOutcome = "Succeeded"
	JobFailed    JobOutcome = "Failed"
)

// OwnedJob is what the CronJob controller needs to know about one Job it
// created, as the store last recorded it. ObserveJob fills it from a Job.
type OwnedJob struct {
	Name string
	UID  types.UID
	// ScheduledTime is the run's scheduled time. ObserveJob reads it from
	// the ScheduledTimeAnnotation, or from the name if that is missing.
	ScheduledTime time.Time
	Outcome       JobOutcome
	// FinishedAt is when a finished Job finished.
	FinishedAt time.Time
	// Deleting is true once berth has asked for the Job to be removed; such
	// a Job no longer counts as active or as history.
	Deleting bool
}

// ObserveJob reads an OwnedJob from a Job that cronJobName created.
func ObserveJob(cronJobName string, j *batchv1.Job) OwnedJob {
	o := OwnedJob{Name: j.Name, UID: j.UID, Outcome: JobRunning, Deleting: j.DeletionTimestamp != nil}
	if v, ok := j.Annotations[ScheduledTimeAnnotation]; ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			o.ScheduledTime = t
		}
	}
	if o.ScheduledTime.IsZero() {
		if t, ok := scheduledTimeFromName(cronJobName, j.Name); ok {
			o.ScheduledTime = t
		}
	}
	if c := finishedCondition(&j.Status); c != nil {
		o.FinishedAt = c.LastTransitionTime.Time
		if c.Type == batchv1.JobComplete {
			o.Outcome = JobSucceeded
			if j.Status.CompletionTime != nil {
				o.FinishedAt = j.Status.CompletionTime.Time
			}
		} else {
			o.Outcome = JobFailed
		}
	}
	return o
}

// finishedCondition returns the Job's Complete or Failed condition if one
// is true.
func finishedCondition(st *batchv1.JobStatus) *batchv1.JobCondition {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}
