package nodeagent

import "time"

// stepTrace is told how long each step of making or removing a pod took,
// by pod UID; benchmarks set it (export_test.go) to print a breakdown.
type stepTrace func(uid, step string, d time.Duration)

// step reports the time since since as step and returns now, the start
// of the next step. It measures wall time, not the injected clock: it is
// for benchmarks, and decides nothing.
func (a *Agent) step(uid, name string, since time.Time) time.Time {
	now := time.Now()
	if f := a.trace.Load(); f != nil {
		(*f)(uid, name, now.Sub(since))
	}
	return now
}
