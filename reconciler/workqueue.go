package reconciler

import (
	"sort"
	"time"
)

// A work key names what a controller syncs: "Kind/namespace/name" (the
// ownerKey of the pods it makes), e.g. "Deployment/default/web". The
// workload pass runs a controller only for the keys that are due, as the
// Kubernetes controllers' work queues do, instead of every controller on
// every store change.
//
// fullKey stands for every key: a change the pass cannot attribute to
// one key (a node's readiness, a deadline of a step that names no key,
// the change log having been trimmed) makes the next pass a full one.
const fullKey = "*"

// kindCronJob is the kind of a CronJob's work key (no pod is owned by a
// CronJob, so there is no Owner kind for it).
const kindCronJob = "CronJob"

// unattributed is a change workKeysOf cannot name a key for (a record
// that no longer decodes): it concerns every key.
type unattributed struct{}

// workQueue holds the keys due for a sync: deduplicated (a key added ten
// times is synced once) and delayed (addAt: a controller's deadline, such
// as a CronJob's next schedule or a rollout's progress deadline). It has
// no goroutines: the loop takes what is due at its clock's now, so tests
// drive it with a fake clock. Not safe for concurrent use: the loop owns
// it under Reconciler.mu.
type workQueue struct {
	ready map[string]struct{}
	// waiting holds each delayed key's earliest due time.
	waiting map[string]time.Time
}

func newWorkQueue() *workQueue {
	return &workQueue{ready: map[string]struct{}{}, waiting: map[string]time.Time{}}
}

// add makes key due now.
func (q *workQueue) add(key string) { q.ready[key] = struct{}{} }

// addAt makes key due at t; of several times for one key the earliest
// counts (a sync before it finds the key's deadline again if it still
// holds).
func (q *workQueue) addAt(key string, t time.Time) {
	if t.IsZero() {
		return
	}
	if old, ok := q.waiting[key]; !ok || t.Before(old) {
		q.waiting[key] = t
	}
}

// due moves the delayed keys whose time came by now to the ready set and
// returns the ready keys (sorted), leaving them in the queue: done removes
// them once the pass that synced them succeeded, so a failed pass retries
// them.
func (q *workQueue) due(now time.Time) []string {
	for k, t := range q.waiting {
		if !t.After(now) {
			q.ready[k] = struct{}{}
			delete(q.waiting, k)
		}
	}
	keys := make([]string, 0, len(q.ready))
	for k := range q.ready {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// done removes keys synced by a pass that succeeded.
func (q *workQueue) done(keys []string) {
	for _, k := range keys {
		delete(q.ready, k)
	}
}

// next is when the earliest delayed key is due (zero: none).
func (q *workQueue) next() time.Time {
	var at time.Time
	for _, t := range q.waiting {
		at = earliest(at, t)
	}
	return at
}

// changeLog is a Store that tells which work keys the versions after
// since changed. BoltStore is one; with a Store that is not, every pass
// is a full one.
type changeLog interface {
	// ChangedSince returns the work keys changed by the versions after
	// since up to version, the store's version when it was called; ok is
	// false if the log no longer reaches back to since (the caller must
	// sync everything).
	ChangedSince(since uint64) (keys []string, version uint64, ok bool)
}

// workKeysOf are the work keys a change of the record rec in bucket
// concerns: a pod's owner, a Job and the CronJob that made it, a
// workload's own record; a node (readiness, labels, capacity: what
// DaemonSets and lost pods depend on), a StatefulSet or a claim concerns
// every key. Events, the
// sync record and service addresses concern none.
func workKeysOf(rec any) []string {
	switch r := rec.(type) {
	case *PodRecord:
		return []string{ownerKey(r.Owner.Kind, r.Pod.Namespace, r.Owner.Name)}
	case *JobRecord:
		keys := []string{ownerKey(OwnerJob, r.Job.Namespace, r.Job.Name)}
		if r.CronJob != "" {
			keys = append(keys, ownerKey(kindCronJob, r.Job.Namespace, r.CronJob))
		}
		return keys
	case *DeploymentRecord:
		return []string{ownerKey(OwnerDeployment, r.Namespace, r.Name)}
	case *CronJobRecord:
		return []string{ownerKey(kindCronJob, r.Namespace, r.Name)}
	case *DaemonSetRecord:
		return []string{ownerKey(OwnerDaemonSet, r.Namespace, r.Name)}
	case *NodeRecord, *StatefulSetRecord, *ClaimRecord, unattributed:
		// syncStateful is not keyed: a StatefulSet's or a claim's change
		// (a claim bound, its data removed by the agent) makes a full pass.
		return []string{fullKey}
	}
	return nil
}

// dueKeys feeds the queue with what changed since the last pass (the
// store's change log, a newly applied revision, FullResync since the
// last full pass) and returns the keys due at now, and whether they include
// fullKey. Keys stay queued until the pass that syncs them succeeds.
func (r *Reconciler) dueKeys(now time.Time, idx *desiredIndex) (due []string, full bool) {
	if r.queue == nil {
		r.queue = newWorkQueue()
	}
	if cl, ok := r.cfg.Store.(changeLog); ok {
		keys, v, ok := cl.ChangedSince(r.seen)
		if !ok {
			r.queue.add(fullKey)
		}
		for _, k := range keys {
			r.queue.add(k)
		}
		r.seen = v
	} else {
		r.queue.add(fullKey)
	}
	if idx != r.synced {
		// A new revision syncs every key: each workload record says the
		// revision it was last reconciled at (berth rollout status waits
		// for it), unchanged objects too.
		r.queue.add(fullKey)
		r.synced = idx
	}
	if r.lastFull.IsZero() || !now.Before(r.lastFull.Add(r.cfg.FullResync)) {
		r.queue.add(fullKey) // the safety net: every key at least every FullResync
	}
	due = r.queue.due(now)
	for _, k := range due {
		if k == fullKey {
			full = true
		}
	}
	return due, full
}
