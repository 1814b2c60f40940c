package statefulsets

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrInvalidSpec is wrapped by every error caused by the StatefulSet given.
var ErrInvalidSpec = errors.New("invalid statefulset spec")

// State is what the controller remembers between calls. The caller stores
// it whole and passes it back next time.
type State struct {
	Status appsv1.StatefulSetStatus
	// Created is when the controller first saw the set (objects in Git
	// carry no creation time of their own).
	Created time.Time
}

// ObservedPod is one pod the set owns, as the caller last recorded it.
type ObservedPod struct {
	Name string
	UID  types.UID
	// Revision is the template hash the pod was made from.
	Revision string
	Phase    corev1.PodPhase
	// Ready is the pod's Ready condition; ReadySince is when it last
	// became Ready (zero when unknown).
	Ready      bool
	ReadySince time.Time
	// Deleting is true once the pod was asked to stop.
	Deleting bool
}

// Input is everything SyncStatefulSet decides from.
type Input struct {
	// Set is the StatefulSet as declared (defaulted by manifest).
	Set *appsv1.StatefulSet
	// Revision is the hash of the set's current pod template: Kubernetes'
	// updateRevision.
	Revision string
	// State is the State SyncStatefulSet last returned (zero at first).
	State State
	// Pods are all pods the set owns, being deleted or not.
	Pods []ObservedPod
	// Claims are the names of the claims that exist for the set's
	// volumeClaimTemplates.
	Claims []string
	Now    time.Time
}

// NewPod is a pod to create.
type NewPod struct {
	Name    string
	Ordinal int
	// Revision is whose template to use: Input.Revision, or, for an
	// ordinal below a RollingUpdate partition, State.Status.CurrentRevision.
	Revision string
}

// NewClaim is a claim to create from a volumeClaimTemplate.
type NewClaim struct {
	Name string
	// Template is the volumeClaimTemplate's name; Pod is the pod it
	// belongs to.
	Template, Pod string
}

// PodRef names a pod to delete; the UID guards against deleting a pod that
// replaced it under the same name.
type PodRef struct {
	Name   string
	UID    types.UID
	Reason DeleteReason
}

// DeleteReason says why a pod is to go.
type DeleteReason string

const (
	// DeleteFinished: the pod ended (failed, or succeeded though a
	// StatefulSet's pods should run forever); it is recreated.
	DeleteFinished DeleteReason = "Finished"
	// DeleteScaledDown: its ordinal is no longer below replicas.
	DeleteScaledDown DeleteReason = "ScaledDown"
	// DeleteUpdate: a RollingUpdate replaces it with the new revision.
	DeleteUpdate DeleteReason = "Update"
)

// Event is worth showing the user, as Kubernetes' controllers record one.
type Event struct {
	Type    string
	Reason  string
	Message string
}

// Result is what the caller must do after SyncStatefulSet.
type Result struct {
	// CreateClaims come first: a pod is created only with its claims.
	CreateClaims []NewClaim
	Create       []NewPod
	Delete       []PodRef
	// DeleteClaims are claims persistentVolumeClaimRetentionPolicy
	// whenScaled: Delete says to remove, their pod being gone.
	DeleteClaims []string
	State        State
	Changed      bool
	// RequeueAt, when not zero, is when to sync again even if nothing is
	// observed to change (a pod passing minReadySeconds).
	RequeueAt time.Time
	Events    []Event
}

// PodName is <set>-<ordinal>.
func PodName(set string, ordinal int) string {
	return set + "-" + strconv.Itoa(ordinal)
}

// ClaimName is <template>-<set>-<ordinal>, Kubernetes' name for the claim
// a volumeClaimTemplate gives one pod.
func ClaimName(template, set string, ordinal int) string {
	return template + "-" + PodName(set, ordinal)
}

// Ordinal is the ordinal of a pod named <set>-<ordinal>, or -1.
func Ordinal(set, pod string) int {
	rest, ok := strings.CutPrefix(pod, set+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// ClaimsToDeleteWithSet are the claims to remove when the set itself is
// removed: all of them under whenDeleted: Delete, none under Retain (the
// default).
func ClaimsToDeleteWithSet(set *appsv1.StatefulSet, claims []string) []string {
	p := set.Spec.PersistentVolumeClaimRetentionPolicy
	if p == nil || p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return nil
	}
	return slices.Clone(claims)
}

// MaxUnavailable resolves rollingUpdate.maxUnavailable against replicas
// (percentages round down, at least 1), as Kubernetes does.
func MaxUnavailable(set *appsv1.StatefulSet) (int, error) {
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		return 1, nil
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, replicas(set), false)
	if err != nil {
		return 0, fmt.Errorf("%w: spec.updateStrategy.rollingUpdate.maxUnavailable: %w", ErrInvalidSpec, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: spec.updateStrategy.rollingUpdate.maxUnavailable must not be negative", ErrInvalidSpec)
	}
	return max(n, 1), nil
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func partition(set *appsv1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// slot is one ordinal's pod: observed, or created by this sync.
type slot struct {
	ordinal int
	pod     *ObservedPod // nil: none
	created bool
}

// SyncStatefulSet is the StatefulSet controller. It is a pure function.
func SyncStatefulSet(in Input) (Result, error) {
	set := in.Set
	if set == nil {
		return Result{}, fmt.Errorf("sync statefulset: %w: no StatefulSet", ErrInvalidSpec)
	}
	maxUnavail, err := MaxUnavailable(set)
	if err != nil {
		return Result{}, fmt.Errorf("sync statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	if replicas(set) < 0 {
		return Result{}, fmt.Errorf("sync statefulset %s/%s: %w: spec.replicas must not be negative", set.Namespace, set.Name, ErrInvalidSpec)
	}
	s := &pass{in: in, set: set, maxUnavail: maxUnavail,
		minReady:  time.Duration(set.Spec.MinReadySeconds) * time.Second,
		monotonic: set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement,
		current:   in.State.Status.CurrentRevision,
		deleted:   map[types.UID]bool{},
	}
	if s.current == "" {
		s.current = in.Revision
	}
	s.observe()
	if s.processReplicas() {
		s.condemn()
		s.update()
	}
	s.claims()
	s.status()
	return s.res, nil
}

type pass struct {
	in         Input
	set        *appsv1.StatefulSet
	maxUnavail int
	minReady   time.Duration
	monotonic  bool
	current    string

	replicas  []slot         // ordinals 0..replicas-1
	condemned []*ObservedPod // pods at ordinals ≥ replicas, ascending
	stray     []*ObservedPod // pods whose name is no ordinal of the set
	deleted   map[types.UID]bool
	res       Result
}

func (s *pass) healthy(p *ObservedPod) bool {
	return p != nil && !p.Deleting && p.Phase == corev1.PodRunning && p.Ready &&
		(s.minReady <= 0 || (!p.ReadySince.IsZero() && !s.in.Now.Before(p.ReadySince.Add(s.minReady))))
}

func (s *pass) observe() {
	n := replicas(s.set)
	s.replicas = make([]slot, n)
	for i := range s.replicas {
		s.replicas[i].ordinal = i
	}
	for i := range s.in.Pods {
		p := &s.in.Pods[i]
		o := Ordinal(s.set.Name, p.Name)
		switch {
		case o < 0:
			s.stray = append(s.stray, p)
		case o < n:
			// Two pods of one ordinal (a stale record): keep the live one.
			if old := s.replicas[o].pod; old == nil || (old.Deleting && !p.Deleting) {
				s.replicas[o].pod = p
			}
		default:
			s.condemned = append(s.condemned, p)
		}
	}
	slices.SortFunc(s.condemned, func(a, b *ObservedPod) int {
		return Ordinal(s.set.Name, a.Name) - Ordinal(s.set.Name, b.Name)
	})
	for _, p := range s.stray {
		if !p.Deleting {
			s.delete(p, DeleteScaledDown)
		}
	}
}

func (s *pass) delete(p *ObservedPod, why DeleteReason) {
	s.deleted[p.UID] = true
	s.res.Delete = append(s.res.Delete, PodRef{Name: p.Name, UID: p.UID, Reason: why})
	s.event(corev1.EventTypeNormal, "SuccessfulDelete", fmt.Sprintf("delete Pod %s in StatefulSet %s successful", p.Name, s.set.Name))
}

func (s *pass) gone(p *ObservedPod) bool { return p.Deleting || s.deleted[p.UID] }

// revisionFor is the revision a pod of ordinal o is created from: below a
// RollingUpdate partition the current one, else the update revision.
func (s *pass) revisionFor(o int) string {
	if s.set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && o < partition(s.set) {
		return s.current
	}
	return s.in.Revision
}

// processReplicas walks ordinals upward: an ended pod is deleted, a
// missing one created; under OrderedReady the walk stops at the first pod
// that is not yet running, ready and available (or is terminating). It
// reports whether scale-down and update may go on.
func (s *pass) processReplicas() bool {
	for i := range s.replicas {
		r := &s.replicas[i]
		p := r.pod
		if p != nil && !p.Deleting && (p.Phase == corev1.PodFailed || p.Phase == corev1.PodSucceeded) {
			s.delete(p, DeleteFinished)
		}
		if p == nil {
			name := PodName(s.set.Name, r.ordinal)
			s.res.Create = append(s.res.Create, NewPod{Name: name, Ordinal: r.ordinal, Revision: s.revisionFor(r.ordinal)})
			s.event(corev1.EventTypeNormal, "SuccessfulCreate", fmt.Sprintf("create Pod %s in StatefulSet %s successful", name, s.set.Name))
			r.created = true
			if s.monotonic {
				return false
			}
			continue
		}
		// A pod just deleted for ending is not healthy either.
		if s.monotonic && !s.healthy(p) {
			return false
		}
	}
	return true
}

// firstUnhealthy is the lowest-ordinal pod that is not healthy, among the
// replicas and then the condemned, as Kubernetes finds it.
func (s *pass) firstUnhealthy() *ObservedPod {
	for i := range s.replicas {
		if p := s.replicas[i].pod; p != nil && !s.healthy(p) {
			return p
		}
	}
	for _, p := range s.condemned {
		if !s.healthy(p) {
			return p
		}
	}
	return nil
}

// condemn deletes pods at ordinals ≥ replicas, highest first: under
// OrderedReady one at a time, each once the one above it is gone.
func (s *pass) condemn() {
	first := s.firstUnhealthy()
	for i := len(s.condemned) - 1; i >= 0; i-- {
		p := s.condemned[i]
		if p.Deleting {
			if s.monotonic {
				return
			}
			continue
		}
		if s.monotonic && !s.healthy(p) && p != first {
			return
		}
		s.delete(p, DeleteScaledDown)
		if s.monotonic {
			return
		}
	}
}

// update is RollingUpdate: from the highest ordinal down to the partition,
// pods of an old revision are deleted (they come back at the new one), as
// many at a time as maxUnavailable leaves room for once unhealthy pods
// are counted.
func (s *pass) update() {
	if s.set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return
	}
	unavailable := 0
	for i := range s.replicas {
		if p := s.replicas[i].pod; p == nil || s.gone(p) || !s.healthy(p) {
			unavailable++
		}
	}
	room := s.maxUnavail - unavailable
	for i := len(s.replicas) - 1; i >= partition(s.set) && room > 0; i-- {
		p := s.replicas[i].pod
		if p == nil || s.gone(p) || p.Revision == s.in.Revision {
			continue
		}
		s.delete(p, DeleteUpdate)
		room--
	}
}

// claims: every pod in range (observed or being created) gets the claims
// its volumeClaimTemplates name; under whenScaled: Delete, the claims of
// ordinals ≥ replicas go once no pod of their ordinal is left.
func (s *pass) claims() {
	tpls := s.set.Spec.VolumeClaimTemplates
	if len(tpls) == 0 {
		return
	}
	have := map[string]bool{}
	for _, c := range s.in.Claims {
		have[c] = true
	}
	for _, r := range s.replicas {
		if r.pod == nil && !r.created {
			continue
		}
		for _, t := range tpls {
			name := ClaimName(t.Name, s.set.Name, r.ordinal)
			if !have[name] {
				have[name] = true
				s.res.CreateClaims = append(s.res.CreateClaims, NewClaim{Name: name, Template: t.Name, Pod: PodName(s.set.Name, r.ordinal)})
			}
		}
	}
	p := s.set.Spec.PersistentVolumeClaimRetentionPolicy
	if p == nil || p.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return
	}
	podAt := map[int]bool{}
	for _, pod := range s.in.Pods {
		podAt[Ordinal(s.set.Name, pod.Name)] = true
	}
	n := replicas(s.set)
	for _, c := range s.in.Claims {
		for _, t := range tpls {
			o := Ordinal(s.set.Name, strings.TrimPrefix(c, t.Name+"-"))
			if strings.HasPrefix(c, t.Name+"-") && o >= n && !podAt[o] {
				s.res.DeleteClaims = append(s.res.DeleteClaims, c)
				break
			}
		}
	}
}

// status counts the pods that stay and the ones created now, as
// Kubernetes' computeReplicaStatus and completeRollingUpdate do.
func (s *pass) status() {
	prev := s.in.State
	st := &s.res.State
	*st = prev
	if st.Created.IsZero() {
		st.Created = s.in.Now
	}
	status := appsv1.StatefulSetStatus{
		ObservedGeneration: max(s.set.Generation, 1),
		CurrentRevision:    s.current,
		UpdateRevision:     s.in.Revision,
		CollisionCount:     prev.Status.CollisionCount,
	}
	count := func(rev string) {
		status.Replicas++
		if rev == s.current {
			status.CurrentReplicas++
		}
		if rev == s.in.Revision {
			status.UpdatedReplicas++
		}
	}
	for i := range s.in.Pods {
		p := &s.in.Pods[i]
		if s.gone(p) {
			continue
		}
		count(p.Revision)
		if p.Ready && p.Phase == corev1.PodRunning {
			status.ReadyReplicas++
			if s.healthy(p) {
				status.AvailableReplicas++
			} else if !p.ReadySince.IsZero() {
				s.requeue(p.ReadySince.Add(s.minReady))
			}
		}
	}
	for _, c := range s.res.Create {
		count(c.Revision)
	}
	if s.set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		status.UpdatedReplicas == status.Replicas && status.ReadyReplicas == status.Replicas {
		status.CurrentRevision = status.UpdateRevision
		status.CurrentReplicas = status.UpdatedReplicas
	}
	st.Status = status
	s.res.Changed = !prev.Created.Equal(st.Created) || !equality.Semantic.DeepEqual(prev.Status, st.Status)
}

func (s *pass) event(typ, reason, msg string) {
	s.res.Events = append(s.res.Events, Event{Type: typ, Reason: reason, Message: msg})
}

func (s *pass) requeue(at time.Time) {
	if s.res.RequeueAt.IsZero() || at.Before(s.res.RequeueAt) {
		s.res.RequeueAt = at
	}
}
