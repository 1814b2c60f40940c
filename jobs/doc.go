// Package jobs holds the Job and CronJob controllers as pure functions of
// (spec, observed pods or Jobs, now) to actions. The caller injects the clock,
// applies the actions and persists what must survive a restart.
package jobs
