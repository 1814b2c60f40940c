package reconciler

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/scheduler"
	"github.com/berth-dev/berth/statefulsets"
)

// Owner kinds of StatefulSet pods and claims, and of claims written in Git.
const (
	OwnerStatefulSet = "StatefulSet"
	OwnerClaim       = "PersistentVolumeClaim"
)

// Claim phases beyond Kubernetes' Pending and Bound: Released is a
// claim gone from Git under reclaimPolicy Retain, its data kept on its
// node (Kubernetes shows that on the PersistentVolume).
const ClaimReleased corev1.PersistentVolumeClaimPhase = "Released"

// Labels Kubernetes puts on a StatefulSet's pods.
const (
	labelStatefulPodName  = "statefulset.kubernetes.io/pod-name"
	labelStatefulPodIndex = "apps.kubernetes.io/pod-index"
)

type statefulWant struct {
	set  *appsv1.StatefulSet
	hash string
}

// statefulPod is the pod of ordinal o made from tpl: Kubernetes'
// newVersionedStatefulSetPod. Its hostname is its name and its subdomain
// the set's serviceName (web-0.web.ns.svc), and every volumeClaimTemplate
// becomes a volume naming the ordinal's claim, replacing a template
// volume of the same name.
func statefulPod(set *appsv1.StatefulSet, tpl *corev1.PodTemplateSpec, o int) (*metav1.ObjectMeta, *corev1.PodSpec) {
	name := statefulsets.PodName(set.Name, o)
	meta := tpl.ObjectMeta.DeepCopy()
	meta.Labels = maps.Clone(meta.Labels)
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[labelStatefulPodName] = name
	meta.Labels[labelStatefulPodIndex] = strconv.Itoa(o)
	spec := tpl.Spec.DeepCopy()
	spec.Hostname = name
	if spec.Subdomain == "" {
		spec.Subdomain = set.Spec.ServiceName
	}
	for _, ct := range set.Spec.VolumeClaimTemplates {
		v := corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: statefulsets.ClaimName(ct.Name, set.Name, o)}}}
		replaced := false
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == ct.Name {
				spec.Volumes[i], replaced = v, true
			}
		}
		if !replaced {
			spec.Volumes = append(spec.Volumes, v)
		}
	}
	return meta, spec
}

func (p *PodRecord) observeForStatefulSet() statefulsets.ObservedPod {
	return statefulsets.ObservedPod{Name: p.Pod.Name, UID: p.Pod.UID, Revision: p.TemplateHash, Phase: p.Pod.Status.Phase,
		Ready: p.ready(), ReadySince: p.readySince(), Deleting: p.deleting()}
}

// storageClass is the class a claim names: one in Git, or the built-in
// local one.
func (idx *desiredIndex) storageClass(name string) *storagev1.StorageClass {
	if sc := idx.classes[name]; sc != nil {
		return sc
	}
	if name == manifest.DefaultStorageClass || name == "" {
		return manifest.BuiltinStorageClass()
	}
	return nil
}

// reclaimPolicy is what happens to a claim's data once the claim is
// gone: its class's reclaimPolicy (Delete when unknown, as the default
// class's).
func (idx *desiredIndex) reclaimPolicy(c *corev1.PersistentVolumeClaim) corev1.PersistentVolumeReclaimPolicy {
	name := ""
	if c.Spec.StorageClassName != nil {
		name = *c.Spec.StorageClassName
	}
	if sc := idx.storageClass(name); sc != nil && sc.ReclaimPolicy != nil {
		return *sc.ReclaimPolicy
	}
	return corev1.PersistentVolumeReclaimDelete
}

func newClaimRecord(c *corev1.PersistentVolumeClaim, owner Owner, policy corev1.PersistentVolumeReclaimPolicy, now time.Time) *ClaimRecord {
	claim := c.DeepCopy()
	claim.UID = newUID()
	claim.CreationTimestamp = metav1.NewTime(now)
	claim.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
	return &ClaimRecord{Claim: *claim, Owner: owner, ReclaimPolicy: policy, Created: now}
}

// claimRequest is resources.requests.storage in bytes.
func claimRequest(c *corev1.PersistentVolumeClaim) int64 {
	q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return 0
	}
	return q.Value()
}

func (c *ClaimRecord) deleting() bool { return c.Claim.DeletionTimestamp != nil }
func (c *ClaimRecord) key() string    { return key(c.Claim.Namespace, c.Claim.Name) }

// bind records the node that holds the claim's data, once its first pod
// is placed there (WaitForFirstConsumer).
func (c *ClaimRecord) bind(node string) {
	c.Node = node
	c.Claim.Status.Phase = corev1.ClaimBound
	c.Claim.Status.AccessModes = c.Claim.Spec.AccessModes
	if q, ok := c.Claim.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		c.Claim.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: q}
	}
}

// schedulerClaims are the claims pods may use, for the scheduler: a claim
// whose data is being deleted is none, so a pod naming it waits.
func schedulerClaims(recs []*ClaimRecord) []scheduler.Claim {
	out := make([]scheduler.Claim, 0, len(recs))
	for _, c := range recs {
		if c.deleting() {
			continue
		}
		out = append(out, scheduler.Claim{Namespace: c.Claim.Namespace, Name: c.Claim.Name, Request: claimRequest(&c.Claim), Node: c.Node})
	}
	return out
}

// claimsInUse are the claims some pod record names ("namespace/name"): a
// pod being stopped still has its claim mounted.
func claimsInUse(c *changes) map[string]bool {
	used := map[string]bool{}
	for _, p := range c.byKey {
		for _, v := range p.Pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				used[key(p.Pod.Namespace, v.PersistentVolumeClaim.ClaimName)] = true
			}
		}
	}
	return used
}

// syncStateful runs the StatefulSets of Git, then the claims: those in
// Git and those the sets made, releasing the ones nobody wants any more.
func (r *Reconciler) syncStateful(c *changes, idx *desiredIndex) (time.Time, error) {
	claims := map[string]*ClaimRecord{}
	for _, cr := range c.claims {
		claims[cr.key()] = cr
	}
	release := map[string]bool{}
	wake, err := r.syncStatefulSets(c, idx, claims, release)
	if err != nil {
		return wake, err
	}
	if err := r.syncClaims(c, idx, claims, release); err != nil {
		return wake, err
	}
	c.claims = c.claims[:0]
	for _, k := range sortedKeys(claims) {
		c.claims = append(c.claims, claims[k])
	}
	return wake, nil
}

func (r *Reconciler) syncStatefulSets(c *changes, idx *desiredIndex, claims map[string]*ClaimRecord, release map[string]bool) (time.Time, error) {
	var wake time.Time
	for _, k := range sortedKeys(idx.statefulsets) {
		w := idx.statefulsets[k]
		set := w.set
		prev, err := c.tx.StatefulSet(set.Namespace, set.Name)
		if errors.Is(err, ErrNotFound) {
			prev, err = &StatefulSetRecord{}, nil
		}
		if err != nil {
			return wake, err
		}
		owned := c.owned(OwnerStatefulSet, set.Namespace, set.Name)
		observed := make([]statefulsets.ObservedPod, 0, len(owned))
		for _, p := range owned {
			observed = append(observed, p.observeForStatefulSet())
		}
		var names []string
		for _, cr := range claims {
			if cr.Owner.Kind == OwnerStatefulSet && cr.Owner.Name == set.Name && cr.Claim.Namespace == set.Namespace && !cr.deleting() {
				names = append(names, cr.Claim.Name)
			}
		}
		res, err := statefulsets.SyncStatefulSet(statefulsets.Input{
			Set: set, Revision: w.hash, Pods: observed, Claims: names, Now: c.now,
			State: statefulsets.State{Status: prev.Status, Created: prev.Created},
		})
		if err != nil {
			if err := c.event("Warning", "FailedSync", OwnerStatefulSet, set.Namespace, set.Name, err.Error()); err != nil {
				return wake, err
			}
			continue
		}
		deleteWithSet := set.Spec.PersistentVolumeClaimRetentionPolicy != nil &&
			set.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
		owner := Owner{Kind: OwnerStatefulSet, Name: set.Name}
		for _, nc := range res.CreateClaims {
			if old := claims[key(set.Namespace, nc.Name)]; old != nil {
				continue // being deleted: the pod waits for it to go
			}
			var tpl *corev1.PersistentVolumeClaim
			for i := range set.Spec.VolumeClaimTemplates {
				if set.Spec.VolumeClaimTemplates[i].Name == nc.Template {
					tpl = &set.Spec.VolumeClaimTemplates[i]
				}
			}
			if tpl == nil {
				continue
			}
			claim := manifest.ClaimFromTemplate(tpl, set.Namespace, nc.Name)
			claim.Labels = maps.Clone(claim.Labels)
			if claim.Labels == nil {
				claim.Labels = map[string]string{}
			}
			maps.Copy(claim.Labels, set.Spec.Selector.MatchLabels) // as Kubernetes' getPersistentVolumeClaims
			rec := newClaimRecord(claim, owner, idx.reclaimPolicy(claim), c.now)
			rec.DeleteWithOwner = deleteWithSet
			if err := c.tx.PutClaim(rec); err != nil {
				return wake, err
			}
			claims[rec.key()] = rec
			if err := c.event("Normal", "SuccessfulCreate", OwnerStatefulSet, set.Namespace, set.Name,
				fmt.Sprintf("create Claim %s Pod %s in StatefulSet %s success", nc.Name, nc.Pod, set.Name)); err != nil {
				return wake, err
			}
		}
		templates := map[string]corev1.PodTemplateSpec{w.hash: set.Spec.Template}
		cur := res.State.Status.CurrentRevision
		if t, ok := prev.Templates[cur]; ok && cur != w.hash {
			templates[cur] = t
		}
		for _, np := range res.Create {
			if claimBeingDeleted(set, np.Ordinal, claims) {
				continue // as Kubernetes cannot make the pod while its claim terminates
			}
			tpl, ok := templates[np.Revision]
			rev := np.Revision
			if !ok { // the old template is not known (a record from before): use Git's
				tpl, rev = set.Spec.Template, w.hash
			}
			meta, spec := statefulPod(set, &tpl, np.Ordinal)
			if err := c.create(newPodRecord(set.Namespace, np.Name, owner, meta, spec, rev, c.rev, c.now)); err != nil {
				return wake, err
			}
		}
		for _, ref := range res.Delete {
			p := c.byKey[key(set.Namespace, ref.Name)]
			if p == nil || p.Pod.UID != ref.UID {
				continue
			}
			why := map[statefulsets.DeleteReason]string{
				statefulsets.DeleteFinished:   "Pod ended; the statefulset replaces it",
				statefulsets.DeleteScaledDown: "Scaled down by statefulset " + set.Name,
				statefulsets.DeleteUpdate:     "Replaced by the rolling update of statefulset " + set.Name,
			}[ref.Reason]
			if err := c.remove(p, why); err != nil {
				return wake, err
			}
		}
		for _, name := range res.DeleteClaims {
			release[key(set.Namespace, name)] = true
		}
		// Keep the claims' whenDeleted in step with the set's.
		for _, cr := range claims {
			if cr.Owner == owner && cr.Claim.Namespace == set.Namespace && cr.DeleteWithOwner != deleteWithSet {
				cr.DeleteWithOwner = deleteWithSet
				if err := c.tx.PutClaim(cr); err != nil {
					return wake, err
				}
			}
		}
		next := &StatefulSetRecord{Namespace: set.Namespace, Name: set.Name, Status: res.State.Status, Created: res.State.Created, Templates: templates}
		if !jsonEqual(prev, next) {
			if err := c.tx.PutStatefulSet(next); err != nil {
				return wake, err
			}
		}
		wake = earliest(wake, res.RequeueAt)
	}
	recs, err := c.tx.StatefulSets()
	if err != nil {
		return wake, err
	}
	for _, rec := range recs {
		if _, ok := idx.statefulsets[key(rec.Namespace, rec.Name)]; !ok {
			if err := c.tx.DeleteStatefulSet(rec.Namespace, rec.Name); err != nil {
				return wake, err
			}
		}
	}
	return wake, nil
}

// syncClaims keeps a claim record per claim in Git, and releases every
// claim nobody wants any more (gone from Git; its StatefulSet gone under
// whenDeleted: Delete; scaled away under whenScaled: Delete) once no pod
// uses it: under reclaimPolicy Delete its node is told to remove the data
// (the record goes when the node reports it gone; an unbound one goes at
// once), under Retain it stays on its node and the claim is Released. A
// Released claim wanted again is bound again, to its data.
func (r *Reconciler) syncClaims(c *changes, idx *desiredIndex, claims map[string]*ClaimRecord, release map[string]bool) error {
	for _, k := range sortedKeys(idx.claims) {
		want := idx.claims[k]
		old := claims[k]
		if old != nil && old.Owner.Kind != OwnerClaim {
			if err := c.event("Warning", "NameTaken", OwnerClaim, want.Namespace, want.Name,
				fmt.Sprintf("a claim of %s %s already has this name", old.Owner.Kind, old.Owner.Name)); err != nil {
				return err
			}
			continue
		}
		if old != nil {
			continue
		}
		rec := newClaimRecord(want, Owner{Kind: OwnerClaim, Name: want.Name}, idx.reclaimPolicy(want), c.now)
		if err := c.tx.PutClaim(rec); err != nil {
			return err
		}
		claims[k] = rec
	}
	used := claimsInUse(c)
	for _, k := range sortedKeys(claims) {
		cr := claims[k]
		if cr.deleting() {
			continue // its node removes the data, then reports it gone
		}
		wanted := false
		switch cr.Owner.Kind {
		case OwnerClaim:
			_, wanted = idx.claims[k]
		case OwnerStatefulSet:
			if _, ok := idx.statefulsets[key(cr.Claim.Namespace, cr.Owner.Name)]; ok {
				wanted = !release[k]
			} else {
				wanted = !cr.DeleteWithOwner
			}
		}
		switch {
		case wanted && cr.Claim.Status.Phase == ClaimReleased:
			cr.Claim.Status.Phase = corev1.ClaimPending
			if cr.Node != "" {
				cr.bind(cr.Node)
			}
			if err := c.tx.PutClaim(cr); err != nil {
				return err
			}
		case wanted, used[k]:
		case cr.ReclaimPolicy == corev1.PersistentVolumeReclaimRetain:
			if cr.Claim.Status.Phase != ClaimReleased {
				cr.Claim.Status.Phase = ClaimReleased
				if err := c.tx.PutClaim(cr); err != nil {
					return err
				}
				if err := c.event("Normal", "Released", OwnerClaim, cr.Claim.Namespace, cr.Claim.Name,
					fmt.Sprintf("claim released; reclaimPolicy Retain keeps its data on node %s", cr.Node)); err != nil {
					return err
				}
			}
		case cr.Node == "":
			if err := c.tx.DeleteClaim(cr.Claim.Namespace, cr.Claim.Name); err != nil {
				return err
			}
			delete(claims, k)
		default:
			t := metav1.NewTime(c.now)
			cr.Claim.DeletionTimestamp = &t
			if err := c.tx.PutClaim(cr); err != nil {
				return err
			}
			if err := c.event("Normal", "Deleting", OwnerClaim, cr.Claim.Namespace, cr.Claim.Name,
				fmt.Sprintf("reclaimPolicy Delete: node %s removes the claim's data", cr.Node)); err != nil {
				return err
			}
		}
	}
	return nil
}

type statefulCandidate struct {
	pod   *corev1.Pod
	owner string
}

// statefulCandidates are the pods a revision's StatefulSets need that do
// not exist yet at their template: one per ordinal below replicas without
// a pod that stays, so atomic admission counts every pod of the set.
func statefulCandidates(idx *desiredIndex, pods []*PodRecord) []statefulCandidate {
	have := map[string]bool{} // namespace/pod name, at the set's current hash
	for _, p := range pods {
		if p.Owner.Kind != OwnerStatefulSet || p.deleting() || p.finished() {
			continue
		}
		if w, ok := idx.statefulsets[key(p.Pod.Namespace, p.Owner.Name)]; ok && w.hash == p.TemplateHash {
			have[p.key()] = true
		}
	}
	var out []statefulCandidate
	for _, k := range sortedKeys(idx.statefulsets) {
		w := idx.statefulsets[k]
		n := setReplicas(w.set)
		for o := range n {
			name := statefulsets.PodName(w.set.Name, o)
			if have[key(w.set.Namespace, name)] {
				continue
			}
			meta, spec := statefulPod(w.set, &w.set.Spec.Template, o)
			out = append(out, statefulCandidate{candidatePod(w.set.Namespace, name, meta, spec), w.set.Name})
		}
	}
	return out
}

// admissionClaims are the claims a revision's pods may name: the recorded
// ones (bound ones pin their pods), and, unbound, those its Git claims
// and its StatefulSets' templates would make.
func admissionClaims(idx *desiredIndex, recs []*ClaimRecord) []scheduler.Claim {
	out := schedulerClaims(recs)
	seen := map[string]bool{}
	for _, c := range out {
		seen[key(c.Namespace, c.Name)] = true
	}
	add := func(c *corev1.PersistentVolumeClaim) {
		if k := key(c.Namespace, c.Name); !seen[k] {
			seen[k] = true
			out = append(out, scheduler.Claim{Namespace: c.Namespace, Name: c.Name, Request: claimRequest(c)})
		}
	}
	for _, k := range sortedKeys(idx.claims) {
		add(idx.claims[k])
	}
	for _, k := range sortedKeys(idx.statefulsets) {
		set := idx.statefulsets[k].set
		n := setReplicas(set)
		for o := range n {
			for i := range set.Spec.VolumeClaimTemplates {
				t := &set.Spec.VolumeClaimTemplates[i]
				add(manifest.ClaimFromTemplate(t, set.Namespace, statefulsets.ClaimName(t.Name, set.Name, o)))
			}
		}
	}
	return out
}

// StatefulSets returns the StatefulSets of Git (filtered by ns and name
// when not empty) with the status the loop recorded.
func (r *Reads) StatefulSets(ns, name string) ([]appsv1.StatefulSet, error) {
	objs := r.gitObjects(manifest.KindStatefulSet, ns, name)
	items := []appsv1.StatefulSet{}
	err := r.store.View(func(tx ReadTx) error {
		for _, o := range objs {
			s := o.StatefulSet.DeepCopy()
			s.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}
			s.Generation = max(s.Generation, 1)
			rec, err := tx.StatefulSet(o.Namespace, o.Name)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				s.Status = rec.Status
				if !rec.Created.IsZero() {
					s.CreationTimestamp = metav1.NewTime(rec.Created)
				}
			}
			items = append(items, *s)
		}
		return nil
	})
	return items, err
}

// Claims returns the claim records (filtered by ns and name when not
// empty), Released ones and those being deleted too, as
// PersistentVolumeClaims: spec.volumeName names the node's directory
// ("local-<node>") once bound, and an annotation names the node.
func (r *Reads) Claims(ns, name string) ([]corev1.PersistentVolumeClaim, error) {
	items := []corev1.PersistentVolumeClaim{}
	err := r.store.View(func(tx ReadTx) error {
		recs, err := tx.Claims()
		if err != nil {
			return err
		}
		for _, cr := range recs {
			if (ns != "" && cr.Claim.Namespace != ns) || (name != "" && cr.Claim.Name != name) {
				continue
			}
			items = append(items, claimObject(cr))
		}
		return nil
	})
	return items, err
}

func claimObject(cr *ClaimRecord) corev1.PersistentVolumeClaim {
	c := *cr.Claim.DeepCopy()
	c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
	c.Annotations = maps.Clone(c.Annotations)
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[api.AnnotationReclaimPolicy] = string(cr.ReclaimPolicy)
	if cr.Node != "" {
		c.Annotations[api.AnnotationClaimNode] = cr.Node
		c.Spec.VolumeName = "local-" + cr.Node + "-" + string(c.UID)[:8]
	}
	if cr.Owner.Kind == OwnerStatefulSet {
		t := true
		c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: OwnerStatefulSet, Name: cr.Owner.Name, Controller: &t}}
	}
	return c
}

// bindClaims records, with the plan that places their first pods, the
// node each newly bound claim's data lives on ("namespace/name" → node).
// A claim bound meanwhile keeps its node: the scheduler would not have
// placed a pod elsewhere on a view that knew it.
func bindClaims(tx Tx, claimNodes map[string]string, now time.Time) error {
	for _, k := range sortedKeys(claimNodes) {
		node := claimNodes[k]
		ns, name, _ := strings.Cut(k, "/")
		cr, err := tx.Claim(ns, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if cr.Node != "" || cr.deleting() {
			continue
		}
		cr.bind(node)
		if err := tx.PutClaim(cr); err != nil {
			return err
		}
		msg := fmt.Sprintf("claim bound to node %s: its data is a directory under that node's --storage-dir", node)
		if err := tx.AddEvent(event(now, "Normal", "ProvisioningSucceeded", OwnerClaim, ns, name, msg)); err != nil {
			return err
		}
	}
	return nil
}

// statefulPodStays reports whether a StatefulSet's pod stays as it is
// under a revision: its set is there at the pod's template and its
// ordinal is below replicas. The rest are replaced or scaled away; their
// candidates (statefulCandidates) take their place in admission.
func statefulPodStays(idx *desiredIndex, p *PodRecord) bool {
	w, ok := idx.statefulsets[key(p.Pod.Namespace, p.Owner.Name)]
	if !ok || w.hash != p.TemplateHash {
		return false
	}
	n := setReplicas(w.set)
	o := statefulsets.Ordinal(w.set.Name, p.Pod.Name)
	return o >= 0 && o < n
}

// claimsToDelete are, by node, the claims whose data the node is to
// remove, sorted: they ride on the node's pod list as its configs do.
func claimsToDelete(tx ReadTx) (map[string][]api.ClaimRef, error) {
	recs, err := tx.Claims()
	if err != nil {
		return nil, err
	}
	out := map[string][]api.ClaimRef{}
	for _, cr := range recs { // sorted by key already
		if cr.deleting() && cr.Node != "" {
			out[cr.Node] = append(out[cr.Node], api.ClaimRef{Namespace: cr.Claim.Namespace, Name: cr.Claim.Name, UID: string(cr.Claim.UID)})
		}
	}
	return out, nil
}

// claimsDeleted forgets the claims node reports it removed the data of:
// only claims being deleted, bound to that node, with the UID reported.
func claimsDeleted(tx Tx, node string, refs []api.ClaimRef, now time.Time) error {
	for _, ref := range refs {
		cr, err := tx.Claim(ref.Namespace, ref.Name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !cr.deleting() || cr.Node != node || string(cr.Claim.UID) != ref.UID {
			continue
		}
		if err := tx.DeleteClaim(ref.Namespace, ref.Name); err != nil {
			return err
		}
		msg := fmt.Sprintf("node %s removed the claim's data", node)
		if err := tx.AddEvent(event(now, "Normal", "Deleted", OwnerClaim, ref.Namespace, ref.Name, msg)); err != nil {
			return err
		}
	}
	return nil
}

// claimBeingDeleted reports whether a claim of ordinal o's pod still has
// its data being removed: the pod waits, and gets a fresh claim after.
func claimBeingDeleted(set *appsv1.StatefulSet, o int, claims map[string]*ClaimRecord) bool {
	for _, t := range set.Spec.VolumeClaimTemplates {
		if c := claims[key(set.Namespace, statefulsets.ClaimName(t.Name, set.Name, o))]; c != nil && c.deleting() {
			return true
		}
	}
	return false
}

// setReplicas is spec.replicas (default 1).
func setReplicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

// withoutPodsOfDownClaims drops from a revision's required pods those
// whose claim is bound to a node that is NotReady or gone: such a pod
// waits for its node (it may not start elsewhere), and a lost node must
// not keep every later revision out, as withoutDaemonPodsOfDownNodes
// says for daemon pods.
func withoutPodsOfDownClaims(required []*corev1.Pod, claims []*ClaimRecord, nodes []*NodeRecord) []*corev1.Pod {
	ready := map[string]bool{}
	for _, n := range nodes {
		ready[n.Name] = n.Ready
	}
	down := map[string]bool{}
	for _, c := range claims {
		if c.Node != "" && !ready[c.Node] {
			down[c.key()] = true
		}
	}
	if len(down) == 0 {
		return required
	}
	out := required[:0]
	for _, p := range required {
		waits := false
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && down[key(p.Namespace, v.PersistentVolumeClaim.ClaimName)] {
				waits = true
			}
		}
		if !waits {
			out = append(out, p)
		}
	}
	return out
}
