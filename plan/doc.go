// Package plan computes what a Git revision would do to a berth cluster
// before it is merged: which objects change (a diff of each object after
// defaults), what the server will do about each (rollouts, pods added or
// removed, jobs replaced, a CronJob's next run) and whether the head's
// pods fit, decided by reconciler.Admit, the code the server admits
// revisions with, on a cluster snapshot. Compute is pure; Text, Markdown,
// JSON and GitHubAnnotations render a Plan.
package plan
