package jobs

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"pgregory.net/rapid"
)

// TestMostRecentMatchesWalkingEveryRun checks the shortcut that finds the
// latest missed run after long downtime against walking every run.
func TestMostRecentMatchesWalkingEveryRun(t *testing.T) {
	schedules := []string{
		"* * * * *", "*/7 * * * *", "0 * * * *", "30 2 * * *", "* 0-11 * * *", "15 9 * * 1-5",
		"0 0 1 * *", "* * 1 * *", "0 12 29 2 *", "@every 7m", "@every 90s", "5 4 * * sun", "@weekly",
	}
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}
	rapid.Check(t, func(t *rapid.T) {
		spec := rapid.SampledFrom(schedules).Draw(t, "schedule")
		zone := rapid.SampledFrom(zones).Draw(t, "zone")
		cj := testCronJob(spec, zoned(zone))
		s, err := parseSchedule(cj, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		after := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, 365*24*3600).Draw(t, "after")) * time.Second)
		now := after.Add(time.Duration(rapid.Int64Range(0, 60*24*3600).Draw(t, "gap")) * time.Second)

		var want time.Time
		count := 0
		for r := s.next(after); !r.IsZero() && !r.After(now); r = s.next(r) {
			want = r
			count++
		}
		got, missed := s.mostRecent(after, now)
		if !got.Equal(want) {
			t.Fatalf("mostRecent(%v, %v) = %v, want %v", after, now, got, want)
		}
		if (count > maxMissedScan) != (missed > maxMissedScan) || (count <= maxMissedScan && missed != count) {
			t.Fatalf("missed = %d, runs in between = %d", missed, count)
		}
	})
}

// FuzzSchedule feeds arbitrary schedules and zones, as they could come
// from Git, through every path that parses or evaluates a schedule: none
// may panic, and runs must move forward.
func FuzzSchedule(f *testing.F) {
	for _, seed := range []struct {
		schedule, zone string
	}{
		{"* * * * *", ""}, {"30 2 * * *", "America/New_York"}, {"TZ=UTC", ""}, {"CRON_TZ=", ""},
		{"TZ=", "UTC"}, {"@every 0s", ""}, {"@every -5m", ""}, {"0 0 30 2 *", ""}, {"@yearly", "Local"},
		{"*/0 * * * *", ""}, {"1-0 * * * *", ""}, {"@reboot", ""}, {"60 * * * *", ""}, {"", ""}, {"0 0 * * 7", "Etc/GMT+12"},
	} {
		f.Add(seed.schedule, seed.zone, int64(1714989600))
	}
	f.Fuzz(func(t *testing.T, schedule, zone string, unix int64) {
		if unix < 0 || unix > 1<<34 {
			return
		}
		now := time.Unix(unix, 0)
		cj := testCronJob(schedule)
		if zone != "" {
			cj.Spec.TimeZone = &zone
		}
		runs, err := NextRuns(cj, time.UTC, now, 5)
		if err != nil {
			return
		}
		prev := now
		for _, r := range runs {
			if !r.After(prev) {
				t.Fatalf("schedule %q: run %v not after %v", schedule, r, prev)
			}
			prev = r
		}
		state := CronJobState{Schedule: schedule, TimeZone: zone, Since: now.Add(-48 * time.Hour), LastScheduleTime: now.Add(-24 * time.Hour)}
		res, err := SyncCronJob(CronJobInput{CronJob: cj, State: state, Now: now, LocalZone: time.UTC})
		if err != nil {
			t.Fatalf("NextRuns accepted %q but SyncCronJob did not: %v", schedule, err)
		}
		if len(res.Create) > 1 {
			t.Fatalf("schedule %q: %d Jobs in one sync", schedule, len(res.Create))
		}
		if !res.WakeAt.IsZero() && !res.WakeAt.After(now) {
			t.Fatalf("schedule %q: wake at %v, not after %v", schedule, res.WakeAt, now)
		}
	})
}

func TestZone(t *testing.T) {
	for _, tc := range []struct {
		name string
		cj   *batchv1.CronJob
		want string
	}{
		{name: "timeZone set", cj: testCronJob("@daily", zoned("Europe/Berlin")), want: "Europe/Berlin"},
		{name: "timeZone unset: the injected local zone", cj: testCronJob("@daily"), want: "PLUS5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, err := Zone(tc.cj, time.FixedZone("PLUS5", 5*3600))
			if err != nil || z.String() != tc.want {
				t.Errorf("Zone = %v, %v; want %s", z, err, tc.want)
			}
		})
	}
}
