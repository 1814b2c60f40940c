package deployments

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultProgressDeadline is Kubernetes' progressDeadlineSeconds default.
const DefaultProgressDeadline = 600 * time.Second

// ErrInvalidSpec is wrapped by every error caused by the Deployment given.
var ErrInvalidSpec = errors.New("invalid deployment spec")

// State is what the Deployment controller remembers between calls: the
// status it reports and the rollout bookkeeping behind it. The caller
// stores it whole and passes it back next time.
type State struct {
	Status appsv1.DeploymentStatus
	// TemplateHash is the hash of the template being rolled out.
	TemplateHash string
	// LastProgress is when the rollout last made progress, for
	// progressDeadlineSeconds.
	LastProgress time.Time
	// Created is when the controller first saw the Deployment (objects in
	// Git carry no creation time of their own).
	Created time.Time
	// RolloutRevision numbers the rollouts as Kubernetes'
	// deployment.kubernetes.io/revision does: 1 for the first template,
	// one more each time the template changes.
	RolloutRevision int64
}

// ObservedPod is what the controller needs to know about one of the
// Deployment's pods, as the caller last recorded it.
type ObservedPod struct {
	Name string
	UID  types.UID
	// TemplateHash is the hash of the template the pod was made from: equal
	// to Input.TemplateHash for a new pod, anything else for an old one.
	TemplateHash string
	// Bound is true once the pod is placed on a node.
	Bound bool
	Phase corev1.PodPhase
	// Ready is the pod's Ready condition; ReadySince is when it last
	// became Ready (zero when unknown).
	Ready      bool
	ReadySince time.Time
	// Deleting is true once the pod was asked to stop: it no longer counts
	// toward replicas, as a terminating pod does not in Kubernetes.
	Deleting bool
	// Restarts is the highest restart count of the pod's containers.
	Restarts int32
	Created  time.Time
}

func (p *ObservedPod) finished() bool {
	return p.Phase == corev1.PodSucceeded || p.Phase == corev1.PodFailed
}

// available reports whether the pod has been Ready for minReady, as a
// ReplicaSet counts availableReplicas.
func (p *ObservedPod) available(minReady time.Duration, now time.Time) bool {
	if !p.Ready || p.Deleting || p.finished() {
		return false
	}
	if minReady <= 0 {
		return true
	}
	return !p.ReadySince.IsZero() && !now.Before(p.ReadySince.Add(minReady))
}

// Input is everything SyncDeployment decides from.
type Input struct {
	// Deployment is the Deployment as declared (defaulted by manifest).
	Deployment *appsv1.Deployment
	// TemplateHash names the Deployment's current pod template; new pods
	// carry it, old pods another.
	TemplateHash string
	// State is the State SyncDeployment last returned (zero at first).
	State State
	// Pods are all pods the Deployment owns, being deleted or not.
	Pods []ObservedPod
	// Now is the time of this sync, read by the caller from its clock.
	Now time.Time
}

// DeleteReason says why a pod is to go.
type DeleteReason string

const (
	// DeleteFinished: the pod ran to an end (its node lost it, or it
	// failed past its restart policy); a ReplicaSet replaces it.
	DeleteFinished DeleteReason = "Finished"
	// DeleteScaledDown: the rollout or a smaller replica count removes it.
	DeleteScaledDown DeleteReason = "ScaledDown"
)

// PodRef names a pod to delete; the UID guards against deleting a pod that
// replaced it under the same name.
type PodRef struct {
	Name   string
	UID    types.UID
	Reason DeleteReason
}

// Event is worth showing the user, as Kubernetes' controllers record one.
type Event struct {
	Type    string
	Reason  string
	Message string
}

// Event reasons, as Kubernetes' Deployment controller names them.
const (
	ReasonScalingReplicaSet        = "ScalingReplicaSet"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
)

// Result is what the caller must do after SyncDeployment.
type Result struct {
	// Create are names of pods to make from the current template. Names
	// are deterministic (PodName): creating a name that exists is done.
	Create []string
	// Delete are pods to stop and remove, unavailable ones first.
	Delete []PodRef
	// State replaces the stored State when Changed.
	State   State
	Changed bool
	// RequeueAt, when not zero, is when the Deployment must be synced again
	// even if nothing is observed to change: a pod passing
	// minReadySeconds, the progress deadline.
	RequeueAt time.Time
	Events    []Event
}

// Params are maxSurge and maxUnavailable resolved against replicas.
type Params struct {
	Replicas, MaxSurge, MaxUnavailable int
}

// ResolveParams resolves maxSurge and maxUnavailable the way Kubernetes
// does (deploymentutil.ResolveFenceposts): surge percentages round up,
// unavailable percentages round down, and if both come to zero one pod may
// be unavailable. Defaults are 25% each; Recreate is all unavailable and no
// surge.
func ResolveParams(d *appsv1.Deployment) (Params, error) {
	p := Params{Replicas: 1}
	if d.Spec.Replicas != nil {
		p.Replicas = int(*d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		p.MaxUnavailable = p.Replicas
		return p, nil
	}
	ms, mu := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = *ru.MaxUnavailable
		}
	}
	var err error
	if p.MaxSurge, err = intstr.GetScaledValueFromIntOrPercent(&ms, p.Replicas, true); err != nil {
		return p, fmt.Errorf("%w: spec.strategy.rollingUpdate.maxSurge: %w", ErrInvalidSpec, err)
	}
	if p.MaxUnavailable, err = intstr.GetScaledValueFromIntOrPercent(&mu, p.Replicas, false); err != nil {
		return p, fmt.Errorf("%w: spec.strategy.rollingUpdate.maxUnavailable: %w", ErrInvalidSpec, err)
	}
	if p.MaxSurge < 0 || p.MaxUnavailable < 0 {
		return p, fmt.Errorf("%w: maxSurge and maxUnavailable must not be negative", ErrInvalidSpec)
	}
	if p.MaxSurge == 0 && p.MaxUnavailable == 0 {
		p.MaxUnavailable = 1
	}
	// More unavailable than replicas means all of them.
	p.MaxUnavailable = min(p.MaxUnavailable, p.Replicas)
	return p, nil
}

// PodName is <deployment>-<template hash>-<slot>: deterministic, so
// creating the same pod twice is impossible, and different for every
// template, so old and new pods of a rollout never share a name.
func PodName(deploy, hash string, slot int) string {
	return deploy + "-" + hash + "-" + strconv.Itoa(slot)
}

func podSlot(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return -1
	}
	return n
}

// scaleDownOrder sorts pods so the cheapest to lose come first: pods that
// are not available before available ones, then Kubernetes' own order for
// a ReplicaSet's scale-down (controller.ActivePods): unplaced before
// placed, Pending before Unknown before Running, not ready before ready,
// ready more recently before ready longer, more restarts before fewer,
// newer before older. For pods as nodes report them (a Ready pod is placed
// and Running) availability first changes nothing; it makes sure the
// unhealthy pods the rollout may remove for free are the ones removed.
func scaleDownOrder(ps []*ObservedPod, minReady time.Duration, now time.Time) {
	phaseRank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	slices.SortStableFunc(ps, func(a, b *ObservedPod) int {
		if aa, ab := a.available(minReady, now), b.available(minReady, now); aa != ab {
			return boolFirst(!aa)
		}
		if a.Bound != b.Bound {
			return boolFirst(!a.Bound)
		}
		if ra, rb := phaseRank[a.Phase], phaseRank[b.Phase]; ra != rb {
			return ra - rb
		}
		if a.Ready != b.Ready {
			return boolFirst(!a.Ready)
		}
		if a.Ready && !a.ReadySince.Equal(b.ReadySince) {
			return boolFirst(a.ReadySince.After(b.ReadySince))
		}
		if a.Restarts != b.Restarts {
			return boolFirst(a.Restarts > b.Restarts)
		}
		return b.Created.Compare(a.Created)
	})
}

// boolFirst orders a before b when first is true, after it otherwise.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}

// SyncDeployment is the Deployment controller: from the Deployment, what it
// remembers and the pods observed, it decides which pods to create and
// delete and what the status is now. It is a pure function.
func SyncDeployment(in Input) (Result, error) {
	d := in.Deployment
	if d == nil {
		return Result{}, fmt.Errorf("sync deployment: %w: no Deployment", ErrInvalidSpec)
	}
	prm, err := ResolveParams(d)
	if err != nil {
		return Result{}, fmt.Errorf("sync deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	s := &rollout{in: in, d: d, hash: in.TemplateHash, prm: prm, now: in.Now,
		minReady: time.Duration(d.Spec.MinReadySeconds) * time.Second,
		used:     map[int]bool{}}
	s.observe()
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		s.recreate()
	} else {
		s.rollingUpdate()
	}
	s.scaleDownNew()
	s.status()
	s.res.Changed = in.State.TemplateHash != s.res.State.TemplateHash ||
		in.State.RolloutRevision != s.res.State.RolloutRevision ||
		!in.State.LastProgress.Equal(s.res.State.LastProgress) ||
		!in.State.Created.Equal(s.res.State.Created) ||
		!equality.Semantic.DeepEqual(in.State.Status, s.res.State.Status)
	return s.res, nil
}

// rollout is one run of SyncDeployment.
type rollout struct {
	in       Input
	d        *appsv1.Deployment
	hash     string
	prm      Params
	minReady time.Duration
	now      time.Time

	newPods, oldPods []*ObservedPod
	terminatingOld   int
	used             map[int]bool // slots taken by the current template
	res              Result
}

func (s *rollout) observe() {
	for i := range s.in.Pods {
		p := &s.in.Pods[i]
		if p.TemplateHash == s.hash {
			s.used[podSlot(p.Name)] = true
		}
		switch {
		case p.Deleting:
			if p.TemplateHash != s.hash {
				s.terminatingOld++
			}
		case p.finished():
			// Self-heal: a pod that ended is replaced, as a ReplicaSet
			// replaces it.
			s.delete(p, DeleteFinished)
		case p.TemplateHash == s.hash:
			s.newPods = append(s.newPods, p)
		default:
			s.oldPods = append(s.oldPods, p)
		}
	}
}

func (s *rollout) delete(p *ObservedPod, why DeleteReason) {
	s.res.Delete = append(s.res.Delete, PodRef{Name: p.Name, UID: p.UID, Reason: why})
}

func (s *rollout) create(n int) {
	for slot := 0; n > 0; slot++ {
		if s.used[slot] {
			continue
		}
		s.used[slot] = true
		s.res.Create = append(s.res.Create, PodName(s.d.Name, s.hash, slot))
		n--
	}
}

func (s *rollout) available(ps []*ObservedPod) int {
	n := 0
	for _, p := range ps {
		if p.available(s.minReady, s.now) {
			n++
		}
	}
	return n
}

// recreate removes every old pod, and makes new ones only once no old pod
// is left running or terminating.
func (s *rollout) recreate() {
	if len(s.oldPods) > 0 {
		for _, p := range s.oldPods {
			s.delete(p, DeleteScaledDown)
		}
		s.oldPods = nil
		return
	}
	if s.terminatingOld == 0 && len(s.newPods) < s.prm.Replicas {
		s.create(s.prm.Replicas - len(s.newPods))
	}
}

// rollingUpdate is Kubernetes' rolloutRolling: scale the new pods up within
// replicas+maxSurge, then scale old pods down as far as
// replicas-maxUnavailable allows. How many old pods go is arithmetic on
// counts; which go is scaleDownOrder, so unavailable ones go first.
func (s *rollout) rollingUpdate() {
	replicas := s.prm.Replicas
	total := len(s.newPods) + len(s.oldPods)
	if len(s.newPods) < replicas {
		if n := min(replicas-len(s.newPods), replicas+s.prm.MaxSurge-total); n > 0 {
			s.create(n)
		}
	}
	minAvailable := replicas - s.prm.MaxUnavailable
	newUnavailable := len(s.newPods) - s.available(s.newPods)
	oldUnavailable := len(s.oldPods) - s.available(s.oldPods)
	// cleanupUnhealthyReplicas: old pods that are not available cost
	// nothing to remove, up to what keeps the whole set at minAvailable.
	cleanup := max(0, min(total-minAvailable-newUnavailable, oldUnavailable))
	// scaleDownOldReplicaSetsForRollingUpdate: then available old pods, as
	// far as availability allows.
	scaleDown := max(0, s.available(s.newPods)+s.available(s.oldPods)-minAvailable)
	n := min(len(s.oldPods), cleanup+scaleDown)
	scaleDownOrder(s.oldPods, s.minReady, s.now)
	for _, p := range s.oldPods[:n] {
		s.delete(p, DeleteScaledDown)
	}
	s.oldPods = s.oldPods[n:]
}

// scaleDownNew removes new pods beyond replicas (the replica count went
// down), cheapest first.
func (s *rollout) scaleDownNew() {
	surplus := len(s.newPods) - s.prm.Replicas
	if surplus <= 0 {
		return
	}
	scaleDownOrder(s.newPods, s.minReady, s.now)
	for _, p := range s.newPods[:surplus] {
		s.delete(p, DeleteScaledDown)
	}
	s.newPods = s.newPods[surplus:]
}

// status reports the pods that stay (before the pods this sync creates),
// the conditions and when to look again.
func (s *rollout) status() {
	prev := s.in.State
	st := &s.res.State
	*st = prev
	if st.Created.IsZero() {
		st.Created = s.now
	}
	replicas := s.prm.Replicas
	all := append(slices.Clip(s.newPods), s.oldPods...)
	status := appsv1.DeploymentStatus{
		ObservedGeneration: max(s.d.Generation, 1),
		Replicas:           int32(len(all)),
		UpdatedReplicas:    int32(len(s.newPods)),
	}
	for _, p := range all {
		if p.Ready {
			status.ReadyReplicas++
		}
		if p.available(s.minReady, s.now) {
			status.AvailableReplicas++
		} else if p.Ready && !p.ReadySince.IsZero() {
			// Ready but not yet for minReadySeconds: look again then.
			s.requeue(p.ReadySince.Add(s.minReady))
		}
	}
	status.UnavailableReplicas = max(0, int32(replicas)-status.AvailableReplicas)

	complete := len(s.oldPods) == 0 && s.terminatingOld == 0 &&
		status.UpdatedReplicas == int32(replicas) && status.AvailableReplicas == int32(replicas)
	progressed := prev.TemplateHash != s.hash ||
		status.UpdatedReplicas != prev.Status.UpdatedReplicas ||
		status.AvailableReplicas != prev.Status.AvailableReplicas ||
		status.Replicas != prev.Status.Replicas ||
		len(s.res.Create) > 0
	if prev.TemplateHash != s.hash && prev.TemplateHash != "" {
		s.event(corev1.EventTypeNormal, ReasonScalingReplicaSet, "rolling out template "+s.hash)
	}
	if progressed || st.LastProgress.IsZero() {
		st.LastProgress = s.now
	}
	if prev.TemplateHash != s.hash {
		st.RolloutRevision++
	}
	// a state from before rollout revisions has rolled out once at least
	st.RolloutRevision = max(st.RolloutRevision, 1)
	st.TemplateHash = s.hash

	availCond := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}
	if int(status.AvailableReplicas) < replicas-s.prm.MaxUnavailable {
		availCond.Status, availCond.Reason, availCond.Message = corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	prog := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue}
	deadline := DefaultProgressDeadline
	if pd := s.d.Spec.ProgressDeadlineSeconds; pd != nil {
		deadline = time.Duration(*pd) * time.Second
	}
	switch {
	case complete:
		prog.Reason, prog.Message = "NewReplicaSetAvailable", fmt.Sprintf("Deployment %q has successfully progressed.", s.d.Name)
	case s.now.Sub(st.LastProgress) >= deadline:
		prog.Status, prog.Reason, prog.Message = corev1.ConditionFalse, ReasonProgressDeadlineExceeded, fmt.Sprintf("Deployment %q has timed out progressing.", s.d.Name)
		if c := FindCondition(prev.Status.Conditions, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonProgressDeadlineExceeded {
			s.event(corev1.EventTypeWarning, ReasonProgressDeadlineExceeded, prog.Message)
		}
	default:
		prog.Reason, prog.Message = "ReplicaSetUpdated", fmt.Sprintf("Deployment %q is progressing: %d of %d updated replicas are available.", s.d.Name, min(status.AvailableReplicas, status.UpdatedReplicas), replicas)
		s.requeue(st.LastProgress.Add(deadline))
	}
	status.Conditions = []appsv1.DeploymentCondition{
		keepTransition(prev.Status.Conditions, availCond, s.now),
		keepTransition(prev.Status.Conditions, prog, s.now),
	}
	st.Status = status
}

func (s *rollout) event(typ, reason, msg string) {
	s.res.Events = append(s.res.Events, Event{Type: typ, Reason: reason, Message: msg})
}

func (s *rollout) requeue(at time.Time) {
	if s.res.RequeueAt.IsZero() || at.Before(s.res.RequeueAt) {
		s.res.RequeueAt = at
	}
}

// FindCondition returns the condition of type t, or nil.
func FindCondition(cs []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// keepTransition keeps a condition's transition time while its status
// stays the same, and its update time while nothing about it changes, as
// Kubernetes does.
func keepTransition(prev []appsv1.DeploymentCondition, c appsv1.DeploymentCondition, now time.Time) appsv1.DeploymentCondition {
	c.LastUpdateTime = metav1.NewTime(now)
	c.LastTransitionTime = metav1.NewTime(now)
	if old := FindCondition(prev, c.Type); old != nil {
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			c.LastUpdateTime = old.LastUpdateTime
		}
	}
	return c
}
