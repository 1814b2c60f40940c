package jobs

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
)

// TestCronJobClockJumps: the CronJob controller under a wall clock that
// jumps (the server's clock is the machine's; `just chaos` jumps it). A
// schedule time never yields a second Job: LastScheduleTime only moves
// forward, and times at or before it never run again, so after a
// backward jump nothing runs until the clock passes the last run (as
// Kubernetes' cronjob_controllerv2 does: it waits while
// lastScheduleTime is after now). A forward jump is a stretch of missed
// runs: only the most recent starts, under the same
// startingDeadlineSeconds and concurrency rules as after downtime.
func TestCronJobClockJumps(t *testing.T) {
	hourly, everyMinute := "0 * * * *", "* * * * *"
	twoDays := func(h, m int) time.Time { return utc(h, m).AddDate(0, 0, 2) }
	runCronCases(t, []cronCase{
		{
			name:             "back 1h after the 13:00 run: nothing runs again, wake at the run after the last",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(13, 0)),
			jobs:             []OwnedJob{run(utc(13, 0), JobSucceeded)},
			now:              utc(12, 5),
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "back 1h, the 12:00 run's Job gone to the history limit: 12:00 does not run a second time",
			cj:               testCronJob(everyMinute),
			state:            settled(everyMinute, utc(13, 0)),
			jobs:             []OwnedJob{run(utc(12, 58), JobSucceeded), run(utc(12, 59), JobSucceeded), run(utc(13, 0), JobSucceeded)},
			now:              utc(12, 0).Add(30 * time.Second),
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(13, 1),
		},
		{
			name:             "back 30 min, the state lost the 13:00 run: its Job (scheduled after now) neither runs again nor counts as missed",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(12, 0)),
			jobs:             []OwnedJob{run(utc(12, 0), JobSucceeded), run(utc(13, 0), JobRunning)},
			now:              utc(12, 30),
			wantLastSchedule: utc(12, 0),
			wantWake:         utc(13, 0),
		},
		{
			name:             "...and when the clock passes 13:00 again, the existing Job is the run: none created",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(12, 0)),
			jobs:             []OwnedJob{run(utc(12, 0), JobSucceeded), run(utc(13, 0), JobRunning)},
			now:              utc(13, 0).Add(10 * time.Second),
			wantLastSchedule: utc(13, 0),
			wantWake:         utc(14, 0),
		},
		{
			name:             "forward 2 days, no deadline: only the most recent of the 48 missed runs starts",
			cj:               testCronJob(hourly),
			state:            settled(hourly, utc(13, 0)),
			jobs:             []OwnedJob{run(utc(13, 0), JobSucceeded)},
			now:              twoDays(13, 20),
			wantCreate:       []string{runName(twoDays(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: twoDays(13, 0),
			wantWake:         twoDays(14, 0),
		},
		{
			name:             "forward 2 days, every minute: one run and the too-many-missed warning, not 2880 runs",
			cj:               testCronJob(everyMinute),
			state:            settled(everyMinute, utc(13, 0)),
			now:              twoDays(13, 0).Add(30 * time.Second),
			wantCreate:       []string{runName(twoDays(13, 0))},
			wantEvents:       []string{ReasonTooManyMissedTimes, ReasonSuccessfulCreate},
			wantLastSchedule: twoDays(13, 0),
			wantWake:         twoDays(13, 1),
		},
		{
			name:             "forward 2 days with startingDeadlineSeconds 600, 20 min past the run: missed, no Job",
			cj:               testCronJob(hourly, startingDeadline(600)),
			state:            settled(hourly, utc(13, 0)),
			now:              twoDays(13, 20),
			wantEvents:       []string{ReasonMissSchedule},
			wantLastSchedule: utc(13, 0),
			wantWake:         twoDays(14, 0),
		},
		{
			name:             "forward 2 days with startingDeadlineSeconds 600, 5 min past the run: it starts",
			cj:               testCronJob(hourly, startingDeadline(600)),
			state:            settled(hourly, utc(13, 0)),
			now:              twoDays(13, 5),
			wantCreate:       []string{runName(twoDays(13, 0))},
			wantEvents:       []string{ReasonSuccessfulCreate},
			wantLastSchedule: twoDays(13, 0),
			wantWake:         twoDays(14, 0),
		},
		{
			name:             "forward 2 days, Forbid, the 13:00 run still active: skipped",
			cj:               testCronJob(hourly, policy(batchv1.ForbidConcurrent)),
			state:            settled(hourly, utc(13, 0)),
			jobs:             []OwnedJob{run(utc(13, 0), JobRunning)},
			now:              twoDays(13, 5),
			wantEvents:       []string{ReasonJobAlreadyActive},
			wantLastSchedule: utc(13, 0),
			wantWake:         twoDays(14, 0),
		},
		{
			name:             "forward 2 days, Replace, the 13:00 run still active: it stops, the latest starts",
			cj:               testCronJob(hourly, policy(batchv1.ReplaceConcurrent)),
			state:            settled(hourly, utc(13, 0)),
			jobs:             []OwnedJob{run(utc(13, 0), JobRunning)},
			now:              twoDays(13, 5),
			wantCreate:       []string{runName(twoDays(13, 0))},
			wantDelete:       []string{runName(utc(13, 0))},
			wantEvents:       []string{ReasonSuccessfulDelete, ReasonSuccessfulCreate},
			wantLastSchedule: twoDays(13, 0),
			wantWake:         twoDays(14, 0),
		},
		{
			name:             "forward 2 days and back: the run made while ahead is the last, so nothing runs until the clock passes it",
			cj:               testCronJob(hourly),
			state:            settled(hourly, twoDays(13, 0)),
			jobs:             []OwnedJob{run(utc(13, 0), JobSucceeded), run(twoDays(13, 0), JobSucceeded)},
			now:              utc(14, 0).Add(10 * time.Second),
			wantLastSchedule: twoDays(13, 0),
			wantWake:         twoDays(14, 0),
		},
	})
}
