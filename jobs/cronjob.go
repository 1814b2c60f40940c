package jobs

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Kubernetes' defaults for the history limits, applied when unset.
const (
	DefaultSuccessfulJobsHistoryLimit = 3
	DefaultFailedJobsHistoryLimit     = 1
)

// CronJobState is what the CronJob controller must remember between calls.
// Most of it could be rebuilt from the Jobs the CronJob owns, and is
// (a Job's scheduled time moves LastScheduleTime forward), so a crash
// between creating a Job and writing the state cannot cause a second run.
type CronJobState struct {
	// LastScheduleTime is the scheduled time of the latest run started.
	LastScheduleTime time.Time `json:"lastScheduleTime,omitzero"`
	// LastSuccessfulTime is when the latest successful run finished.
	LastSuccessfulTime time.Time `json:"lastSuccessfulTime,omitzero"`
	// Schedule and TimeZone are the spec in force since Since: when Git
	// changes either, Since moves to the time berth first sees the change,
	// so a changed schedule takes effect from its next run and never
	// "catches up" runs the new schedule would have had in the past. Since
	// is also the first time berth saw the CronJob: a CronJob from Git has
	// no meaningful creation time.
	Schedule string    `json:"schedule,omitempty"`
	TimeZone string    `json:"timeZone,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	// SkippedTime and SkippedReason record the last run skipped and why,
	// so that a skip is reported as an event once, not on every sync.
	SkippedTime   time.Time `json:"skippedTime,omitzero"`
	SkippedReason string    `json:"skippedReason,omitempty"`
}

// CronJobInput is everything SyncCronJob decides from.
type CronJobInput struct {
	// CronJob as declared (defaulted by manifest).
	CronJob *batchv1.CronJob
	// State is the CronJobState SyncCronJob last returned (zero at first).
	State CronJobState
	// Jobs are all Jobs this CronJob owns that the store holds.
	Jobs []OwnedJob
	// Now is the time of this sync, read by the caller from its clock.
	Now time.Time
	// LocalZone is the zone of a CronJob without spec.timeZone: the
	// server's zone, injected so that tests and the server agree.
	LocalZone *time.Location
}

// JobRef names a Job to delete.
type JobRef struct {
	Name string
	UID  types.UID
}

// CronJobResult is what the caller must do after SyncCronJob.
type CronJobResult struct {
	// Create are Jobs to create, named by ScheduledJobName: creating one
	// whose name exists must be treated as done. Apply Delete and Create
	// before writing State (or in the same transaction): then a crash can
	// at worst repeat this sync, which creates nothing twice.
	Create []*batchv1.Job
	// Delete are Jobs to remove with their pods (Replace, history limits).
	Delete []JobRef
	// Events report runs started, replaced or skipped (with the reason).
	Events []Event
	// Status is the CronJob's status for display; State is to persist.
	Status batchv1.CronJobStatus
	State  CronJobState
	// Changed reports whether State differs from the input.
	Changed bool
	// WakeAt is the next scheduled run, when SyncCronJob must be called
	// again; zero if the CronJob is suspended or will never run again. The
	// caller also syncs whenever one of the CronJob's Jobs changes.
	WakeAt time.Time
}

// SyncCronJob is the CronJob controller: from the CronJob, its state and
// the Jobs it owns, it decides which run (at most one) to start now, which
// Jobs to delete, and when to wake next. It is a pure function.
//
// After downtime it starts only the most recent missed run, and only if it
// is still within startingDeadlineSeconds, never a burst of catch-up runs.
func SyncCronJob(in CronJobInput) (CronJobResult, error) {
	cj := in.CronJob
	if cj == nil {
		return CronJobResult{}, fmt.Errorf("sync cronjob: %w: no CronJob", ErrInvalidSpec)
	}
	sched, err := parseSchedule(cj, in.LocalZone)
	if err != nil {
		return CronJobResult{}, fmt.Errorf("sync cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && *d < 0 {
		return CronJobResult{}, fmt.Errorf("sync cronjob %s/%s: %w: spec.startingDeadlineSeconds must not be negative", cj.Namespace, cj.Name, ErrInvalidSpec)
	}
	now := in.Now
	st := in.State
	var res CronJobResult

	tz := ptr.Deref(cj.Spec.TimeZone, "")
	if st.Since.IsZero() || st.Schedule != cj.Spec.Schedule || st.TimeZone != tz {
		st.Schedule, st.TimeZone, st.Since = cj.Spec.Schedule, tz, now
	}

	// What the Jobs say wins over what the state remembers: a Job that
	// exists was started, whether or not the state was written after.
	var active, succeeded, failed []OwnedJob
	for _, j := range in.Jobs {
		if j.ScheduledTime.After(st.LastScheduleTime) && !j.ScheduledTime.After(now) {
			st.LastScheduleTime = j.ScheduledTime
		}
		if j.Outcome == JobSucceeded && j.FinishedAt.After(st.LastSuccessfulTime) {
			st.LastSuccessfulTime = j.FinishedAt
		}
		if j.Deleting {
			continue
		}
		switch j.Outcome {
		case JobSucceeded:
			succeeded = append(succeeded, j)
		case JobFailed:
			failed = append(failed, j)
		default:
			active = append(active, j)
		}
	}
	byScheduled := func(a, b OwnedJob) int {
		if c := a.ScheduledTime.Compare(b.ScheduledTime); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	}
	slices.SortFunc(active, byScheduled)
	deleteJob := func(j OwnedJob, why string) {
		res.Delete = append(res.Delete, JobRef{Name: j.Name, UID: j.UID})
		res.Events = append(res.Events, normalEvent(ReasonSuccessfulDelete, "Deleted job %s (%s)", j.Name, why))
	}

	// Replace keeps only the newest run. Enforced on every sync, not only
	// when a run starts, so that a crash between creating the new Job and
	// deleting the old one still ends with one run.
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent && len(active) > 1 {
		for _, j := range active[:len(active)-1] {
			deleteJob(j, "replaced by a newer run")
		}
		active = active[len(active)-1:]
	}

	trim := func(jobs []OwnedJob, limit *int32, def int32, what string) {
		keep := max(0, ptr.Deref(limit, def))
		slices.SortFunc(jobs, byScheduled)
		for len(jobs) > int(keep) {
			deleteJob(jobs[0], "history limit of "+what+" jobs")
			jobs = jobs[1:]
		}
	}
	trim(succeeded, cj.Spec.SuccessfulJobsHistoryLimit, DefaultSuccessfulJobsHistoryLimit, "successful")
	trim(failed, cj.Spec.FailedJobsHistoryLimit, DefaultFailedJobsHistoryLimit, "failed")

	suspended := ptr.Deref(cj.Spec.Suspend, false)
	if !suspended {
		after := st.LastScheduleTime
		if st.Since.After(after) {
			after = st.Since
		}
		due, missed := sched.mostRecent(after, now)
		if !due.IsZero() {
			skip := func(reason string, ev Event) {
				if st.SkippedTime.Equal(due) && st.SkippedReason == reason {
					return
				}
				st.SkippedTime, st.SkippedReason = due, reason
				res.Events = append(res.Events, ev)
			}
			deadline := cj.Spec.StartingDeadlineSeconds
			switch {
			case deadline != nil && due.Add(time.Duration(*deadline)*time.Second).Before(now):
				skip(ReasonMissSchedule, warningEvent(ReasonMissSchedule,
					"Missed scheduled time to start a job: %s (startingDeadlineSeconds %d passed)", due.Format(time.RFC1123Z), *deadline))
			case cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(active) > 0:
				skip(ReasonJobAlreadyActive, normalEvent(ReasonJobAlreadyActive,
					"Not starting job for %s because prior execution %s is running and concurrency policy is Forbid", due.Format(time.RFC1123Z), active[0].Name))
			default:
				if missed > maxMissedScan {
					res.Events = append(res.Events, warningEvent(ReasonTooManyMissedTimes,
						"too many missed start times: more than %d. Only the most recent, %s, is started. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
						maxMissedScan, due.Format(time.RFC1123Z)))
				}
				if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
					for _, j := range active {
						deleteJob(j, "replaced by the run of "+due.Format(time.RFC3339))
					}
					active = nil
				}
				job := newScheduledJob(cj, due)
				res.Create = append(res.Create, job)
				res.Events = append(res.Events, normalEvent(ReasonSuccessfulCreate, "Created job %s", job.Name))
				active = append(active, OwnedJob{Name: job.Name, ScheduledTime: due, Outcome: JobRunning})
				st.LastScheduleTime = due
			}
		}
		wakeFrom := now
		if after.After(wakeFrom) {
			wakeFrom = after
		}
		res.WakeAt = sched.next(wakeFrom)
	}

	res.State = st
	res.Changed = !stateEqual(in.State, st)
	res.Status = cronJobStatus(cj, st, active)
	return res, nil
}

func stateEqual(a, b CronJobState) bool {
	return a.LastScheduleTime.Equal(b.LastScheduleTime) && a.LastSuccessfulTime.Equal(b.LastSuccessfulTime) &&
		a.Schedule == b.Schedule && a.TimeZone == b.TimeZone && a.Since.Equal(b.Since) &&
		a.SkippedTime.Equal(b.SkippedTime) && a.SkippedReason == b.SkippedReason
}

func cronJobStatus(cj *batchv1.CronJob, st CronJobState, active []OwnedJob) batchv1.CronJobStatus {
	var s batchv1.CronJobStatus
	for _, j := range active {
		s.Active = append(s.Active, corev1.ObjectReference{
			Kind: "Job", APIVersion: "batch/v1", Namespace: cj.Namespace, Name: j.Name, UID: j.UID,
		})
	}
	if !st.LastScheduleTime.IsZero() {
		s.LastScheduleTime = &metav1.Time{Time: st.LastScheduleTime}
	}
	if !st.LastSuccessfulTime.IsZero() {
		s.LastSuccessfulTime = &metav1.Time{Time: st.LastSuccessfulTime}
	}
	return s
}

// newScheduledJob makes the Job of cj's run scheduled at t from the
// CronJob's jobTemplate.
func newScheduledJob(cj *batchv1.CronJob, t time.Time) *batchv1.Job {
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: controlledMeta(ScheduledJobName(cj.Name, t), &cj.Spec.JobTemplate.ObjectMeta, cj, "CronJob"),
		Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	job.Labels[CronJobNameLabel] = cj.Name
	job.Annotations[ScheduledTimeAnnotation] = t.Format(time.RFC3339)
	return job
}
