package reconciler

import (
	"errors"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/daemonsets"
	"github.com/berth-dev/berth/manifest"
)

// daemonNodeLabel names, on a daemon pod, the node it is made for, before
// and after it is bound.
const daemonNodeLabel = "berth.dev/daemon-node"

// hostnameLabel is the label every agent registers with (its node name
// unless the operator set it): a daemon pod selects its node by it, as
// Kubernetes' daemon pods select theirs by node affinity, so the pod goes
// through the scheduler like any other and "Insufficient memory" names a
// node that cannot fit it.
const hostnameLabel = "kubernetes.io/hostname"

type daemonWant struct {
	ds   *appsv1.DaemonSet
	hash string
}

// daemonNodes are the nodes a daemon pod can be pinned to: those with a
// hostname label.
func daemonNodes(nodes []*NodeRecord) []daemonsets.Node {
	out := make([]daemonsets.Node, 0, len(nodes))
	for _, n := range nodes {
		if n.Labels[hostnameLabel] == "" {
			continue
		}
		out = append(out, daemonsets.Node{Name: n.Name, Labels: n.Labels, Taints: n.Taints})
	}
	return out
}

// daemonTemplate is the DaemonSet's template for one node: its labels say
// which node, its nodeSelector pins it there and it carries Kubernetes'
// daemon tolerations.
func daemonTemplate(w daemonWant, n *NodeRecord) (*metav1.ObjectMeta, *corev1.PodSpec) {
	meta := w.ds.Spec.Template.ObjectMeta.DeepCopy()
	meta.Labels = maps.Clone(meta.Labels)
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[daemonNodeLabel] = n.Name
	spec := w.ds.Spec.Template.Spec.DeepCopy()
	spec.NodeSelector = maps.Clone(spec.NodeSelector)
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector[hostnameLabel] = n.Labels[hostnameLabel]
	spec.Tolerations = append(spec.Tolerations, daemonsets.DaemonTolerations()...)
	return meta, spec
}

func (p *PodRecord) observeForDaemonSet() daemonsets.ObservedPod {
	return daemonsets.ObservedPod{
		Name: p.Pod.Name, UID: p.Pod.UID, Node: p.Pod.Labels[daemonNodeLabel], Revision: p.TemplateHash,
		Phase: p.Pod.Status.Phase, Ready: p.ready(), ReadySince: p.readySince(), Deleting: p.deleting(), Created: p.Created,
	}
}

// syncDaemonSets runs the DaemonSet controller for every DaemonSet in Git
// and forgets the records of those gone from it (prune removes their
// pods).
func (r *Reconciler) syncDaemonSets(c *changes, idx *desiredIndex) (time.Time, error) {
	var wake time.Time
	nodes := daemonNodes(c.nodes)
	byName := map[string]*NodeRecord{}
	for _, n := range c.nodes {
		byName[n.Name] = n
	}
	for _, k := range sortedKeys(idx.daemonsets) {
		w := idx.daemonsets[k]
		ds := w.ds
		if !c.want(OwnerDaemonSet, ds.Namespace, ds.Name) {
			continue
		}
		prev, err := c.tx.DaemonSet(ds.Namespace, ds.Name)
		if errors.Is(err, ErrNotFound) {
			prev, err = &DaemonSetRecord{}, nil
		}
		if err != nil {
			return wake, err
		}
		owned := c.owned(OwnerDaemonSet, ds.Namespace, ds.Name)
		observed := make([]daemonsets.ObservedPod, 0, len(owned))
		for _, p := range owned {
			observed = append(observed, p.observeForDaemonSet())
		}
		res, err := daemonsets.SyncDaemonSet(daemonsets.Input{
			DaemonSet: ds, Revision: w.hash, Nodes: nodes, Pods: observed, Now: c.now,
			State: daemonsets.State{Status: prev.Status, Created: prev.Created},
		})
		if err != nil {
			if err := c.event("Warning", "FailedSync", "DaemonSet", ds.Namespace, ds.Name, err.Error()); err != nil {
				return wake, err
			}
			continue
		}
		owner := Owner{Kind: OwnerDaemonSet, Name: ds.Name}
		for _, np := range res.Create {
			meta, spec := daemonTemplate(w, byName[np.Node])
			if err := c.create(newPodRecord(ds.Namespace, np.Name, owner, meta, spec, w.hash, c.rev, c.now)); err != nil {
				return wake, err
			}
		}
		for _, ref := range res.Delete {
			p := c.byKey[key(ds.Namespace, ref.Name)]
			if p == nil || p.Pod.UID != ref.UID {
				continue
			}
			why := map[daemonsets.DeleteReason]string{
				daemonsets.DeleteFinished:    "Pod ended; the daemonset replaces it",
				daemonsets.DeleteNotEligible: "Node no longer runs daemonset " + ds.Name,
				daemonsets.DeleteExcess:      "More than one pod of daemonset " + ds.Name + " on the node",
				daemonsets.DeleteUpdate:      "Replaced by the rolling update of daemonset " + ds.Name,
			}[ref.Reason]
			if err := c.remove(p, why); err != nil {
				return wake, err
			}
		}
		if res.Changed {
			rec := &DaemonSetRecord{Namespace: ds.Namespace, Name: ds.Name, Status: res.State.Status, Created: res.State.Created}
			if err := c.tx.PutDaemonSet(rec); err != nil {
				return wake, err
			}
		}
		// The controller's SuccessfulCreate/SuccessfulDelete events are
		// the ones create and remove record already.
		c.requeueAt(OwnerDaemonSet, ds.Namespace, ds.Name, res.RequeueAt)
	}
	recs, err := c.tx.DaemonSets()
	if err != nil {
		return wake, err
	}
	for _, rec := range recs {
		if _, ok := idx.daemonsets[key(rec.Namespace, rec.Name)]; !ok {
			if err := c.tx.DeleteDaemonSet(rec.Namespace, rec.Name); err != nil {
				return wake, err
			}
		}
	}
	return wake, nil
}

type daemonCandidate struct {
	pod   *corev1.Pod
	owner string
}

// daemonCandidates are the daemon pods a revision needs that do not exist
// yet at its template: one per eligible node, so atomic admission counts
// every daemon pod and a node that cannot fit its pod is named.
func daemonCandidates(idx *desiredIndex, nodes []*NodeRecord, pods []*PodRecord) []daemonCandidate {
	have := map[string]bool{} // daemonset key + node, at the current hash
	for _, p := range pods {
		if p.Owner.Kind != OwnerDaemonSet || p.deleting() || p.finished() {
			continue
		}
		k := key(p.Pod.Namespace, p.Owner.Name)
		if w, ok := idx.daemonsets[k]; ok && w.hash == p.TemplateHash {
			have[k+"\x00"+p.Pod.Labels[daemonNodeLabel]] = true
		}
	}
	byName := map[string]*NodeRecord{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	var out []daemonCandidate
	dnodes := daemonNodes(nodes)
	for _, k := range sortedKeys(idx.daemonsets) {
		w := idx.daemonsets[k]
		for i := range dnodes {
			n := &dnodes[i]
			if !byName[n.Name].Ready {
				continue // its pod waits for the node; see withoutDaemonPodsOfDownNodes
			}
			if ok, _ := daemonsets.ShouldRun(w.ds, n); !ok || have[k+"\x00"+n.Name] {
				continue
			}
			meta, spec := daemonTemplate(w, byName[n.Name])
			out = append(out, daemonCandidate{candidatePod(w.ds.Namespace, daemonsets.PodName(w.ds.Name, w.hash, n.Name), meta, spec), w.ds.Name})
		}
	}
	return out
}

// withoutDaemonPodsOfDownNodes drops from a revision's required pods the
// daemon pods of NotReady nodes: such a pod waits for its node, and a node
// that is down must not keep every revision with a DaemonSet out.
func withoutDaemonPodsOfDownNodes(required []*corev1.Pod, nodes []*NodeRecord) []*corev1.Pod {
	down := map[string]bool{}
	for _, n := range nodes {
		down[n.Name] = !n.Ready
	}
	out := required[:0]
	for _, p := range required {
		if n, ok := p.Labels[daemonNodeLabel]; ok && p.Labels[api.LabelOwnerKind] == OwnerDaemonSet && down[n] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// DaemonSets returns the DaemonSets of Git (filtered by ns and name when
// not empty) with the status the loop recorded.
func (r *Reads) DaemonSets(ns, name string) ([]appsv1.DaemonSet, error) {
	objs := r.gitObjects(manifest.KindDaemonSet, ns, name)
	items := []appsv1.DaemonSet{}
	err := r.store.View(func(tx ReadTx) error {
		for _, o := range objs {
			d := o.DaemonSet.DeepCopy()
			d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}
			d.Generation = max(d.Generation, 1)
			rec, err := tx.DaemonSet(o.Namespace, o.Name)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				d.Status = rec.Status
				if !rec.Created.IsZero() {
					d.CreationTimestamp = metav1.NewTime(rec.Created)
				}
			}
			items = append(items, *d)
		}
		return nil
	})
	return items, err
}
