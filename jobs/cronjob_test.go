package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/manifest"
)

func testCronJob(schedule string, mods ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cron-uid"},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			SuccessfulJobsHistoryLimit: i32(3),
			FailedJobsHistoryLimit:     i32(1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}, Annotations: map[string]string{"note": "kept"}},
				Spec: batchv1.JobSpec{
					BackoffLimit: i32(2),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						Containers:    []corev1.Container{{Name: "date", Image: "busybox", Command: []string{"date"}}},
					}},
				},
			},
		},
	}
	for _, m := range mods {
		m(cj)
	}
	return cj
}

func zoned(tz string) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.TimeZone = &tz }
}

func policy(p batchv1.ConcurrencyPolicy) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = p }
}

func startingDeadline(s int64) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = &s }
}

// run is a Job of the "tick" CronJob scheduled at t.
func run(t time.Time, outcome JobOutcome) OwnedJob {
	name := ScheduledJobName("tick", t)
	j := OwnedJob{Name: name, UID: types.UID(name + "-uid"), ScheduledTime: t, Outcome: outcome}
	if outcome != JobRunning {
		j.FinishedAt = t.Add(time.Minute)
	}
	return j
}

func runName(t time.Time) string { return ScheduledJobName("tick", t) }

func utc(h, m int) time.Time { return time.Date(2024, 5, 6, h, m, 0, 0, time.UTC) }

// settled is the state of a CronJob berth has known since May 1st whose
// last run was at last.
func settled(schedule string, last time.Time) CronJobState {
	return CronJobState{Schedule: schedule, Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), LastScheduleTime: last}
}

// settledIn is settled for a CronJob with spec.timeZone tz.
func settledIn(tz, schedule string, last time.Time) CronJobState {
	s := settled(schedule, last)
	s.TimeZone = tz
	return s
}

type cronCase struct {
	name  string
	cj    *batchv1.CronJob
	state CronJobState
	jobs  []OwnedJob
	now   time.Time
	local *time.Location // nil: UTC

	wantErr          error
	wantCreate       []string
	wantDelete       []string
	wantEvents       []string // reasons, in order
	wantLastSchedule time.Time
	wantWake         time.Time
	check            func(t *testing.T, r CronJobResult)
}

func runCronCases(t *testing.T, cases []cronCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			local := tc.local
			if local == nil {
				local = time.UTC
			}
			r, err := SyncCronJob(CronJobInput{CronJob: tc.cj, State: tc.state, Jobs: tc.jobs, Now: tc.now, LocalZone: local})
			if tc.wantErr != nil || err != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			var created []string
			for _, j := range r.Create {
				created = append(created, j.Name)
			}
			if !slices.Equal(created, tc.wantCreate) {
				t.Errorf("created %q, want %q", created, tc.wantCreate)
			}
			var deleted []string
			for _, d := range r.Delete {
				deleted = append(deleted, d.Name)
			}
			if !slices.Equal(deleted, tc.wantDelete) {
				t.Errorf("deleted %q, want %q", deleted, tc.wantDelete)
			}
			var reasons []string
			for _, e := range r.Events {
				reasons = append(reasons, e.Reason)
			}
			if !slices.Equal(reasons, tc.wantEvents) {
				t.Errorf("events %q, want %q (%+v)", reasons, tc.wantEvents, r.Events)
			}
			if !r.State.LastScheduleTime.Equal(tc.wantLastSchedule) {
				t.Errorf("lastScheduleTime = %v, want %v", r.State.LastScheduleTime, tc.wantLastSchedule)
			}
			if !r.WakeAt.Equal(tc.wantWake) {
				t.Errorf("wake at %v, want %v", r.WakeAt, tc.wantWake)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestCronJobDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	nyTime := func(mo time.Month, d, h, m int) time.Time { return time.Date(2024, mo, d, h, m, 0, 0, ny) }
	// On 2024-03-10 New York clocks jump from 02:00 EST to 03:00 EDT;
	// on 2024-11-03 they fall back from 02:00 EDT to 01:00 EST.
	springSkipped := nyTime(3, 9, 2, 30)
	fallEDT := time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC) // 01:30 EDT
	fallEST := time.Date(2024, 11, 3, 6, 30, 0, 0, time.UTC) // 01:30 EST
	runCronCases(t, []cronCase{
		{
			name:             "spring forward: 02:30 does not exist on March 10, so that day has no run",
			cj:               testCronJob("30 2 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 2 * * *", springSkipped),
			now:              nyTime(3, 10, 4, 0),
			wantLastSchedule: springSkipped,
			wantWake:         nyTime(3, 11, 2, 30),
			check: func(t *testing.T, r CronJobResult) {
				if r.WakeAt.Location().String() != "America/New_York" {
					t.Errorf("wake-up in %v, want America/New_York", r.WakeAt.Location())
				}
				if _, off := r.WakeAt.Zone(); off != -4*3600 {
					t.Errorf("March 11 02:30 offset %d, want EDT", off)
				}
			},
		},
		{
			name:             "spring forward: the next day runs at 02:30 EDT",
			cj:               testCronJob("30 2 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 2 * * *", springSkipped),
			now:              nyTime(3, 11, 2, 30),
			wantCreate:       []string{runName(nyTime(3, 11, 2, 30))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: nyTime(3, 11, 2, 30),
			wantWake:         nyTime(3, 12, 2, 30),
			check: func(t *testing.T, r CronJobResult) {
				if got := r.Create[0].Annotations[ScheduledTimeAnnotation]; got != "2024-03-11T02:30:00-04:00" {
					t.Errorf("scheduled-time annotation %q", got)
				}
			},
		},
		{
			name:             "fall back: 02:30 comes once, in EST",
			cj:               testCronJob("30 2 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 2 * * *", nyTime(11, 2, 2, 30)),
			now:              time.Date(2024, 11, 3, 7, 30, 0, 0, time.UTC),
			wantCreate:       []string{runName(time.Date(2024, 11, 3, 7, 30, 0, 0, time.UTC))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: time.Date(2024, 11, 3, 7, 30, 0, 0, time.UTC),
			wantWake:         nyTime(11, 4, 2, 30),
		},
		{
			name:             "fall back: an hour after the 02:30 run, nothing more",
			cj:               testCronJob("30 2 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 2 * * *", time.Date(2024, 11, 3, 7, 30, 0, 0, time.UTC)),
			now:              time.Date(2024, 11, 3, 8, 30, 0, 0, time.UTC),
			wantLastSchedule: time.Date(2024, 11, 3, 7, 30, 0, 0, time.UTC),
			wantWake:         nyTime(11, 4, 2, 30),
		},
		{
			name:             "fall back: 01:30 happens twice, and so does its run (first, EDT)",
			cj:               testCronJob("30 1 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 1 * * *", nyTime(11, 2, 1, 30)),
			now:              fallEDT,
			wantCreate:       []string{runName(fallEDT)},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: fallEDT,
			wantWake:         fallEST,
		},
		{
			name:             "fall back: 01:30 happens twice, and so does its run (second, EST, another name)",
			cj:               testCronJob("30 1 * * *", zoned("America/New_York")),
			state:            settledIn("America/New_York", "30 1 * * *", fallEDT),
			jobs:             []OwnedJob{run(fallEDT, JobSucceeded)},
			now:              fallEST,
			wantCreate:       []string{runName(fallEST)},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: fallEST,
			wantWake:         nyTime(11, 4, 1, 30),
		},
		{
			name:             "no timeZone: the injected local zone applies, not the process's",
			cj:               testCronJob("30 2 * * *"),
			local:            ny,
			state:            settled("30 2 * * *", springSkipped),
			now:              nyTime(3, 10, 4, 0),
			wantLastSchedule: springSkipped,
			wantWake:         nyTime(3, 11, 2, 30),
		},
	})
}

func TestNextRuns(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	plus5 := time.FixedZone("PLUS5", 5*3600)
	for _, tc := range []struct {
		name  string
		cj    *batchv1.CronJob
		local *time.Location
		after time.Time
		n     int
		want  []string
	}{
		{
			name:  "spring forward in New York skips March 10",
			cj:    testCronJob("30 2 * * *", zoned("America/New_York")),
			local: time.UTC,
			after: time.Date(2024, 3, 9, 0, 0, 0, 0, ny),
			n:     3,
			want:  []string{"2024-03-09T02:30:00-05:00", "2024-03-11T02:30:00-04:00", "2024-03-12T02:30:00-04:00"},
		},
		{
			name:  "fall back in New York runs once on November 3",
			cj:    testCronJob("30 2 * * *", zoned("America/New_York")),
			local: time.UTC,
			after: time.Date(2024, 11, 2, 0, 0, 0, 0, ny),
			n:     3,
			want:  []string{"2024-11-02T02:30:00-04:00", "2024-11-03T02:30:00-05:00", "2024-11-04T02:30:00-05:00"},
		},
		{
			name:  "no timeZone: five runs in the local zone",
			cj:    testCronJob("@hourly"),
			local: plus5,
			after: time.Date(2024, 5, 6, 10, 30, 0, 0, time.UTC),
			n:     5,
			want: []string{"2024-05-06T16:00:00+05:00", "2024-05-06T17:00:00+05:00", "2024-05-06T18:00:00+05:00",
				"2024-05-06T19:00:00+05:00", "2024-05-06T20:00:00+05:00"},
		},
		{
			name:  "a schedule that never fires gives no runs",
			cj:    testCronJob("0 0 30 2 *"),
			local: time.UTC,
			after: t0,
			n:     5,
			want:  nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := NextRuns(tc.cj, tc.local, tc.after, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs {
				got = append(got, r.Format(time.RFC3339))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("runs %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCronJobMissedRuns(t *testing.T) {
	// The server was down from 10:30 to 13:40: the 11:00, 12:00 and 13:00
	// runs of an hourly CronJob were missed.
	hourly := "0 * * * *"
	down := settled(hourly, utc(10, 0))
	lastRun := []OwnedJob{run(utc(10, 0), JobSucceeded)}
	runCronCases(t, []cronCase{
		{
			name:             "no deadline: only the most recent missed run starts, late",
			cj:               testCronJob(hourly),
			state:            down,
			jobs:             lastRun,
			now:              utc(13, 40),
			wantCreate:       []string{runName(utc(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "deadline 600s passed: nothing starts, the skip is an event",
			cj:               testCronJob(hourly, startingDeadline(600)),
			state:            down,
			jobs:             lastRun,
			now:              utc(13, 40),
			wantEvents:       []string{ReasonMissSchedule},
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(14, 0),
			check: func(t *testing.T, r CronJobResult) {
				if e := r.Events[0]; e.Type != corev1.EventTypeWarning || !strings.Contains(e.Message, "Mon, 06 May 2024 13:00:00 +0000") {
					t.Errorf("event %+v", e)
				}
			},
		},
		{
			name:             "deadline 600s passed, skip already reported: no second event",
			cj:               testCronJob(hourly, startingDeadline(600)),
			state:            CronJobState{Schedule: hourly, Since: down.Since, LastScheduleTime: utc(10, 0), LastSuccessfulTime: utc(10, 1), SkippedTime: utc(13, 0), SkippedReason: ReasonMissSchedule},
			jobs:             lastRun,
			now:              utc(13, 41),
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(14, 0),
			check: func(t *testing.T, r CronJobResult) {
				if r.Changed {
					t.Error("state changed on a repeated skip")
				}
			},
		},
		{
			name:             "deadline 3600s not passed: the 13:00 run starts",
			cj:               testCronJob(hourly, startingDeadline(3600)),
			state:            down,
			jobs:             lastRun,
			now:              utc(13, 40),
			wantCreate:       []string{runName(utc(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "deadline reached exactly: still starts",
			cj:               testCronJob(hourly, startingDeadline(600)),
			state:            down,
			jobs:             lastRun,
			now:              utc(13, 10),
			wantCreate:       []string{runName(utc(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "every minute, 3h down: one run, not 190, and a warning",
			cj:               testCronJob("* * * * *"),
			state:            settled("* * * * *", utc(10, 30)),
			now:              utc(13, 40),
			wantCreate:       []string{runName(utc(13, 40))},
			wantEvents:       []string{ReasonTooManyMissedTimes, ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 40),
			wantWake:         utc(13, 41),
		},
		{
			name:             "down for a year with an every-minute schedule: still one run, found fast",
			cj:               testCronJob("*/5 * * * *"),
			state:            settled("*/5 * * * *", utc(10, 30).AddDate(-1, 0, 0)),
			now:              utc(13, 42),
			wantCreate:       []string{runName(utc(13, 40))},
			wantEvents:       []string{ReasonTooManyMissedTimes, ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 40),
			wantWake:         utc(13, 45),
		},
		{
			name:             "on time: no missed runs, no warning",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(12, 0)),
			now:              utc(13, 0),
			wantCreate:       []string{runName(utc(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "woken early: nothing due, wake at the run",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(12, 0)),
			now:              utc(12, 59),
			wantLastSchedule: utc(12, 0),
			wantWake:         utc(13, 0),
		},
	})
}

func TestCronJobConcurrencyPolicy(t *testing.T) {
	hourly := "0 * * * *"
	runCronCases(t, []cronCase{
		{
			name:             "Allow: a new run starts beside the running one",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(10, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobRunning)},
			now:              utc(11, 0),
			wantCreate:       []string{runName(utc(11, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
			check: func(t *testing.T, r CronJobResult) {
				if len(r.Status.Active) != 2 {
					t.Errorf("status.active = %+v, want both runs", r.Status.Active)
				}
			},
		},
		{
			name:             "Forbid: the run is skipped while one is active, with the reason",
			cj:               testCronJob(hourly, policy(batchv1.ForbidConcurrent)),
			state:            settled(hourly, utc(10, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobRunning)},
			now:              utc(11, 0),
			wantEvents:       []string{ReasonJobAlreadyActive},
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(12, 0),
			check: func(t *testing.T, r CronJobResult) {
				if !strings.Contains(r.Events[0].Message, runName(utc(10, 0))) {
					t.Errorf("event %q does not name the active run", r.Events[0].Message)
				}
				if r.State.SkippedReason != ReasonJobAlreadyActive || !r.State.SkippedTime.Equal(utc(11, 0)) {
					t.Errorf("skip not recorded: %+v", r.State)
				}
			},
		},
		{
			name:             "Forbid: when the active run ends within the starting deadline, the skipped run starts late (as Kubernetes)",
			cj:               testCronJob(hourly, policy(batchv1.ForbidConcurrent), startingDeadline(1800)),
			state:            CronJobState{Schedule: hourly, Since: utc(0, 0), LastScheduleTime: utc(10, 0), SkippedTime: utc(11, 0), SkippedReason: ReasonJobAlreadyActive},
			jobs:             []OwnedJob{run(utc(10, 0), JobSucceeded)},
			now:              utc(11, 20),
			wantCreate:       []string{runName(utc(11, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
		},
		{
			name:             "Forbid: when the active run ends after the deadline, the run is missed",
			cj:               testCronJob(hourly, policy(batchv1.ForbidConcurrent), startingDeadline(600)),
			state:            CronJobState{Schedule: hourly, Since: utc(0, 0), LastScheduleTime: utc(10, 0), SkippedTime: utc(11, 0), SkippedReason: ReasonJobAlreadyActive},
			jobs:             []OwnedJob{run(utc(10, 0), JobSucceeded)},
			now:              utc(11, 20),
			wantEvents:       []string{ReasonMissSchedule},
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(12, 0),
		},
		{
			name: "Forbid: a run being deleted does not block",
			cj:   testCronJob(hourly, policy(batchv1.ForbidConcurrent)),
			jobs: []OwnedJob{func() OwnedJob {
				j := run(utc(10, 0), JobRunning)
				j.Deleting = true
				return j
			}()},
			state:            settled(hourly, utc(10, 0)),
			now:              utc(11, 0),
			wantCreate:       []string{runName(utc(11, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
		},
		{
			name:             "Replace: the running run is stopped and the new one starts",
			cj:               testCronJob(hourly, policy(batchv1.ReplaceConcurrent)),
			state:            settled(hourly, utc(10, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobRunning)},
			now:              utc(11, 0),
			wantCreate:       []string{runName(utc(11, 0))},
			wantDelete:       []string{runName(utc(10, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete, ReasonSuccessfulCreate},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
			check: func(t *testing.T, r CronJobResult) {
				if len(r.Status.Active) != 1 || r.Status.Active[0].Name != runName(utc(11, 0)) {
					t.Errorf("status.active = %+v, want only the new run", r.Status.Active)
				}
			},
		},
		{
			name:             "Replace: nothing running, nothing to stop",
			cj:               testCronJob(hourly, policy(batchv1.ReplaceConcurrent)),
			state:            settled(hourly, utc(10, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobSucceeded)},
			now:              utc(11, 0),
			wantCreate:       []string{runName(utc(11, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
		},
		{
			name:             "Replace: two runs active (crash before the delete): the older one stops",
			cj:               testCronJob(hourly, policy(batchv1.ReplaceConcurrent)),
			state:            settled(hourly, utc(10, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobRunning), run(utc(11, 0), JobRunning)},
			now:              utc(11, 0),
			wantDelete:       []string{runName(utc(10, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete},
			wantLastSchedule: utc(11, 0),
			wantWake:         utc(12, 0),
		},
	})
}

func TestCronJobHistoryLimits(t *testing.T) {
	hourly := "0 * * * *"
	var many []OwnedJob
	for h := 1; h <= 5; h++ {
		many = append(many, run(utc(h, 0), JobSucceeded))
	}
	for h := 6; h <= 8; h++ {
		many = append(many, run(utc(h, 0), JobFailed))
	}
	runCronCases(t, []cronCase{
		{
			name: "defaults keep 3 successful and 1 failed, oldest go first",
			cj: testCronJob(hourly, func(cj *batchv1.CronJob) {
				cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = nil, nil
			}),
			state:            settled(hourly, utc(8, 0)),
			jobs:             many,
			now:              utc(8, 30),
			wantDelete:       []string{runName(utc(1, 0)), runName(utc(2, 0)), runName(utc(6, 0)), runName(utc(7, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete, ReasonSuccessfulDelete, ReasonSuccessfulDelete, ReasonSuccessfulDelete},
			wantLastSchedule: utc(8, 0),
			wantWake:         utc(9, 0),
			check: func(t *testing.T, r CronJobResult) {
				if !r.State.LastSuccessfulTime.Equal(utc(5, 1)) || !r.Status.LastSuccessfulTime.Time.Equal(utc(5, 1)) {
					t.Errorf("lastSuccessfulTime = %v", r.State.LastSuccessfulTime)
				}
			},
		},
		{
			name: "limits 0 keep no history",
			cj: testCronJob(hourly, func(cj *batchv1.CronJob) {
				cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = i32(0), i32(0)
			}),
			state: settled(hourly, utc(8, 0)),
			jobs:  []OwnedJob{run(utc(7, 0), JobFailed), run(utc(8, 0), JobSucceeded)},
			now:   utc(8, 30),
			// successful ones are trimmed before failed ones
			wantDelete:       []string{runName(utc(8, 0)), runName(utc(7, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete, ReasonSuccessfulDelete},
			wantLastSchedule: utc(8, 0),
			wantWake:         utc(9, 0),
		},
		{
			name:             "within the limits nothing goes; running and deleting Jobs are not history",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(8, 0)),
			jobs:             []OwnedJob{run(utc(5, 0), JobSucceeded), {Name: runName(utc(6, 0)), ScheduledTime: utc(6, 0), Outcome: JobSucceeded, Deleting: true}, run(utc(7, 0), JobSucceeded), run(utc(8, 0), JobRunning)},
			now:              utc(8, 30),
			wantLastSchedule: utc(8, 0),
			wantWake:         utc(9, 0),
		},
	})
}

func TestCronJobLifecycle(t *testing.T) {
	hourly := "0 * * * *"
	runCronCases(t, []cronCase{
		{
			name:             "first sync: berth starts counting from now, no run for the past",
			cj:               testCronJob(hourly),
			now:              utc(10, 30),
			wantLastSchedule: time.Time{},
			wantWake:         utc(11, 0),
			check: func(t *testing.T, r CronJobResult) {
				if !r.Changed || !r.State.Since.Equal(utc(10, 30)) || r.State.Schedule != hourly {
					t.Errorf("state = %+v, changed %v", r.State, r.Changed)
				}
			},
		},
		{
			name:             "first sync exactly on a run: that run is not started (it is not after first sight)",
			cj:               testCronJob(hourly),
			now:              utc(11, 0),
			wantLastSchedule: time.Time{},
			wantWake:         utc(12, 0),
		},
		{
			name:             "suspended: no run, no wake-up, history still trimmed",
			cj:               testCronJob(hourly, func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true); cj.Spec.FailedJobsHistoryLimit = i32(0) }),
			state:            settled(hourly, utc(9, 0)),
			jobs:             []OwnedJob{run(utc(9, 0), JobFailed)},
			now:              utc(11, 0),
			wantDelete:       []string{runName(utc(9, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete},
			wantLastSchedule: utc(9, 0),
		},
		{
			name:             "a changed schedule takes effect from its next run, with no catch-up",
			cj:               testCronJob("*/15 * * * *"),
			state:            settled(hourly, utc(10, 0)),
			now:              utc(10, 50),
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(11, 0),
			check: func(t *testing.T, r CronJobResult) {
				if r.State.Schedule != "*/15 * * * *" || !r.State.Since.Equal(utc(10, 50)) {
					t.Errorf("state = %+v", r.State)
				}
			},
		},
		{
			name:             "a changed time zone is a changed schedule",
			cj:               testCronJob(hourly, zoned("Asia/Kolkata")), // +05:30: runs at :30 UTC
			state:            settled(hourly, utc(10, 0)),
			now:              utc(10, 50),
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(11, 30),
		},
		{
			name:             "the state lost the last run but its Job exists: no second run",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(9, 0)),
			jobs:             []OwnedJob{run(utc(10, 0), JobRunning)},
			now:              utc(10, 5),
			wantLastSchedule: utc(10, 0),
			wantWake:         utc(11, 0),
		},
	})
}

func TestCronJobCreatesJobFromTemplate(t *testing.T) {
	cj := testCronJob("0 * * * *", zoned("Europe/Berlin"))
	r, err := SyncCronJob(CronJobInput{CronJob: cj, State: settledIn("Europe/Berlin", "0 * * * *", utc(9, 0)), Now: utc(10, 0), LocalZone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Create) != 1 {
		t.Fatalf("created %d Jobs", len(r.Create))
	}
	j := r.Create[0]
	wantName := fmt.Sprintf("tick-%d", utc(10, 0).Unix()/60)
	if j.Name != wantName || j.Namespace != "default" {
		t.Errorf("job %s/%s, want default/%s", j.Namespace, j.Name, wantName)
	}
	if j.Labels[CronJobNameLabel] != "tick" || j.Labels["app"] != "tick" {
		t.Errorf("labels %v", j.Labels)
	}
	if j.Annotations[ScheduledTimeAnnotation] != "2024-05-06T12:00:00+02:00" || j.Annotations["note"] != "kept" {
		t.Errorf("annotations %v", j.Annotations)
	}
	if len(j.OwnerReferences) != 1 || j.OwnerReferences[0].Kind != "CronJob" || j.OwnerReferences[0].UID != "cron-uid" {
		t.Errorf("owner %+v", j.OwnerReferences)
	}
	if *j.Spec.BackoffLimit != 2 || j.Spec.Template.Spec.Containers[0].Command[0] != "date" {
		t.Errorf("spec not copied from the template: %+v", j.Spec)
	}
	j.Spec.Template.Spec.Containers[0].Command[0] = "changed"
	if cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command[0] != "date" {
		t.Error("the Job shares memory with the CronJob's template")
	}
	// The Job reads back as the run it is.
	o := ObserveJob("tick", j)
	if !o.ScheduledTime.Equal(utc(10, 0)) || o.Outcome != JobRunning {
		t.Errorf("observed %+v", o)
	}
}

// TestCronJobRestartDuringCreate replays the controller against every
// state a crash can leave while it applies one sync's actions in the
// documented order (Jobs first, state last), and checks that the
// replay converges with exactly one Job for the run and, under Replace,
// one Job running.
func TestCronJobRestartDuringCreate(t *testing.T) {
	hourly := "0 * * * *"
	for _, tc := range []struct {
		name   string
		policy batchv1.ConcurrencyPolicy
	}{
		{name: "Allow", policy: batchv1.AllowConcurrent},
		{name: "Forbid", policy: batchv1.ForbidConcurrent},
		{name: "Replace", policy: batchv1.ReplaceConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := testCronJob(hourly, policy(tc.policy))
			// Under Forbid an active run would block; let the previous one
			// have finished so the new run is due.
			prev := run(utc(10, 0), JobRunning)
			if tc.policy == batchv1.ForbidConcurrent {
				prev = run(utc(10, 0), JobSucceeded)
			}
			w0 := world{state: settled(hourly, utc(10, 0)), jobs: map[string]OwnedJob{prev.Name: prev}}
			now := utc(11, 0)
			first := w0.sync(t, cj, now)
			if len(first.Create) != 1 {
				t.Fatalf("the first sync created %d Jobs", len(first.Create))
			}
			steps := len(first.Create) + len(first.Delete)
			// Every prefix of the actions, in either order, then maybe
			// the state write.
			for _, createsFirst := range []bool{false, true} {
				for applied := 0; applied <= steps; applied++ {
					for _, writeState := range []bool{false, true} {
						if writeState && applied < steps {
							continue // the state is written last
						}
						name := fmt.Sprintf("creates first %v, %d of %d actions, state written %v", createsFirst, applied, steps, writeState)
						t.Run(name, func(t *testing.T) {
							w := w0.clone()
							w.createsFirst = createsFirst
							w.applyPartial(first, applied, writeState)
							// Restart: replay until nothing is left to do.
							for i := 0; ; i++ {
								if i == 3 {
									t.Fatal("no convergence after 3 replays")
								}
								r := w.sync(t, cj, now)
								for _, e := range r.Events {
									if e.Reason == ReasonJobAlreadyActive || e.Reason == ReasonMissSchedule {
										t.Errorf("replay reported a skip: %+v", e)
									}
								}
								w.applyPartial(r, len(r.Create)+len(r.Delete), true)
								if len(r.Create) == 0 && len(r.Delete) == 0 {
									break
								}
							}
							runsAt11, running := 0, 0
							for _, j := range w.jobs {
								if j.ScheduledTime.Equal(now) {
									runsAt11++
								}
								if j.Outcome == JobRunning && !j.Deleting {
									running++
								}
							}
							if runsAt11 != 1 || w.creates > 1 {
								t.Errorf("%d Jobs for the 11:00 run after %d creates", runsAt11, w.creates)
							}
							if tc.policy == batchv1.ReplaceConcurrent && running != 1 {
								t.Errorf("%d runs active under Replace", running)
							}
							if !w.state.LastScheduleTime.Equal(now) {
								t.Errorf("lastScheduleTime = %v", w.state.LastScheduleTime)
							}
						})
					}
				}
			}
		})
	}
}

// world is the store as the CronJob controller sees it.
type world struct {
	state        CronJobState
	jobs         map[string]OwnedJob
	creates      int  // Jobs actually created (a create of an existing name is not)
	createsFirst bool // apply creates before deletes
}

func (w world) clone() world {
	c := w
	c.jobs = make(map[string]OwnedJob, len(w.jobs))
	for k, v := range w.jobs {
		c.jobs[k] = v
	}
	return c
}

func (w *world) sync(t *testing.T, cj *batchv1.CronJob, now time.Time) CronJobResult {
	t.Helper()
	var jobs []OwnedJob
	for _, j := range w.jobs {
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b OwnedJob) int { return strings.Compare(a.Name, b.Name) })
	r, err := SyncCronJob(CronJobInput{CronJob: cj, State: w.state, Jobs: jobs, Now: now, LocalZone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// applyPartial applies the first n actions of r (deletes then creates, or
// the other way round) and the state if writeState.
func (w *world) applyPartial(r CronJobResult, n int, writeState bool) {
	var actions []func()
	for _, d := range r.Delete {
		actions = append(actions, func() {
			if j, ok := w.jobs[d.Name]; ok {
				j.Deleting = true
				w.jobs[d.Name] = j
			}
		})
	}
	for _, c := range r.Create {
		create := func() {
			if _, ok := w.jobs[c.Name]; ok {
				return
			}
			w.creates++
			w.jobs[c.Name] = ObserveJob("tick", c)
		}
		if w.createsFirst {
			actions = append([]func(){create}, actions...)
		} else {
			actions = append(actions, create)
		}
	}
	for _, a := range actions[:n] {
		a()
	}
	if writeState {
		w.state = r.State
	}
}

func TestCronJobSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cj      *batchv1.CronJob
		local   *time.Location
		wantErr error
	}{
		{name: "CRON_TZ inside the schedule", cj: testCronJob("CRON_TZ=UTC 0 * * * *"), local: time.UTC, wantErr: manifest.ErrScheduleTZ},
		{name: "TZ= without a space (panics robfig/cron unguarded)", cj: testCronJob("TZ=UTC"), local: time.UTC, wantErr: ErrInvalidSpec},
		{name: "six fields", cj: testCronJob("0 0 * * * *"), local: time.UTC, wantErr: ErrInvalidSpec},
		{name: "minute 61", cj: testCronJob("61 * * * *"), local: time.UTC, wantErr: ErrInvalidSpec},
		{name: "unknown time zone", cj: testCronJob("@daily", zoned("Mars/Olympus")), local: time.UTC, wantErr: ErrInvalidSpec},
		{name: "negative starting deadline", cj: testCronJob("@daily", startingDeadline(-1)), local: time.UTC, wantErr: ErrInvalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SyncCronJob(CronJobInput{CronJob: tc.cj, Now: t0, LocalZone: tc.local})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("SyncCronJob error = %v, want %v", err, tc.wantErr)
			}
			if _, err := NextRuns(tc.cj, tc.local, t0, 5); err == nil && tc.name != "negative starting deadline" {
				t.Errorf("NextRuns accepted it")
			}
		})
	}
	t.Run("no local zone injected", func(t *testing.T) {
		if _, err := SyncCronJob(CronJobInput{CronJob: testCronJob("@daily"), Now: t0}); err == nil {
			t.Error("no error without a local zone")
		}
	})
}

func TestObserveJob(t *testing.T) {
	done := metav1.Time{Time: utc(10, 5)}
	for _, tc := range []struct {
		name        string
		job         *batchv1.Job
		wantOutcome JobOutcome
		wantSched   time.Time
		wantFinish  time.Time
	}{
		{
			name: "running, scheduled time from the annotation",
			job: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "anything",
				Annotations: map[string]string{ScheduledTimeAnnotation: "2024-05-06T12:00:00+02:00"}}},
			wantOutcome: JobRunning,
			wantSched:   utc(10, 0),
		},
		{
			name: "complete, scheduled time from the name",
			job: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: runName(utc(10, 0))}, Status: batchv1.JobStatus{
				CompletionTime: &done,
				Conditions:     []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: done}},
			}},
			wantOutcome: JobSucceeded,
			wantSched:   utc(10, 0),
			wantFinish:  utc(10, 5),
		},
		{
			name: "failed",
			job: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "other-name"}, Status: batchv1.JobStatus{
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: done}},
			}},
			wantOutcome: JobFailed,
			wantFinish:  utc(10, 5),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ObserveJob("tick", tc.job)
			if o.Outcome != tc.wantOutcome || !o.ScheduledTime.Equal(tc.wantSched) || !o.FinishedAt.Equal(tc.wantFinish) {
				t.Errorf("observed %+v", o)
			}
		})
	}
}
