// Package jobs holds the Job and CronJob controllers as pure functions of
// (spec, what was remembered, what is observed, now) to actions, modelled on
// Kubernetes' job controller and CronJob controller v2. Nothing here reads
// the wall clock, touches the store or starts a goroutine. The reconciler
// calls the controllers, applies their actions and persists what they
// return.
//
// # Job
//
// SyncJob(JobInput{Job, Progress, Pods, Now}) returns a JobResult:
//
//   - Job is the defaulted Job from manifest, with the store's UID and with
//     Status set to the status SyncJob last returned (zero the first time).
//   - Progress is the JobProgress SyncJob last returned: the UIDs of finished
//     pods already counted, back-off and per-index failure records, the next
//     pod sequence number.
//   - Pods are all the Job's pods in the store, finished ones included (they
//     are kept for their logs), as ObservedPod (ObservePod reads one from a
//     corev1.Pod). A pod berth asked to stop is marked Deleting.
//
// The caller then creates JobResult.Create (complete pods with deterministic
// names <job>-<n> or <job>-<index>-<n>; creating an existing name is a
// no-op), stops JobResult.Delete, and writes Status and Progress together in
// ONE store write when Changed. Counting each finished pod exactly once
// follows from that single write: a pod is counted and remembered as counted
// together or not at all, and a pod reported twice has one UID. It syncs the
// Job again whenever one of its pods changes, and at RequeueAt (end of a
// back-off, the active deadline, the TTL). When Expired, the TTL has passed:
// the pods in Delete go, and the Job's record may go too (for a Job declared
// in Git, keep a record that it expired, or the next Git sync recreates it
// and it runs again).
//
// # CronJob
//
// SyncCronJob(CronJobInput{CronJob, State, Jobs, Now, LocalZone}) returns a
// CronJobResult: at most one Job to create (named by ScheduledJobName, the
// CronJob's name and the scheduled minute since the epoch, labelled with
// CronJobNameLabel and annotated with ScheduledTimeAnnotation), Jobs to
// delete (Replace, history limits), events (runs started, replaced and
// skipped, with the reason), the CronJobStatus, the CronJobState to persist
// and WakeAt, the next scheduled run. Jobs are the CronJob's Jobs in the
// store, as OwnedJob (ObserveJob reads one from a batchv1.Job). LocalZone is
// the server's zone, used when spec.timeZone is unset.
//
// The caller applies Delete and Create before writing State, or in the same
// transaction. The last run is also read back from the Jobs that exist, so
// a crash anywhere in between at worst repeats the sync, which creates
// nothing twice. It syncs the CronJob again at WakeAt and whenever one of
// its Jobs changes (a run skipped under Forbid may then still start, within
// its starting deadline, as in Kubernetes). NextRuns lists the next runs in the
// CronJob's zone for `berth describe cronjob`; Zone names that zone.
//
// Schedules are parsed only through manifest.ParseSchedule, the guarded
// entry to robfig/cron (used for parsing and Next() only). Errors caused by
// the spec wrap ErrInvalidSpec.
//
// # Driving the controllers
//
// Each result says when to call again (JobResult.RequeueAt,
// CronJobResult.WakeAt); the reconciler sleeps until the earliest of them
// (or a change it observes) and runs every controller then. The benchmark
// drives the controllers with a per-key wake-up queue of its own
// (wakequeue_driver_test.go).
//
// See README.md for the flow and for where berth differs from Kubernetes.
package jobs
