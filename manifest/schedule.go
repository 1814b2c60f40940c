package manifest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	// CronJob zones are checked against the IANA database compiled into
	// the binary, so a Git tree validates the same on every machine.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// ErrScheduleTZ is returned for a schedule that names its own zone with
// TZ= or CRON_TZ=; Kubernetes rejects those in favour of spec.timeZone.
var ErrScheduleTZ = errors.New("TZ and CRON_TZ are not allowed in schedule; use spec.timeZone")

// ParseSchedule parses a CronJob schedule the way Kubernetes accepts it:
// five fields or a macro such as @hourly (robfig/cron's standard parser),
// and no TZ=/CRON_TZ= prefix. timeZone, when non-nil, must name an IANA zone
// ("Local" is refused as Kubernetes does); the returned location is nil when
// timeZone is nil, meaning the caller's own default zone applies.
//
// robfig/cron v3 panics on some malformed TZ= prefixes, so schedules naming a
// zone are refused before the parser sees them, and the parser is called
// under recover as well: no string from Git can crash the caller.
func ParseSchedule(schedule string, timeZone *string) (cron.Schedule, *time.Location, error) {
	var loc *time.Location
	if timeZone != nil {
		l, err := ParseTimeZone(*timeZone)
		if err != nil {
			return nil, nil, err
		}
		loc = l
	}
	s := strings.TrimSpace(schedule)
	if s == "" {
		return nil, nil, errors.New("schedule is empty")
	}
	if strings.Contains(s, "TZ") {
		return nil, nil, ErrScheduleTZ
	}
	sched, err := parseStandard(s)
	if err != nil {
		return nil, nil, err
	}
	return sched, loc, nil
}

func parseStandard(s string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid schedule %q", s)
		}
	}()
	sched, err = cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule: %w", err)
	}
	return sched, nil
}

// ParseTimeZone loads an IANA zone by name, refusing "Local" and the empty
// string because a schedule must not change meaning with the server's zone.
func ParseTimeZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "Local") {
		return nil, fmt.Errorf("timeZone %q must be an explicit IANA zone such as Europe/Berlin", name)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones caches loaded locations: a tree of CronJobs names a handful of
// zones many times, and loading one parses the zone database each time.
var zones sync.Map
