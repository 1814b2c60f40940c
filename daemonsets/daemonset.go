package daemonsets

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrInvalidSpec is wrapped by every error caused by the DaemonSet given.
var ErrInvalidSpec = errors.New("invalid daemonset spec")

// State is what the controller remembers between calls.
type State struct {
	Status appsv1.DaemonSetStatus
	// Created is when the controller first saw the DaemonSet.
	Created time.Time
}

// Node is what the controller needs to know about a member node.
type Node struct {
	Name   string
	Labels map[string]string
	Taints []corev1.Taint
}

// ObservedPod is one pod the DaemonSet owns, as the caller last recorded
// it.
type ObservedPod struct {
	Name string
	UID  types.UID
	// Node is the node the pod is bound to.
	Node string
	// Revision is the template hash the pod was made from.
	Revision   string
	Phase      corev1.PodPhase
	Ready      bool
	ReadySince time.Time
	Deleting   bool
	Created    time.Time
}

// Input is everything SyncDaemonSet decides from.
type Input struct {
	// DaemonSet is as declared (defaulted by manifest).
	DaemonSet *appsv1.DaemonSet
	// Revision is the hash of its current pod template.
	Revision string
	State    State
	// Nodes are the cluster's member nodes (Ready or not: a daemon pod
	// tolerates a node that is not ready, as in Kubernetes).
	Nodes []Node
	Pods  []ObservedPod
	Now   time.Time
}

// NewPod is a pod to create at Input.Revision, bound to Node.
type NewPod struct {
	Name string
	Node string
}

// DeleteReason says why a pod is to go.
type DeleteReason string

const (
	// DeleteFinished: the pod failed; it is replaced.
	DeleteFinished DeleteReason = "Finished"
	// DeleteNotEligible: its node is gone or no longer matches.
	DeleteNotEligible DeleteReason = "NodeNotEligible"
	// DeleteExcess: a second pod on one node.
	DeleteExcess DeleteReason = "Excess"
	// DeleteUpdate: a rolling update replaces it.
	DeleteUpdate DeleteReason = "Update"
)

// PodRef names a pod to delete.
type PodRef struct {
	Name   string
	UID    types.UID
	Reason DeleteReason
}

// Event is worth showing the user.
type Event struct {
	Type    string
	Reason  string
	Message string
}

// Result is what the caller must do after SyncDaemonSet.
type Result struct {
	Create    []NewPod
	Delete    []PodRef
	State     State
	Changed   bool
	RequeueAt time.Time
	Events    []Event
}

// PodName is <daemonset>-<revision>-<node>: one name per node and
// revision, so the old and the new pod of a surge differ, and creating a
// name that exists is a no-op.
func PodName(ds, revision, node string) string {
	return ds + "-" + revision + "-" + node
}

// DaemonTolerations are the tolerations Kubernetes adds to every daemon
// pod: it stays on a node that is not ready, unreachable, under memory,
// disk or PID pressure, or cordoned.
func DaemonTolerations() []corev1.Toleration {
	exists := func(key string, effect corev1.TaintEffect) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
	}
	return []corev1.Toleration{
		exists(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute),
		exists(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute),
		exists(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule),
		exists(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule),
		exists(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule),
		exists(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule),
	}
}

// ShouldRun reports whether the DaemonSet's pod belongs on the node: every
// nodeSelector label matches and every NoSchedule/NoExecute taint is
// tolerated (with DaemonTolerations). When not, why says which.
func ShouldRun(ds *appsv1.DaemonSet, n *Node) (ok bool, why string) {
	spec := &ds.Spec.Template.Spec
	for k, v := range spec.NodeSelector {
		if got, has := n.Labels[k]; !has || got != v {
			return false, fmt.Sprintf("node %s does not match nodeSelector %s=%s", n.Name, k, v)
		}
	}
	tols := append(slices.Clip(spec.Tolerations), DaemonTolerations()...)
	for i := range n.Taints {
		t := &n.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(tols, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(logr.Discard(), t, false) }) {
			return false, fmt.Sprintf("node %s has untolerated taint {%s: %s}", n.Name, t.Key, t.Value)
		}
	}
	return true, ""
}

// Params are maxSurge and maxUnavailable resolved against the number of
// nodes that should run the pod.
type Params struct {
	MaxSurge, MaxUnavailable int
}

// ResolveParams resolves rollingUpdate's bounds as Kubernetes'
// updatedDesiredNodeCounts does: percentages round up, defaults are
// maxUnavailable 1 and maxSurge 0, and if both are 0 one pod may be
// unavailable.
func ResolveParams(ds *appsv1.DaemonSet, desired int) (Params, error) {
	mu, ms := intstr.FromInt32(1), intstr.FromInt32(0)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.MaxUnavailable != nil {
			mu = *ru.MaxUnavailable
		}
		if ru.MaxSurge != nil {
			ms = *ru.MaxSurge
		}
	}
	var p Params
	var err error
	if p.MaxUnavailable, err = intstr.GetScaledValueFromIntOrPercent(&mu, desired, true); err != nil {
		return p, fmt.Errorf("%w: spec.updateStrategy.rollingUpdate.maxUnavailable: %w", ErrInvalidSpec, err)
	}
	if p.MaxSurge, err = intstr.GetScaledValueFromIntOrPercent(&ms, desired, true); err != nil {
		return p, fmt.Errorf("%w: spec.updateStrategy.rollingUpdate.maxSurge: %w", ErrInvalidSpec, err)
	}
	if p.MaxSurge < 0 || p.MaxUnavailable < 0 {
		return p, fmt.Errorf("%w: maxSurge and maxUnavailable must not be negative", ErrInvalidSpec)
	}
	if p.MaxSurge == 0 && p.MaxUnavailable == 0 {
		p.MaxUnavailable = 1
	}
	return p, nil
}

// SyncDaemonSet is the DaemonSet controller. It is a pure function.
func SyncDaemonSet(in Input) (Result, error) {
	ds := in.DaemonSet
	if ds == nil {
		return Result{}, fmt.Errorf("sync daemonset: %w: no DaemonSet", ErrInvalidSpec)
	}
	s := &pass{in: in, ds: ds, minReady: time.Duration(ds.Spec.MinReadySeconds) * time.Second,
		byNode: map[string]*nodePods{}, deleted: map[types.UID]bool{}}
	s.observe()
	prm, err := ResolveParams(ds, len(s.eligible))
	if err != nil {
		return Result{}, fmt.Errorf("sync daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	s.prm = prm
	s.manage()
	if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		if prm.MaxSurge > 0 {
			s.surge()
		} else {
			s.replace()
		}
	}
	s.status()
	return s.res, nil
}

// nodePods are the DaemonSet's pods on one node.
type nodePods struct {
	live     []*ObservedPod // not being deleted
	deleting []*ObservedPod
}

type pass struct {
	in       Input
	ds       *appsv1.DaemonSet
	minReady time.Duration
	prm      Params

	eligible   []string // nodes that should run the pod, by name
	ineligible []string // member nodes that should not
	byNode     map[string]*nodePods
	deleted    map[types.UID]bool
	res        Result
}

// available: Running and Ready for minReadySeconds, not being deleted
// (nor by this sync).
func (s *pass) available(p *ObservedPod) bool {
	return p != nil && !s.deleted[p.UID] && s.availableObserved(p)
}

// availableObserved is available as observed, before this sync's deletes.
func (s *pass) availableObserved(p *ObservedPod) bool {
	return !p.Deleting && p.Phase == corev1.PodRunning && p.Ready &&
		(s.minReady <= 0 || (!p.ReadySince.IsZero() && !s.in.Now.Before(p.ReadySince.Add(s.minReady))))
}

func (s *pass) observe() {
	member := map[string]bool{}
	for i := range s.in.Nodes {
		n := &s.in.Nodes[i]
		member[n.Name] = true
		if ok, _ := ShouldRun(s.ds, n); ok {
			s.eligible = append(s.eligible, n.Name)
		} else {
			s.ineligible = append(s.ineligible, n.Name)
		}
	}
	slices.Sort(s.eligible)
	slices.Sort(s.ineligible)
	for i := range s.in.Pods {
		p := &s.in.Pods[i]
		np := s.byNode[p.Node]
		if np == nil {
			np = &nodePods{}
			s.byNode[p.Node] = np
		}
		if p.Deleting {
			np.deleting = append(np.deleting, p)
		} else {
			np.live = append(np.live, p)
		}
	}
	// Pods on nodes that left the cluster (or were never bound) go.
	var gone []string
	for name := range s.byNode {
		if !member[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		for _, p := range s.byNode[name].live {
			s.delete(p, DeleteNotEligible)
		}
	}
}

func (s *pass) delete(p *ObservedPod, why DeleteReason) {
	if s.deleted[p.UID] {
		return
	}
	s.deleted[p.UID] = true
	s.res.Delete = append(s.res.Delete, PodRef{Name: p.Name, UID: p.UID, Reason: why})
	s.event(corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: "+p.Name)
}

func (s *pass) create(node string) {
	name := PodName(s.ds.Name, s.in.Revision, node)
	for i := range s.in.Pods {
		if s.in.Pods[i].Name == name {
			return // the pod of this name being deleted must be gone first
		}
	}
	s.res.Create = append(s.res.Create, NewPod{Name: name, Node: node})
	s.event(corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: "+name)
}

// manage is Kubernetes' podsShouldBeOnNode for every node: failed pods go,
// an eligible node without a running pod gets one, an ineligible node
// loses its pods, and a node with more than one keeps the oldest (with
// maxSurge, the oldest of each revision).
func (s *pass) manage() {
	for _, name := range s.ineligible {
		if np := s.byNode[name]; np != nil {
			for _, p := range np.live {
				s.delete(p, DeleteNotEligible)
			}
		}
	}
	for _, name := range s.eligible {
		np := s.byNode[name]
		if np == nil {
			np = &nodePods{}
			s.byNode[name] = np
		}
		var running []*ObservedPod
		for _, p := range np.live {
			if p.Phase == corev1.PodFailed || p.Phase == corev1.PodSucceeded {
				s.delete(p, DeleteFinished)
				continue
			}
			running = append(running, p)
		}
		np.live = running
		if len(running) == 0 {
			s.create(name)
			continue
		}
		slices.SortStableFunc(running, func(a, b *ObservedPod) int { return a.Created.Compare(b.Created) })
		if s.prm.MaxSurge == 0 || s.ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
			for _, p := range running[1:] {
				s.delete(p, DeleteExcess)
			}
			np.live = running[:1]
			continue
		}
		var keepNew, keepOld *ObservedPod
		for _, p := range running {
			switch {
			case p.Revision == s.in.Revision && keepNew == nil:
				keepNew = p
			case p.Revision != s.in.Revision && keepOld == nil:
				keepOld = p
			default:
				s.delete(p, DeleteExcess)
			}
		}
		np.live = slices.DeleteFunc(running, func(p *ObservedPod) bool { return s.deleted[p.UID] })
	}
}

// split is Kubernetes' findUpdatedPodsOnNode on what manage left.
func (s *pass) split(node string) (newPod, oldPod *ObservedPod) {
	for _, p := range s.byNode[node].live {
		if s.deleted[p.UID] {
			continue
		}
		if p.Revision == s.in.Revision {
			newPod = p
		} else {
			oldPod = p
		}
	}
	return newPod, oldPod
}

// replace is rollingUpdate without surge: old pods that are not available
// go at once; available ones as far as maxUnavailable allows, counting
// every node without an available pod.
func (s *pass) replace() {
	unavailable := 0
	var free, candidates []*ObservedPod
	for _, name := range s.eligible {
		newPod, oldPod := s.split(name)
		switch {
		case oldPod == nil && newPod == nil:
			unavailable++
		case oldPod == nil:
			if !s.available(newPod) {
				unavailable++
			}
		case newPod != nil:
			unavailable++
		case !s.available(oldPod):
			// Replaced at once: it is down already. Unlike Kubernetes
			// it still counts as unavailable, so the update never
			// leaves more than maxUnavailable nodes without a pod.
			free = append(free, oldPod)
			unavailable++
		default:
			candidates = append(candidates, oldPod)
		}
	}
	room := max(0, min(s.prm.MaxUnavailable-unavailable, len(candidates)))
	for _, p := range append(free, candidates[:room]...) {
		s.delete(p, DeleteUpdate)
	}
}

// surge is rollingUpdate with maxSurge: a node whose old pod is not
// available gets its new pod at once, others as far as maxSurge allows;
// an old pod goes once the new pod beside it is available.
func (s *pass) surge() {
	surged := 0
	var now, candidates []string
	for _, name := range s.eligible {
		newPod, oldPod := s.split(name)
		switch {
		case oldPod == nil:
		case newPod == nil:
			if !s.available(oldPod) {
				now = append(now, name)
			} else {
				candidates = append(candidates, name)
			}
		case !s.available(newPod):
			surged++
		default:
			s.delete(oldPod, DeleteUpdate)
		}
	}
	room := max(0, min(s.prm.MaxSurge-surged, len(candidates)))
	for _, name := range append(now, candidates[:room]...) {
		s.create(name)
	}
}

// status counts nodes as Kubernetes' updateDaemonSetStatus does, on the
// pods observed.
func (s *pass) status() {
	prev := s.in.State
	st := &s.res.State
	*st = prev
	if st.Created.IsZero() {
		st.Created = s.in.Now
	}
	status := appsv1.DaemonSetStatus{
		ObservedGeneration:     max(s.ds.Generation, 1),
		DesiredNumberScheduled: int32(len(s.eligible)),
		CollisionCount:         prev.Status.CollisionCount,
	}
	live := func(node string) []*ObservedPod {
		var out []*ObservedPod
		for i := range s.in.Pods {
			if p := &s.in.Pods[i]; p.Node == node && !p.Deleting {
				out = append(out, p)
			}
		}
		return out
	}
	for _, name := range s.ineligible {
		if len(live(name)) > 0 {
			status.NumberMisscheduled++
		}
	}
	for _, name := range s.eligible {
		ps := live(name)
		if len(ps) == 0 {
			continue
		}
		status.CurrentNumberScheduled++
		ready, avail, updated := false, false, false
		for _, p := range ps {
			if p.Revision == s.in.Revision {
				updated = true
			}
			if p.Ready && p.Phase == corev1.PodRunning {
				ready = true
				if s.availableObserved(p) {
					avail = true
				} else if !p.ReadySince.IsZero() {
					s.requeue(p.ReadySince.Add(s.minReady))
				}
			}
		}
		if ready {
			status.NumberReady++
		}
		if avail {
			status.NumberAvailable++
		}
		if updated {
			status.UpdatedNumberScheduled++
		}
	}
	status.NumberUnavailable = max(0, status.DesiredNumberScheduled-status.NumberAvailable)
	st.Status = status
	s.res.Changed = !prev.Created.Equal(st.Created) || !equality.Semantic.DeepEqual(prev.Status, st.Status)
}

func (s *pass) event(typ, reason, msg string) {
	s.res.Events = append(s.res.Events, Event{Type: typ, Reason: reason, Message: msg})
}

func (s *pass) requeue(at time.Time) {
	if !at.After(s.in.Now) {
		return
	}
	if s.res.RequeueAt.IsZero() || at.Before(s.res.RequeueAt) {
		s.res.RequeueAt = at
	}
}
