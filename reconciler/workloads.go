package reconciler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/deployments"
	"github.com/berth-dev/berth/jobs"
)

// changes applies pod decisions within one transaction, keeping an index
// of what the transaction holds so later steps see earlier ones.
type changes struct {
	tx      Tx
	now     time.Time
	rev     string
	byKey   map[string]*PodRecord
	byOwner map[string][]*PodRecord // "Kind/namespace/name"
	nodes   []*NodeRecord           // as the transaction read them
	claims  []*ClaimRecord          // as the transaction leaves them

	// due is the work keys (workqueue.go) this pass syncs, all of them
	// when full (a Job a CronJob makes is synced by the next pass, which
	// its record's change wakes). wakeAt is each synced key's deadline.
	full   bool
	due    map[string]bool
	wakeAt map[string]time.Time
}

// want reports whether the pass syncs the controller of this key.
func (c *changes) want(kind, ns, name string) bool {
	return c.full || c.due[ownerKey(kind, ns, name)]
}

// requeueAt asks for the key to be synced again at t (zero: no deadline).
func (c *changes) requeueAt(kind, ns, name string, t time.Time) {
	if t.IsZero() {
		return
	}
	k := ownerKey(kind, ns, name)
	if old, ok := c.wakeAt[k]; !ok || t.Before(old) {
		c.wakeAt[k] = t
	}
}

func ownerKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (c *changes) index(pods []*PodRecord) {
	c.byKey = make(map[string]*PodRecord, len(pods))
	c.byOwner = map[string][]*PodRecord{}
	for _, p := range pods {
		c.byKey[p.key()] = p
		k := ownerKey(p.Owner.Kind, p.Pod.Namespace, p.Owner.Name)
		c.byOwner[k] = append(c.byOwner[k], p)
	}
}

func (c *changes) owned(kind, ns, name string) []*PodRecord {
	return c.byOwner[ownerKey(kind, ns, name)]
}

func (c *changes) event(typ, reason, kind, ns, name, msg string) error {
	return c.tx.AddEvent(event(c.now, typ, reason, kind, ns, name, msg))
}

// create stores a new pod record unless its name is taken: names are
// deterministic, so creating twice is creating once.
func (c *changes) create(p *PodRecord) error {
	if c.byKey[p.key()] != nil {
		return nil
	}
	if err := c.tx.PutPod(p); err != nil {
		return err
	}
	c.byKey[p.key()] = p
	k := ownerKey(p.Owner.Kind, p.Pod.Namespace, p.Owner.Name)
	c.byOwner[k] = append(c.byOwner[k], p)
	return c.event("Normal", "SuccessfulCreate", p.Owner.Kind, p.Pod.Namespace, p.Owner.Name, "Created pod: "+p.Pod.Name)
}

// remove asks for a pod to go: one never bound is forgotten at once, a
// bound one is marked and its node stops it, then reports it gone.
func (c *changes) remove(p *PodRecord, why string) error {
	if !p.bound() {
		return c.forget(p)
	}
	if p.deleting() {
		return nil
	}
	p.markDeleted(c.now)
	if err := c.tx.PutPod(p); err != nil {
		return err
	}
	return c.event("Normal", "Killing", "Pod", p.Pod.Namespace, p.Pod.Name, why)
}

// forget drops the record at once.
func (c *changes) forget(p *PodRecord) error {
	if err := c.tx.DeletePod(p.Pod.Namespace, p.Pod.Name); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	delete(c.byKey, p.key())
	k := ownerKey(p.Owner.Kind, p.Pod.Namespace, p.Owner.Name)
	list := c.byOwner[k]
	for i, q := range list {
		if q == p {
			c.byOwner[k] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	return nil
}

// syncWorkloads turns the applied revision into pod records, in one
// transaction: Pods as written, Deployment rollouts, Jobs and CronJobs
// through the jobs controllers, prune, and pods lost with their node. It
// returns when the controllers want to run again.
//
// It also returns the view the transaction ended with, for scheduling:
// reading 10,000 pod records once per pass instead of twice is most of a
// pass's cost.
func (r *Reconciler) syncWorkloads(now time.Time) (time.Time, *clusterView, error) {
	var wake time.Time
	var view *clusterView
	idx := r.applied
	due, full := r.dueKeys(now, idx)
	if len(due) == 0 {
		// Nothing changed that a controller reads, no deadline is due.
		r.workloadsIdle = true
		return r.queue.next(), nil, nil
	}
	r.workloadsIdle = false
	var wakeAt map[string]time.Time
	pass := func(tx Tx) error {
		wake, view = time.Time{}, nil
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		c := &changes{tx: tx, now: now, full: full, due: map[string]bool{}, wakeAt: map[string]time.Time{}}
		for _, k := range due {
			c.due[k] = true
		}
		wakeAt = c.wakeAt
		defer func() { view = c.view() }()
		if idx != nil {
			c.rev = idx.Revision
		}
		c.index(pods)
		if c.nodes, err = tx.Nodes(); err != nil {
			return err
		}
		if c.claims, err = tx.Claims(); err != nil {
			return err
		}
		if err := r.lostNodes(c, pods); err != nil {
			return err
		}
		if idx == nil {
			return nil // nothing admitted yet: keep what runs as it is
		}
		steps := []func(*changes, *desiredIndex) (time.Time, error){
			r.syncPods, r.syncDeployments, r.syncDaemonSets, r.syncCronJobs, r.syncJobs, r.prune, r.syncStateful,
		}
		for _, step := range steps {
			w, err := step(c, idx)
			if err != nil {
				return err
			}
			wake = earliest(wake, w)
		}
		return nil
	}
	// Most passes change nothing: rehearse read-only first, and open the
	// write transaction (a disk sync even when empty) only if the pass
	// would write. Passes that write come in runs (a rollout, a new
	// revision), so after one that wrote the next goes straight to the
	// Update instead of reading every pod twice.
	err := errWouldWrite
	if !r.workloadsWrote {
		err = r.cfg.Store.View(func(tx ReadTx) error { return pass(rehearsalTx{tx}) })
	}
	r.workloadsWrote = false
	if errors.Is(err, errWouldWrite) {
		var before uint64
		err = r.cfg.Store.Update(func(tx Tx) error { before = tx.Version(); return pass(tx) })
		if err == nil {
			// The version moves only for a write that changed bytes (or
			// another writer's since, which at worst skips one rehearsal).
			err = r.cfg.Store.View(func(tx ReadTx) error { r.workloadsWrote = tx.Version() != before; return nil })
		}
	}
	if err != nil {
		return r.queue.next(), nil, err
	}
	r.queue.done(due)
	if full {
		r.lastFull = now
	}
	for k, t := range wakeAt {
		r.queue.addAt(k, t)
	}
	// A step that names no key for its deadline gets a full pass then.
	r.queue.addAt(fullKey, wake)
	return r.queue.next(), view, nil
}

// clusterView is what a pass last read of pods and nodes.
type clusterView struct {
	pods   []*PodRecord
	nodes  []*NodeRecord
	claims []*ClaimRecord
}

func (c *changes) view() *clusterView {
	v := &clusterView{pods: make([]*PodRecord, 0, len(c.byKey))}
	for _, p := range c.byKey {
		v.pods = append(v.pods, p)
	}
	v.nodes, v.claims = c.nodes, c.claims
	return v
}

// lostNodes handles pods bound to a node that is gone, or NotReady for
// FenceGrace past the node timeout (its agent has stopped them by then,
// package fencing): the server is the only authority on bindings, so it
// moves them. A pod of a Job ends Failed (NodeLost) and the Job decides;
// others are forgotten and made again elsewhere. When the node returns,
// its list no longer holds them and its agent removes them.
//
// A pod whose claim is bound to its NotReady node could only be made
// again on that node, so it is not replaced: as Kubernetes leaves the pod
// of an unreachable node to its StatefulSet, it stays bound with its UID,
// marked not Ready (the node controller's MarkPodsNotReady), and its
// agent carries on with it when the node returns.
func (r *Reconciler) lostNodes(c *changes, pods []*PodRecord) error {
	keep, registered := map[string]bool{}, map[string]bool{}
	for _, n := range c.nodes {
		keep[n.Name] = n.Ready || c.now.Before(r.podsMoveAt(n, c.now))
		registered[n.Name] = true
	}
	claimNode := map[string]string{}
	for _, cr := range c.claims {
		claimNode[cr.key()] = cr.Node
	}
	for _, p := range pods {
		if !p.bound() || keep[p.Pod.Spec.NodeName] {
			continue
		}
		node := p.Pod.Spec.NodeName
		if p.deleting() || p.finished() {
			if p.deleting() {
				if err := c.forget(p); err != nil {
					return err
				}
			}
			continue
		}
		if registered[node] && pinnedByClaim(p, claimNode) {
			if err := c.markNodeNotReady(p); err != nil {
				return err
			}
			continue
		}
		msg := fmt.Sprintf("Node %s is not ready; pod %s moves", node, p.Pod.Name)
		if p.Owner.Kind == OwnerJob {
			p.Pod.Spec.NodeName = ""
			p.Pod.Status.Phase = corev1.PodFailed
			p.Pod.Status.Reason = "NodeLost"
			p.Pod.Status.Message = fmt.Sprintf("Node %s which was running pod %s is unresponsive", node, p.Pod.Name)
			if err := c.tx.PutPod(p); err != nil {
				return err
			}
		} else if err := c.forget(p); err != nil {
			return err
		}
		r.log.Warn("pod lost with its node", "pod", p.key(), "node", node)
		if err := c.event("Warning", "NodeLost", "Pod", p.Pod.Namespace, p.Pod.Name, msg); err != nil {
			return err
		}
	}
	return nil
}

// pinnedByClaim reports whether the pod names a claim bound to the node
// the pod is bound to (claimNode: "namespace/name" → node).
func pinnedByClaim(p *PodRecord, claimNode map[string]string) bool {
	for _, v := range p.Pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && claimNode[key(p.Pod.Namespace, v.PersistentVolumeClaim.ClaimName)] == p.Pod.Spec.NodeName {
			return true
		}
	}
	return false
}

// markNodeNotReady sets the Ready condition of a pod its NotReady node
// keeps to False, once: its node cannot say how it is, so it serves no
// Service and no controller counts it ready. Its agent's next report
// after the node returns sets it again.
func (c *changes) markNodeNotReady(p *PodRecord) error {
	i := slices.IndexFunc(p.Pod.Status.Conditions, func(pc corev1.PodCondition) bool { return pc.Type == corev1.PodReady })
	if i >= 0 && p.Pod.Status.Conditions[i].Status == corev1.ConditionFalse && p.Pod.Status.Conditions[i].Reason == reasonNodeNotReady {
		return nil
	}
	cond := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: reasonNodeNotReady,
		Message:            fmt.Sprintf("node %s is not ready; the pod waits for it with its claim", p.Pod.Spec.NodeName),
		LastTransitionTime: metav1.NewTime(c.now)}
	if i >= 0 {
		p.Pod.Status.Conditions[i] = cond
	} else {
		p.Pod.Status.Conditions = append(p.Pod.Status.Conditions, cond)
	}
	p.ReadySince = time.Time{}
	if err := c.tx.PutPod(p); err != nil {
		return err
	}
	return c.event("Warning", reasonNodeNotReady, "Pod", p.Pod.Namespace, p.Pod.Name,
		fmt.Sprintf("Node %s is not ready; pod %s keeps its claim there and waits for it", p.Pod.Spec.NodeName, p.Pod.Name))
}

// reasonNodeNotReady is the Ready condition's reason and the event of a
// pod kept on its NotReady node.
const reasonNodeNotReady = "NodeNotReady"

// syncPods keeps one pod per Pod in Git. Pods are immutable, so a changed
// Pod is replaced: the old one is stopped, then the new one made.
func (r *Reconciler) syncPods(c *changes, idx *desiredIndex) (time.Time, error) {
	keys := sortedKeys(idx.pods)
	for _, k := range keys {
		w := idx.pods[k]
		if !c.want(OwnerPod, w.pod.Namespace, w.pod.Name) {
			continue
		}
		p := c.byKey[k]
		if p != nil && p.Owner.Kind != OwnerPod {
			if err := c.event("Warning", "NameTaken", "Pod", w.pod.Namespace, w.pod.Name, fmt.Sprintf("a pod of %s %s already has this name", p.Owner.Kind, p.Owner.Name)); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if p != nil && p.TemplateHash != w.hash && !p.deleting() {
			if err := c.remove(p, "Pod changed in Git; replacing it"); err != nil {
				return time.Time{}, err
			}
			p = c.byKey[k]
		}
		if p == nil {
			owner := Owner{Kind: OwnerPod, Name: w.pod.Name}
			if err := c.create(newPodRecord(w.pod.Namespace, w.pod.Name, owner, &w.pod.ObjectMeta, &w.pod.Spec, w.hash, c.rev, c.now)); err != nil {
				return time.Time{}, err
			}
		}
	}
	return time.Time{}, nil
}

func (r *Reconciler) syncDeployments(c *changes, idx *desiredIndex) (time.Time, error) {
	var wake time.Time
	for _, k := range sortedKeys(idx.deployments) {
		w := idx.deployments[k]
		d := w.d
		if !c.want(OwnerDeployment, d.Namespace, d.Name) {
			continue
		}
		prev, err := c.tx.Deployment(d.Namespace, d.Name)
		if errors.Is(err, ErrNotFound) {
			prev, err = &DeploymentRecord{}, nil
		}
		if err != nil {
			return wake, err
		}
		owned := c.owned(OwnerDeployment, d.Namespace, d.Name)
		observed := make([]deployments.ObservedPod, 0, len(owned))
		for _, p := range owned {
			observed = append(observed, p.observeForDeployment())
		}
		res, err := deployments.SyncDeployment(deployments.Input{
			Deployment:   d,
			TemplateHash: w.hash,
			State:        deployments.State{Status: prev.Status, TemplateHash: prev.TemplateHash, LastProgress: prev.LastProgress, Created: prev.Created, RolloutRevision: prev.RolloutRevision},
			Pods:         observed,
			Now:          c.now,
		})
		if err != nil {
			// manifest validated the spec; a Deployment this refuses is
			// berth's bug, reported on the Deployment, not a stopped loop.
			if err := c.event("Warning", "FailedSync", "Deployment", d.Namespace, d.Name, err.Error()); err != nil {
				return wake, err
			}
			continue
		}
		owner := Owner{Kind: OwnerDeployment, Name: d.Name}
		for _, name := range res.Create {
			rec := newPodRecord(d.Namespace, name, owner, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec, w.hash, c.rev, c.now)
			if err := c.create(rec); err != nil {
				return wake, err
			}
		}
		for _, ref := range res.Delete {
			p := c.byKey[key(d.Namespace, ref.Name)]
			if p == nil || p.Pod.UID != ref.UID {
				continue
			}
			why := "Scaled down by the rollout of deployment " + d.Name
			if ref.Reason == deployments.DeleteFinished {
				why = "Pod ended; the deployment replaces it"
			}
			if err := c.remove(p, why); err != nil {
				return wake, err
			}
		}
		if res.Changed || prev.Revision != c.rev {
			rec := &DeploymentRecord{Namespace: d.Namespace, Name: d.Name, Status: res.State.Status,
				TemplateHash: res.State.TemplateHash, LastProgress: res.State.LastProgress, Created: res.State.Created,
				RolloutRevision: res.State.RolloutRevision, Revision: c.rev}
			if err := c.tx.PutDeployment(rec); err != nil {
				return wake, err
			}
		}
		for _, e := range res.Events {
			if err := c.event(e.Type, e.Reason, "Deployment", d.Namespace, d.Name, e.Message); err != nil {
				return wake, err
			}
		}
		c.requeueAt(OwnerDeployment, d.Namespace, d.Name, res.RequeueAt)
	}
	recs, err := c.tx.Deployments()
	if err != nil {
		return wake, err
	}
	for _, rec := range recs {
		if _, ok := idx.deployments[key(rec.Namespace, rec.Name)]; !ok {
			if err := c.tx.DeleteDeployment(rec.Namespace, rec.Name); err != nil {
				return wake, err
			}
		}
	}
	return wake, nil
}

// syncCronJobs runs the CronJob controller for every CronJob in Git: it
// starts runs as Job records, trims history, and forgets CronJobs (and
// their Jobs) gone from Git.
func (r *Reconciler) syncCronJobs(c *changes, idx *desiredIndex) (time.Time, error) {
	var wake time.Time
	jobRecs, err := c.tx.Jobs()
	if err != nil {
		return wake, err
	}
	for _, k := range sortedKeys(idx.cronjobs) {
		cj := idx.cronjobs[k]
		if !c.want(kindCronJob, cj.Namespace, cj.Name) {
			continue
		}
		rec, err := c.tx.CronJob(cj.Namespace, cj.Name)
		if errors.Is(err, ErrNotFound) {
			rec, err = &CronJobRecord{Namespace: cj.Namespace, Name: cj.Name}, nil
		}
		if err != nil {
			return wake, err
		}
		var owned []jobs.OwnedJob
		for _, jr := range jobRecs {
			if jr.CronJob == cj.Name && jr.Job.Namespace == cj.Namespace {
				owned = append(owned, jobs.ObserveJob(cj.Name, &jr.Job))
			}
		}
		res, err := jobs.SyncCronJob(jobs.CronJobInput{CronJob: cj, State: rec.State, Jobs: owned, Now: c.now, LocalZone: r.cfg.LocalZone})
		if err != nil {
			if e := c.event("Warning", "InvalidSchedule", "CronJob", cj.Namespace, cj.Name, err.Error()); e != nil {
				return wake, e
			}
			continue
		}
		for _, ref := range res.Delete {
			if err := c.tx.DeleteJob(cj.Namespace, ref.Name); err != nil && !errors.Is(err, ErrNotFound) {
				return wake, err
			}
		}
		for _, j := range res.Create {
			if _, err := c.tx.Job(j.Namespace, j.Name); err == nil {
				continue // made before a crash: creating twice is creating once
			}
			jr := &JobRecord{Job: *j.DeepCopy(), CronJob: cj.Name, Revision: c.rev}
			if jr.Job.UID == "" {
				jr.Job.UID = newUID()
			}
			if jr.Job.CreationTimestamp.IsZero() {
				jr.Job.CreationTimestamp = metav1.NewTime(c.now)
			}
			if err := c.tx.PutJob(jr); err != nil {
				return wake, err
			}
		}
		for _, e := range res.Events {
			if err := c.event(e.Type, e.Reason, "CronJob", cj.Namespace, cj.Name, e.Message); err != nil {
				return wake, err
			}
		}
		next := CronJobRecord{Namespace: cj.Namespace, Name: cj.Name, State: res.State, Status: res.Status}
		if !jsonEqual(rec, &next) {
			if err := c.tx.PutCronJob(&next); err != nil {
				return wake, err
			}
		}
		c.requeueAt(kindCronJob, cj.Namespace, cj.Name, res.WakeAt)
	}
	recs, err := c.tx.CronJobs()
	if err != nil {
		return wake, err
	}
	for _, rec := range recs {
		if _, ok := idx.cronjobs[key(rec.Namespace, rec.Name)]; !ok {
			if err := c.tx.DeleteCronJob(rec.Namespace, rec.Name); err != nil {
				return wake, err
			}
		}
	}
	return wake, nil
}

// syncJobs keeps a record per Job in Git (replaced when its spec changes)
// and runs the Job controller on every Job record.
func (r *Reconciler) syncJobs(c *changes, idx *desiredIndex) (time.Time, error) {
	var wake time.Time
	recs, err := c.tx.Jobs()
	if err != nil {
		return wake, err
	}
	byKey := map[string]*JobRecord{}
	for _, jr := range recs {
		byKey[key(jr.Job.Namespace, jr.Job.Name)] = jr
	}
	for _, k := range sortedKeys(idx.jobs) {
		w := idx.jobs[k]
		if !c.want(OwnerJob, w.job.Namespace, w.job.Name) {
			continue
		}
		old := byKey[k]
		if old != nil && (old.CronJob != "" || old.Job.Annotations[AnnotationSpecHash] == w.hash) {
			continue
		}
		jr := &JobRecord{Job: *w.job.DeepCopy(), Revision: c.rev}
		jr.Job.UID = newUID()
		jr.Job.CreationTimestamp = metav1.NewTime(c.now)
		if jr.Job.Annotations == nil {
			jr.Job.Annotations = map[string]string{}
		}
		jr.Job.Annotations[AnnotationSpecHash] = w.hash
		if old != nil {
			// A Job changed in Git is a new run. Its pods continue the old
			// run's numbering, so no name is reused while old pods stop.
			jr.Progress.NextPod = old.Progress.NextPod
			if err := c.event("Normal", "Replaced", "Job", w.job.Namespace, w.job.Name, "Job changed in Git; starting a new run"); err != nil {
				return wake, err
			}
		}
		if err := c.tx.PutJob(jr); err != nil {
			return wake, err
		}
		byKey[k] = jr
	}
	for k, jr := range byKey {
		gone := false
		if jr.CronJob == "" {
			_, ok := idx.jobs[k]
			gone = !ok
		} else {
			_, ok := idx.cronjobs[key(jr.Job.Namespace, jr.CronJob)]
			gone = !ok
		}
		if gone {
			if err := c.tx.DeleteJob(jr.Job.Namespace, jr.Job.Name); err != nil && !errors.Is(err, ErrNotFound) {
				return wake, err
			}
			delete(byKey, k)
		}
	}
	for _, k := range sortedKeys(byKey) {
		jr := byKey[k]
		if !c.want(OwnerJob, jr.Job.Namespace, jr.Job.Name) {
			continue
		}
		w, err := r.syncJob(c, jr)
		if err != nil {
			return wake, err
		}
		c.requeueAt(OwnerJob, jr.Job.Namespace, jr.Job.Name, w)
	}
	return wake, nil
}

func (r *Reconciler) syncJob(c *changes, jr *JobRecord) (time.Time, error) {
	ns, name := jr.Job.Namespace, jr.Job.Name
	var observed []jobs.ObservedPod
	for _, p := range jobPods(c, jr) {
		observed = append(observed, jobs.ObservePod(&p.Pod))
	}
	res, err := jobs.SyncJob(jobs.JobInput{Job: &jr.Job, Progress: jr.Progress, Pods: observed, Now: c.now})
	if err != nil {
		return time.Time{}, c.event("Warning", "InvalidJob", "Job", ns, name, err.Error())
	}
	owner := Owner{Kind: OwnerJob, Name: name}
	for _, pod := range res.Create {
		rec := newPodRecord(ns, pod.Name, owner, &pod.ObjectMeta, &pod.Spec, "", c.rev, c.now)
		if err := c.create(rec); err != nil {
			return time.Time{}, err
		}
	}
	for _, ref := range res.Delete {
		if p := c.byKey[key(ns, ref.Name)]; p != nil && p.Pod.UID == ref.UID {
			if err := c.remove(p, "Stopped by job "+name); err != nil {
				return time.Time{}, err
			}
		}
	}
	if res.Changed {
		jr.Job.Status = res.Status
		jr.Progress = res.Progress
		if err := c.tx.PutJob(jr); err != nil {
			return time.Time{}, err
		}
	}
	for _, e := range res.Events {
		if err := c.event(e.Type, e.Reason, "Job", ns, name, e.Message); err != nil {
			return time.Time{}, err
		}
	}
	// A run made by a CronJob is forgotten once its TTL passed and its
	// pods are gone; a Job from Git stays (as done) while it is in Git,
	// or it would run again.
	if res.Expired && jr.CronJob != "" && len(jobPods(c, jr)) == 0 {
		if err := c.tx.DeleteJob(ns, name); err != nil && !errors.Is(err, ErrNotFound) {
			return time.Time{}, err
		}
	}
	return res.RequeueAt, nil
}

// jobPods are the pods of this run of a Job: same name, same UID.
func jobPods(c *changes, jr *JobRecord) []*PodRecord {
	var out []*PodRecord
	for _, p := range c.owned(OwnerJob, jr.Job.Namespace, jr.Job.Name) {
		if p.Pod.Labels[jobs.ControllerUIDLabel] == string(jr.Job.UID) {
			out = append(out, p)
		}
	}
	return out
}

// prune removes every pod whose owner is no longer desired: what is gone
// from Git is torn down.
func (r *Reconciler) prune(c *changes, idx *desiredIndex) (time.Time, error) {
	jobRecs, err := c.tx.Jobs()
	if err != nil {
		return time.Time{}, err
	}
	jobUID := map[string]string{}
	for _, jr := range jobRecs {
		jobUID[key(jr.Job.Namespace, jr.Job.Name)] = string(jr.Job.UID)
	}
	var orphans []*PodRecord
	for _, p := range c.byKey {
		if p.deleting() {
			continue
		}
		k := key(p.Pod.Namespace, p.Owner.Name)
		var ok bool
		switch p.Owner.Kind {
		case OwnerPod:
			_, ok = idx.pods[k]
		case OwnerDeployment:
			_, ok = idx.deployments[k]
		case OwnerDaemonSet:
			_, ok = idx.daemonsets[k]
		case OwnerStatefulSet:
			_, ok = idx.statefulsets[k]
		case OwnerJob:
			uid, found := jobUID[k]
			ok = found && p.Pod.Labels[jobs.ControllerUIDLabel] == uid
		}
		if !ok {
			orphans = append(orphans, p)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].key() < orphans[j].key() })
	for _, p := range orphans {
		if err := c.remove(p, fmt.Sprintf("%s %s is no longer in Git", p.Owner.Kind, p.Owner.Name)); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, nil
}

// jsonEqual compares records as the store keeps them, so a value that
// only differs in memory (a monotonic clock reading) is not a change.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
