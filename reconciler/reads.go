package reconciler

import (
	"errors"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/scheduler"
)

// Reads are the users' view of the cluster: store records merged with the
// applied Git objects, shown as the Kubernetes objects kubectl expects. The
// merging (a Deployment's observedGeneration, the AGE of objects Git gives
// no creation time, Jobs the loop has not recorded yet) is decided here,
// not in the HTTP layer.
type Reads struct {
	store   Store
	objects func() []manifest.Object
	// strategy and serviceCIDR are the loop's, for snapshots (unset:
	// the defaults).
	strategy    scheduler.Strategy
	serviceCIDR netip.Prefix
}

// WithAdmission sets the loop's placement strategy and the range it
// allocates cluster IPs from, which snapshots carry so a plan places and
// allocates as the server does.
func (r *Reads) WithAdmission(strategy scheduler.Strategy, serviceCIDR netip.Prefix) *Reads {
	r.strategy, r.serviceCIDR = strategy, serviceCIDR
	return r
}

// NewReads returns the users' view over store; objects returns the
// applied Git objects (nil: none).
func NewReads(store Store, objects func() []manifest.Object) *Reads {
	if objects == nil {
		objects = func() []manifest.Object { return nil }
	}
	return &Reads{store: store, objects: objects}
}

// SyncStatus is the Git sync state with the pods that cannot be placed.
func (r *Reads) SyncStatus() (*api.SyncStatus, error) {
	var st api.SyncStatus
	err := r.store.View(func(tx ReadTx) error {
		rec, err := tx.Sync()
		if err != nil {
			return err
		}
		st = rec.Status
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Pod.Spec.NodeName == "" && p.Pod.DeletionTimestamp == nil && p.Unschedulable != "" {
				st.Unschedulable = append(st.Unschedulable, api.UnplaceablePod{Namespace: p.Pod.Namespace, Name: p.Pod.Name, Message: p.Unschedulable})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if st.State == "" {
		st.State = "Unknown"
	}
	sort.Slice(st.Unschedulable, func(i, j int) bool {
		a, b := st.Unschedulable[i], st.Unschedulable[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return &st, nil
}

// podForUser shows a pod record as a Pod, with the scheduler's message as
// the PodScheduled condition while it is unbound.
func podForUser(rec *PodRecord) corev1.Pod {
	p := rec.Pod
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	if p.CreationTimestamp.IsZero() {
		p.CreationTimestamp = metav1.NewTime(rec.Created)
	}
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.PodPending
	}
	if p.Spec.NodeName == "" && rec.Unschedulable != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: rec.Unschedulable,
		})
	}
	return p
}

// Pods returns the pods of namespace ns ("" all), or the one named name
// (none when it does not exist).
func (r *Reads) Pods(ns, name string) ([]corev1.Pod, error) {
	items := []corev1.Pod{}
	err := r.store.View(func(tx ReadTx) error {
		if name != "" {
			rec, err := tx.Pod(ns, name)
			if err == nil {
				items = append(items, podForUser(rec))
			}
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		recs, err := tx.Pods()
		for _, rec := range recs {
			if ns == "" || rec.Pod.Namespace == ns {
				items = append(items, podForUser(rec))
			}
		}
		return err
	})
	return items, err
}

func (r *Reads) gitObjects(kind manifest.Kind, ns, name string) []manifest.Object {
	var out []manifest.Object
	for _, o := range r.objects() {
		if o.Kind == kind && (ns == "" || o.Namespace == ns) && (name == "" || o.Name == name) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

// Deployments returns the Deployments of Git (filtered by ns and name when
// not empty) with the status the loop recorded.
func (r *Reads) Deployments(ns, name string) ([]appsv1.Deployment, error) {
	objs := r.gitObjects(manifest.KindDeployment, ns, name)
	items := []appsv1.Deployment{}
	err := r.store.View(func(tx ReadTx) error {
		for _, o := range objs {
			rec, err := tx.Deployment(o.Namespace, o.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			items = append(items, deploymentForUser(o.Deployment, rec))
		}
		return nil
	})
	return items, err
}

// deploymentForUser merges a Deployment of Git with its record (nil when
// the loop has none yet).
func deploymentForUser(git *appsv1.Deployment, rec *DeploymentRecord) appsv1.Deployment {
	d := git.DeepCopy()
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	if d.Generation == 0 {
		d.Generation = 1
	}
	if rec != nil {
		if !rec.Created.IsZero() {
			d.CreationTimestamp = metav1.NewTime(rec.Created)
		}
		d.Status = rec.Status
		// Observed once the rollout works on this template, so
		// `rollout status` does not report the previous one done.
		d.Status.ObservedGeneration = 0
		if rec.TemplateHash == DeploymentTemplateHash(d) {
			d.Status.ObservedGeneration = d.Generation
		}
		// Which rollout this is, and the Git revision the loop last
		// reconciled it at: `rollout status` waits for that to be the
		// revision it follows.
		if d.Annotations == nil && (rec.RolloutRevision > 0 || rec.Revision != "") {
			d.Annotations = map[string]string{} // d is a copy: Git's stays as it is
		}
		if rec.RolloutRevision > 0 {
			d.Annotations[api.AnnotationRolloutRevision] = strconv.FormatInt(rec.RolloutRevision, 10)
		}
		if rec.Revision != "" {
			d.Annotations[api.AnnotationRevision] = rec.Revision
		}
	}
	return *d
}

// DeploymentTemplateHash is the pod-template-hash the loop gives the pods
// of d's current template.
func DeploymentTemplateHash(d *appsv1.Deployment) string {
	return templateHash(&d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec)
}

// PodTemplateHash is the hash the loop gives the pod it makes for a Pod
// written in Git: a pod whose record carries it is up to date.
func PodTemplateHash(p *corev1.Pod) string { return templateHash(&p.ObjectMeta, &p.Spec) }

// Jobs returns Job records (Git's and those CronJobs made), and Jobs of
// Git the loop has not recorded yet.
func (r *Reads) Jobs(ns, name string) ([]batchv1.Job, error) {
	items := []batchv1.Job{}
	err := r.store.View(func(tx ReadTx) error {
		recs, err := tx.Jobs()
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, rec := range recs {
			j := rec.Job
			if (ns != "" && j.Namespace != ns) || (name != "" && j.Name != name) {
				continue
			}
			have[j.Namespace+"/"+j.Name] = true
			j.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
			items = append(items, j)
		}
		for _, o := range r.gitObjects(manifest.KindJob, ns, name) {
			if !have[o.Namespace+"/"+o.Name] {
				j := o.Job.DeepCopy()
				j.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
				items = append(items, *j)
			}
		}
		return nil
	})
	sort.Slice(items, func(i, j int) bool {
		return items[i].Namespace+"/"+items[i].Name < items[j].Namespace+"/"+items[j].Name
	})
	return items, err
}

// CronJobs returns the CronJobs of Git with the status the loop recorded.
func (r *Reads) CronJobs(ns, name string) ([]batchv1.CronJob, error) {
	objs := r.gitObjects(manifest.KindCronJob, ns, name)
	items := []batchv1.CronJob{}
	err := r.store.View(func(tx ReadTx) error {
		for _, o := range objs {
			c := o.CronJob.DeepCopy()
			c.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}
			rec, err := tx.CronJob(o.Namespace, o.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if rec != nil {
				c.Status = rec.Status
				// Objects in Git have no creation time: AGE counts from
				// when berth first saw the CronJob.
				if !rec.State.Since.IsZero() {
					c.CreationTimestamp = metav1.NewTime(rec.State.Since)
				}
			}
			items = append(items, *c)
		}
		return nil
	})
	return items, err
}

// ConfigMaps returns the ConfigMaps of the applied revision. Objects in
// Git carry no creation time, so AGE is unknown.
func (r *Reads) ConfigMaps(ns, name string) ([]corev1.ConfigMap, error) {
	items := []corev1.ConfigMap{}
	for _, o := range r.gitObjects(manifest.KindConfigMap, ns, name) {
		cm := o.ConfigMap.DeepCopy()
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		items = append(items, *cm)
	}
	return items, nil
}

// Secrets returns the Secrets of the applied revision as keys and sizes:
// no value leaves through a user's read.
func (r *Reads) Secrets(ns, name string) ([]api.SecretSummary, error) {
	items := []api.SecretSummary{}
	for _, o := range r.gitObjects(manifest.KindSecret, ns, name) {
		s := o.Secret
		sum := api.SecretSummary{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: *s.ObjectMeta.DeepCopy(),
			Type:       s.Type, Immutable: s.Immutable, Encrypted: s.Encrypted,
			Sizes: map[string]int{},
		}
		for k, v := range s.Data {
			sum.Sizes[k] = len(v)
		}
		// kubectl apply's copy of the object would hold the values.
		delete(sum.Annotations, corev1.LastAppliedConfigAnnotation)
		items = append(items, sum)
	}
	return items, nil
}

// Events returns the kept events, oldest first, of the objects that match
// kind (any case), ns and name; empty matches all.
func (r *Reads) Events(kind, ns, name string) ([]api.Event, error) {
	var all []api.Event
	if err := r.store.View(func(tx ReadTx) (err error) { all, err = tx.Events(MaxEvents); return err }); err != nil {
		return nil, err
	}
	out := []api.Event{}
	for _, e := range all {
		if (kind == "" || strings.EqualFold(e.Kind, kind)) && (ns == "" || e.Namespace == ns) && (name == "" || e.Name == name) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PodLogTarget returns the pod and the address its node's agent serves
// logs at ("" when the pod is unbound, its node gone, or the agent gave no
// address). A missing pod is a 404 *api.Error.
func (r *Reads) PodLogTarget(ns, name string) (*corev1.Pod, string, error) {
	var pod *corev1.Pod
	var addr string
	err := r.store.View(func(tx ReadTx) error {
		rec, err := tx.Pod(ns, name)
		if err != nil {
			return err
		}
		pod = &rec.Pod
		if rec.Pod.Spec.NodeName == "" {
			return nil
		}
		node, err := tx.Node(rec.Pod.Spec.NodeName)
		if err == nil {
			addr = node.Address
		}
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, "", notFound("pod", ns, name)
	}
	return pod, addr, err
}
