package jobs

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/berth-dev/berth/manifest"
)

// maxMissedScan is how many missed runs are walked one by one before the
// controller jumps straight to the most recent one (and warns, as
// Kubernetes does above 100).
const maxMissedScan = 100

// schedule is a parsed CronJob schedule bound to the zone it is read in.
// robfig/cron is used for parsing and Next() only; the caller's loop owns
// the timing.
type schedule struct {
	cron cron.Schedule
	zone *time.Location
}

// parseSchedule parses cj's schedule through manifest.ParseSchedule, the
// one guarded entry to robfig/cron (which panics on some malformed TZ=
// prefixes), and binds it to spec.timeZone or, when that is unset, to
// local, the server's zone as the caller knows it.
func parseSchedule(cj *batchv1.CronJob, local *time.Location) (schedule, error) {
	c, zone, err := manifest.ParseSchedule(cj.Spec.Schedule, cj.Spec.TimeZone)
	if err != nil {
		return schedule{}, fmt.Errorf("%w: spec.schedule %q: %w", ErrInvalidSpec, cj.Spec.Schedule, err)
	}
	if zone == nil {
		if local == nil {
			return schedule{}, fmt.Errorf("no local time zone given for a CronJob without spec.timeZone")
		}
		zone = local
	}
	return schedule{cron: c, zone: zone}, nil
}

// next returns the first run strictly after t, in the schedule's zone, or
// the zero time if the schedule never fires again (robfig/cron gives up
// after five years, e.g. for February 30th).
func (s schedule) next(t time.Time) time.Time {
	// ParseStandard leaves the schedule's location at time.Local, which
	// robfig/cron reads as "the zone of the time given": so converting t
	// is what binds the schedule to our zone, never the process's.
	n := s.cron.Next(t.In(s.zone))
	if n.IsZero() {
		return n
	}
	return n.In(s.zone)
}

// mostRecent returns the latest run in (after, now] and how many runs
// fell in that interval; missed is capped just above maxMissedScan, and
// the search stays cheap however long the server was down.
func (s schedule) mostRecent(after, now time.Time) (last time.Time, missed int) {
	for t := s.next(after); !t.IsZero() && !t.After(now); t = s.next(t) {
		last = t
		missed++
		if missed > maxMissedScan {
			return s.latestSince(last, now), missed
		}
	}
	return last, missed
}

// latestSince returns the latest run at or before now, given lo, a run at
// or before now. It searches back from now in doubling windows, so the
// cost grows with the logarithm of the gap, not with the runs in it.
func (s schedule) latestSince(lo, now time.Time) time.Time {
	if d, ok := s.cron.(cron.ConstantDelaySchedule); ok && d.Delay > 0 {
		// @every: runs are lo + k*Delay.
		return lo.Add(now.Sub(lo) / d.Delay * d.Delay)
	}
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(lo) {
			from = lo
		}
		best := time.Time{}
		for t := s.next(from); !t.IsZero() && !t.After(now); t = s.next(t) {
			best = t
		}
		if !best.IsZero() {
			return best
		}
		if from.Equal(lo) {
			return lo
		}
	}
}

// NextRuns returns the next n run times of cj strictly after `after`, in
// the CronJob's zone (spec.timeZone, or local when unset), for `berth
// describe cronjob`. It returns fewer when the schedule stops firing.
func NextRuns(cj *batchv1.CronJob, local *time.Location, after time.Time, n int) ([]time.Time, error) {
	s, err := parseSchedule(cj, local)
	if err != nil {
		return nil, fmt.Errorf("cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	var out []time.Time
	for t := s.next(after); !t.IsZero() && len(out) < n; t = s.next(t) {
		out = append(out, t)
	}
	return out, nil
}

// Zone returns the zone cj's schedule is read in: spec.timeZone, or local.
func Zone(cj *batchv1.CronJob, local *time.Location) (*time.Location, error) {
	s, err := parseSchedule(cj, local)
	if err != nil {
		return nil, fmt.Errorf("cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	return s.zone, nil
}
