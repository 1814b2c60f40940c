package reconciler

import (
	"encoding/json"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/serviceaddr"
	"net/netip"
	"sort"

	"fmt"
	"hash/fnv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/scheduler"
)

// admitNewest decides whether the newest good revision replaces the
// applied one. It is admitted only if every pod it needs right away (its
// Pods, its Deployments' replicas, the pods of its running Jobs) can be
// placed together, on the nodes as they are, next to what keeps running.
// Otherwise nothing of it is applied: the previous revision keeps running
// and the refusal, with each pod that does not fit and why, is kept for
// `berth status`. A refused revision is tried again when the cluster
// changes (a node joins, capacity frees).
func (r *Reconciler) admitNewest(now time.Time) error {
	cand := r.cfg.Source.Current()
	if cand == nil || (r.applied != nil && r.applied.Revision == cand.Revision) {
		return nil
	}
	r.sawRevision(cand.Revision, now)
	idx := indexDesired(cand)
	var nodes []*NodeRecord
	var pods []*PodRecord
	var jobRecs []*JobRecord
	var claimRecs []*ClaimRecord
	var sync *SyncRecord
	var addrs serviceaddr.Table
	err := r.cfg.Store.View(func(tx ReadTx) error {
		var err error
		if addrs, err = tx.ServiceAddresses(); err != nil {
			return err
		}
		if nodes, err = tx.Nodes(); err != nil {
			return err
		}
		if pods, err = tx.Pods(); err != nil {
			return err
		}
		if jobRecs, err = tx.Jobs(); err != nil {
			return err
		}
		if claimRecs, err = tx.Claims(); err != nil {
			return err
		}
		sync, err = tx.Sync()
		return err
	})
	if err != nil {
		return err
	}
	// After a restart the store remembers what was admitted.
	if r.applied == nil && sync != nil && sync.Status.Applied != nil && sync.Status.Applied.SHA == cand.Revision {
		idx.appliedAt = sync.Status.Applied.Applied
		r.resumeServices(idx, addrs)
		r.setApplied(idx)
		r.log.Info("resumed applied revision", "revision", short(cand.Revision))
		return nil
	}
	// After a restart with the newest revision not yet admitted, go on
	// running the revision that was: CronJobs keep firing and failed pods
	// are replaced while the newest one waits for room.
	if r.applied == nil && sync != nil && sync.Status.Applied != nil {
		if rs, ok := r.cfg.Source.(RevisionSource); ok {
			if prev, err := rs.At(sync.Status.Applied.SHA); err == nil {
				pidx := indexDesired(prev)
				pidx.appliedAt = sync.Status.Applied.Applied
				r.resumeServices(pidx, addrs)
				r.setApplied(pidx)
				r.log.Info("resumed the revision applied before the restart", "revision", short(prev.Revision), "newest", short(cand.Revision))
			} else {
				r.log.Warn("cannot read the revision applied before the restart; pods keep running as they are", "revision", short(sync.Status.Applied.SHA), "err", err)
			}
		}
	}
	fp := fingerprint(nodes, pods)
	if r.refused == cand.Revision && r.refusedOn == fp {
		return nil
	}
	// Kinds not run yet, Service address clashes and the fit: the
	// checks `berth plan` runs too (admit), so the two never disagree.
	adm, err := admit(idx, ClusterState{Nodes: nodes, Pods: pods, Jobs: jobRecs, Services: addrs, Claims: claimRecs}, r.cfg.Strategy, r.alloc)
	if err != nil {
		return err
	}
	if adm.Rejected == nil {
		if err := r.cfg.Store.Update(func(tx Tx) error { return tx.PutServiceAddresses(adm.Services) }); err != nil {
			return fmt.Errorf("admit revision %s: store Service addresses: %w", short(cand.Revision), err)
		}
		idx.appliedAt = now
		prev := ""
		if r.applied != nil {
			prev = r.applied.Revision
		}
		r.setApplied(idx)
		r.admittedRevision(cand.Revision, now)
		r.refused, r.refusedOn, r.refusedWhy = "", "", nil
		r.log.Info("admitted revision", "revision", short(cand.Revision), "subject", cand.Subject, "previous", short(prev), "new pods", len(adm.Required))
		return nil
	}
	if r.refused != cand.Revision {
		refusedRevision(adm.Reason)
		switch adm.Reason {
		case metrics.RefusedNotRunYet:
			r.log.Warn("refused revision: kinds not run yet", "revision", short(cand.Revision), "objects", len(adm.Rejected.Errors))
		case metrics.RefusedServiceAddresses:
			r.log.Warn("refused revision: Service addresses clash", "revision", short(cand.Revision), "errors", len(adm.Rejected.Errors))
		default:
			r.log.Warn("refused revision: its pods do not fit", "revision", short(cand.Revision), "unplaceable", adm.Unfit, "needed", len(adm.Required))
		}
	}
	r.refused, r.refusedOn, r.refusedWhy = cand.Revision, fp, adm.Rejected
	return nil
}

// ClusterState is what admission reads of the cluster: the nodes, the
// pod records and the job records. The server reads it from its store;
// `berth plan` from a snapshot (StateOf).
type ClusterState struct {
	Nodes []*NodeRecord
	Pods  []*PodRecord
	Jobs  []*JobRecord
	// Claims are the claim records: bound ones pin their pods.
	Claims []*ClaimRecord
	// Services are the addresses the admitted Services hold; a revision
	// keeps them and must not clash with them.
	Services serviceaddr.Table
	// ServiceCIDR is where new cluster IPs come from (Admit's default
	// serviceaddr.DefaultServiceCIDR; the server's loop uses its own).
	ServiceCIDR netip.Prefix
}

// Admission is the verdict on one revision against one cluster state.
type Admission struct {
	// Required are the pods the revision needs placed right away; Owners
	// names what makes each ("deployment web").
	Required []*corev1.Pod
	Owners   map[*corev1.Pod]string
	// Kept are the bound pods that stay as they are under the revision.
	Kept []scheduler.Bound
	// Plan is the scheduler's all-or-nothing placement of Required.
	Plan *scheduler.Plan
	// Rejected is nil when the revision is admitted; otherwise it is the
	// refusal `berth status` shows, and Unfit counts the pods that fit
	// nowhere.
	Rejected *api.RejectedRevision
	Unfit    int
	// Reason is why the revision is refused, a metrics.Refused* label
	// (kinds not run yet, Service addresses, fit); "" when admitted.
	Reason string
	// Services is the address table the revision is admitted with.
	Services serviceaddr.Table
}

// Admit decides whether revision d would be admitted on the cluster as st
// holds it, by the rules the server's loop applies (admitNewest calls the
// same code): no kind the server does not run yet, no Service address
// that clashes, and every pod it needs right away must fit, together,
// next to what keeps running. It changes nothing.
func Admit(d *Desired, st ClusterState, strategy scheduler.Strategy) (*Admission, error) {
	alloc, err := allocatorFor(st)
	if err != nil {
		return nil, err
	}
	return admit(indexDesired(d), st, strategy, alloc)
}

// Check runs the refusals of Admit that do not depend on nodes and pods
// (kinds not run yet, Service addresses against st.Services), for a plan
// made without a cluster snapshot. Rejected is nil when none applies.
func Check(d *Desired, st ClusterState) (*Admission, error) {
	alloc, err := allocatorFor(st)
	if err != nil {
		return nil, err
	}
	// Neither check reads the templates' hashes indexDesired computes.
	adm := &Admission{}
	refuseEarly(&desiredIndex{Desired: d}, st, alloc, adm)
	return adm, nil
}

func allocatorFor(st ClusterState) (*serviceaddr.Allocator, error) {
	cidr := st.ServiceCIDR
	if !cidr.IsValid() {
		cidr = serviceaddr.DefaultServiceCIDR
	}
	alloc, err := serviceaddr.New(cidr)
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	return alloc, nil
}

// refuseEarly is what refuses a revision before its pods are placed: it
// holds kinds the loop does not run yet, or its Services' addresses clash
// (with each other or with what st.Services holds). It sets adm.Rejected
// and adm.Reason, or adm.Services and idx.services when neither applies.
func refuseEarly(idx *desiredIndex, st ClusterState, alloc *serviceaddr.Allocator, adm *Admission) {
	cand := idx.Desired
	rev := api.Revision{SHA: cand.Revision, Subject: cand.Subject, Author: cand.Author, Time: cand.CommitTime}
	if errs := notRunYet(cand); len(errs) > 0 {
		adm.Reason = metrics.RefusedNotRunYet
		adm.Rejected = &api.RejectedRevision{Revision: rev, Errors: errs,
			Message: "the revision holds kinds this server does not run yet; the previous revision keeps running"}
		return
	}
	// Services are admitted with the rest: a clash of addresses refuses
	// the revision, naming both Services.
	table, aerrs := allocateServices(alloc, idx, st.Services)
	if len(aerrs) > 0 {
		adm.Reason = metrics.RefusedServiceAddresses
		adm.Rejected = &api.RejectedRevision{Revision: rev,
			Message: "the revision's Service addresses clash; the previous revision keeps running"}
		for _, e := range aerrs {
			adm.Rejected.Errors = append(adm.Rejected.Errors, api.ManifestError{File: e.File, Line: e.Line, Field: e.Field, Message: e.Message})
		}
		return
	}
	adm.Services = table
}

func admit(idx *desiredIndex, st ClusterState, strategy scheduler.Strategy, alloc *serviceaddr.Allocator) (*Admission, error) {
	adm := &Admission{}
	if refuseEarly(idx, st, alloc, adm); adm.Rejected != nil {
		return adm, nil
	}
	required, kept, owners := admissionSet(idx, st.Pods, st.Jobs)
	required = withoutDaemonPodsOfDownNodes(required, st.Nodes)
	for _, p := range daemonCandidates(idx, st.Nodes, st.Pods) {
		required = append(required, p.pod)
		owners[p.pod] = "daemonset " + p.owner
	}
	for _, p := range statefulCandidates(idx, st.Pods) {
		required = append(required, p.pod)
		owners[p.pod] = "statefulset " + p.owner
	}
	required = withoutPodsOfDownClaims(required, st.Claims, st.Nodes)
	cluster := scheduler.Cluster{Bound: kept, Claims: admissionClaims(idx, st.Claims)}
	for _, n := range st.Nodes {
		cluster.Nodes = append(cluster.Nodes, schedulerNode(n))
	}
	plan, err := scheduler.Place(required, cluster, scheduler.Options{Strategy: strategy, AllOrNothing: true})
	if err != nil {
		return nil, fmt.Errorf("place revision %s: %w", short(idx.Revision), err)
	}
	adm.Required, adm.Owners, adm.Kept, adm.Plan = required, owners, kept, plan
	if plan.Complete() {
		return adm, nil
	}
	cand := idx.Desired
	rej := &api.RejectedRevision{Revision: api.Revision{SHA: cand.Revision, Subject: cand.Subject, Author: cand.Author, Time: cand.CommitTime}}
	rej.Unplaceable = groupUnplaced(plan.Unplaced, owners)
	unfit := 0
	for _, u := range rej.Unplaceable {
		unfit += max(u.Count, 1)
	}
	rej.Message = fmt.Sprintf("%d of the %d pods this revision needs do not fit on the cluster; the previous revision keeps running", unfit, len(required))
	adm.Rejected, adm.Unfit, adm.Reason = rej, unfit, metrics.RefusedFit
	return adm, nil
}

// admissionSet splits the cluster for a candidate revision: kept are the
// bound pods that stay as they are under it (they hold their nodes),
// required are the pods it needs placed: unbound pods that stay desired
// and new pods from its templates.
//
// owners maps each required pod to what makes it ("deployment web"), so a
// refusal can say "302 pods of deployment web" instead of listing them.
func admissionSet(idx *desiredIndex, pods []*PodRecord, jobRecs []*JobRecord) (required []*corev1.Pod, kept []scheduler.Bound, owners map[*corev1.Pod]string) {
	owners = map[*corev1.Pod]string{}
	need := func(p *corev1.Pod, owner string) {
		required = append(required, p)
		owners[p] = owner
	}
	jobByKey := map[string]*JobRecord{}
	for _, jr := range jobRecs {
		jobByKey[key(jr.Job.Namespace, jr.Job.Name)] = jr
	}
	havePod := map[string]bool{}  // Pods whose current spec already has a pod
	haveNew := map[string]int{}   // deployment key -> pods at the new hash
	activeJob := map[string]int{} // job key -> active pods of the same spec
	for _, p := range pods {
		k := key(p.Pod.Namespace, p.Owner.Name)
		if p.Owner.Kind == OwnerPod && !p.deleting() {
			// A Pod that ran to its end still has its pod: nothing to place.
			w, ok := idx.pods[k]
			havePod[k] = ok && w.hash == p.TemplateHash
		}
		if p.deleting() || p.finished() {
			continue
		}
		stays := false
		switch p.Owner.Kind {
		case OwnerPod:
			w, ok := idx.pods[k]
			stays = ok && w.hash == p.TemplateHash
		case OwnerDeployment:
			w, ok := idx.deployments[k]
			stays = ok && w.hash == p.TemplateHash
			if stays {
				haveNew[k]++
			}
		case OwnerDaemonSet:
			w, ok := idx.daemonsets[k]
			stays = ok && w.hash == p.TemplateHash
		case OwnerStatefulSet:
			stays = statefulPodStays(idx, p)
		case OwnerJob:
			jr := jobByKey[k]
			switch {
			case jr == nil:
			case jr.CronJob != "":
				_, stays = idx.cronjobs[key(jr.Job.Namespace, jr.CronJob)]
			default:
				w, ok := idx.jobs[k]
				stays = ok && w.hash == jr.Job.Annotations[AnnotationSpecHash]
				if stays {
					activeJob[k]++
				}
			}
		}
		if !stays {
			continue
		}
		if p.bound() {
			kept = append(kept, scheduler.Bound{Pod: &p.Pod, Node: p.Pod.Spec.NodeName})
		} else {
			need(&p.Pod, strings.ToLower(p.Owner.Kind)+" "+p.Owner.Name)
		}
	}
	for _, k := range sortedKeys(idx.pods) {
		if !havePod[k] {
			w := idx.pods[k]
			need(candidatePod(w.pod.Namespace, w.pod.Name, &w.pod.ObjectMeta, &w.pod.Spec), "pod "+w.pod.Name)
		}
	}
	for _, k := range sortedKeys(idx.deployments) {
		w := idx.deployments[k]
		replicas := 1
		if w.d.Spec.Replicas != nil {
			replicas = int(*w.d.Spec.Replicas)
		}
		for i := haveNew[k]; i < replicas; i++ {
			name := fmt.Sprintf("%s-%s-admit-%d", w.d.Name, w.hash, i)
			need(candidatePod(w.d.Namespace, name, &w.d.Spec.Template.ObjectMeta, &w.d.Spec.Template.Spec), "deployment "+w.d.Name)
		}
	}
	for _, k := range sortedKeys(idx.jobs) {
		w := idx.jobs[k]
		jr := jobByKey[k]
		if jr != nil && jr.CronJob == "" && jr.Job.Annotations[AnnotationSpecHash] == w.hash && jobFinished(jr) {
			continue
		}
		want := 1
		if w.job.Spec.Parallelism != nil {
			want = int(*w.job.Spec.Parallelism)
		}
		if c := w.job.Spec.Completions; c != nil {
			done := 0
			if jr != nil && jr.Job.Annotations[AnnotationSpecHash] == w.hash {
				done = int(jr.Job.Status.Succeeded)
			}
			want = min(want, int(*c)-done)
		}
		if w.job.Spec.Suspend != nil && *w.job.Spec.Suspend {
			want = 0
		}
		for i := activeJob[k]; i < want; i++ {
			name := fmt.Sprintf("%s-admit-%d", w.job.Name, i)
			need(candidatePod(w.job.Namespace, name, &w.job.Spec.Template.ObjectMeta, &w.job.Spec.Template.Spec), "job "+w.job.Name)
		}
	}
	return required, kept, owners
}

// groupUnplaced turns the pods that fit nowhere into one line per owner
// and reason: a Deployment scaled past the cluster is one line with a
// count, not hundreds. Pods refused only because the batch is
// all-or-nothing fit by themselves and are left out.
func groupUnplaced(unplaced []scheduler.Unplaced, owners map[*corev1.Pod]string) []api.UnplaceablePod {
	type groupKey struct{ ns, owner, msg, needs string }
	var order []groupKey
	groups := map[groupKey]*api.UnplaceablePod{}
	asked := map[groupKey]scheduler.Resources{}
	for _, u := range unplaced {
		if u.Cause == scheduler.CauseBatch {
			continue
		}
		k := groupKey{u.Pod.Namespace, owners[u.Pod], u.Message, u.Needs()}
		g, ok := groups[k]
		if !ok {
			g = &api.UnplaceablePod{Namespace: u.Pod.Namespace, Name: u.Pod.Name, Message: u.Message, Shortfall: u.Needs()}
			groups[k] = g
			order = append(order, k)
		}
		g.Count++
		req := scheduler.EffectiveRequest(u.Pod)
		sum := asked[k]
		sum.MilliCPU += req.MilliCPU
		sum.Memory += req.Memory
		asked[k] = sum
	}
	out := make([]api.UnplaceablePod, 0, len(order))
	for _, k := range order {
		g := groups[k]
		if g.Count > 1 {
			g.Name = fmt.Sprintf("%d pods of %s", g.Count, k.owner)
			// What one pod lacks on the best node says little about a
			// group: say what the group asks in all as well.
			if g.Shortfall != "" {
				g.Shortfall = fmt.Sprintf("%s for one; together they ask %s", g.Shortfall, asked[k])
			}
		} else if strings.HasPrefix(k.owner, "deployment ") || strings.HasPrefix(k.owner, "job ") {
			g.Name = "1 pod of " + k.owner
		}
		out = append(out, *g)
	}
	return out
}

func candidatePod(ns, name string, meta *metav1.ObjectMeta, spec *corev1.PodSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: meta.Labels, Annotations: meta.Annotations},
		Spec:       *spec,
	}
}

func jobFinished(jr *JobRecord) bool {
	for _, c := range jr.Job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// fingerprint summarises what admission depends on, so a refused revision
// is placed again only when the cluster changed.
func fingerprint(nodes []*NodeRecord, pods []*PodRecord) string {
	h := fnv.New64a()
	for _, n := range nodes {
		fmt.Fprintf(h, "%s/%d/%t;", n.Name, n.Generation, n.Ready)
	}
	for _, p := range pods {
		if p.holdsCapacity() {
			fmt.Fprintf(h, "%s/%s;", p.Pod.UID, p.Pod.Spec.NodeName)
		}
	}
	return fmt.Sprintf("%x", h.Sum64())
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// writeSync stores what `berth status` shows, when it changed.
func (r *Reconciler) writeSync(now time.Time) error {
	st := r.cfg.Source.Info()
	cand := r.cfg.Source.Current()
	if r.applied != nil {
		st.Applied = &api.Revision{SHA: r.applied.Revision, Subject: r.applied.Subject, Author: r.applied.Author, Time: r.applied.CommitTime, Applied: r.applied.appliedAt}
	}
	if st.Rejected == nil && r.refusedWhy != nil && cand != nil && cand.Revision == r.refused {
		st.Rejected = r.refusedWhy
	}
	switch {
	case st.Rejected != nil:
		st.State = "Rejected"
	case r.applied != nil && cand != nil && cand.Revision == r.applied.Revision:
		st.State = "Synced"
	case cand == nil:
		st.State = "Unknown"
	default:
		st.State = "Progressing"
	}
	rec := &SyncRecord{Status: st}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// A newly applied revision's configs are published with the write
	// that records it, stamped with the version it commits as (see
	// ConfigFeed).
	publish, first := false, false
	if r.cfg.Configs != nil && r.applied != nil {
		publish, first = r.cfg.Configs.pending(r.applied)
	}
	if string(b) == string(r.lastSyncRec) {
		if publish {
			err = r.cfg.Store.View(func(tx ReadTx) error {
				r.cfg.Configs.publish(r.applied, tx.Version()+1)
				return nil
			})
		}
		if first {
			r.settleFirstConfigs()
		}
		return err
	}
	err = r.cfg.Store.Update(func(tx Tx) error {
		if err := tx.PutSync(rec); err != nil {
			return err
		}
		if publish {
			r.cfg.Configs.publish(r.applied, tx.Version()+1)
		}
		return nil
	})
	if first {
		r.settleFirstConfigs()
	}
	if err == nil {
		r.lastSyncRec = b
	}
	return err
}

// allocateServices gives the revision's Services their cluster IPs and
// node ports, keeping the ones held in prev, and sets idx.services.
func allocateServices(alloc *serviceaddr.Allocator, idx *desiredIndex, prev serviceaddr.Table) (serviceaddr.Table, manifest.ErrorList) {
	table, errs := alloc.Assign(prev, idx.Objects)
	if len(errs) > 0 {
		return nil, errs
	}
	idx.services = nil
	for i := range idx.Objects {
		if o := &idx.Objects[i]; o.Service != nil {
			idx.services = append(idx.services, serviceaddr.Apply(o.Service, table[o.Namespace+"/"+o.Name]))
		}
	}
	sort.Slice(idx.services, func(i, j int) bool {
		a, b := idx.services[i], idx.services[j]
		return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.Name < b.Name)
	})
	return table, nil
}

// resumeServices restores a revision admitted before a restart with the
// stored addresses (which it was admitted with, so nothing clashes).
func (r *Reconciler) resumeServices(idx *desiredIndex, stored serviceaddr.Table) {
	if _, errs := allocateServices(r.alloc, idx, stored); len(errs) > 0 {
		r.log.Warn("cannot restore Service addresses after the restart", "revision", short(idx.Revision), "errors", errs.Error())
	}
}

// settleFirstConfigs makes the first configs since the start visible at
// the current version when no write carried their stamp (a resumed
// revision whose sync record did not change): until now a node whose pods
// use configs got no list, so no list at that version changes meaning.
func (r *Reconciler) settleFirstConfigs() {
	_ = r.cfg.Store.View(func(tx ReadTx) error {
		r.cfg.Configs.settleFirst(tx.Version())
		return nil
	})
}
