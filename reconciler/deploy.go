package reconciler

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// rolloutPlan is what one pass of the Deployment controller decides:
// which pods to create at the new template, which to remove, and the
// status. It is computed by planRollout, a pure function, so the rollout
// rules can be tested without a store or a clock.
type rolloutPlan struct {
	create []string // names of pods to create from the current template
	delete []*PodRecord
	record DeploymentRecord
	// wakeAt is when the plan may change with nothing else changing: a pod
	// passing minReadySeconds, the progress deadline.
	wakeAt time.Time
	events []string // "Reason: message"
}

// rolloutParams resolves maxSurge and maxUnavailable against replicas the
// way Kubernetes does: surge rounds up, unavailable rounds down, and both
// zero means one may be unavailable.
func rolloutParams(d *appsv1.Deployment) (replicas, surge, unavailable int) {
	replicas = 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return replicas, 0, replicas
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
	surge, _ = intstr.GetScaledValueFromIntOrPercent(&ms, replicas, true)
	unavailable, _ = intstr.GetScaledValueFromIntOrPercent(&mu, replicas, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return replicas, surge, unavailable
}

// deploymentPodName is <deployment>-<template hash>-<slot>: deterministic,
// so creating the same pod twice is impossible, and different for every
// template, so old and new pods of a rollout never share a name.
func deploymentPodName(deploy, hash string, slot int) string {
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

// planRollout runs the Deployment controller once. pods are all pods the
// Deployment owns, being deleted or not; prev is its record (zero value
// for a new Deployment).
func planRollout(d *appsv1.Deployment, hash string, pods []*PodRecord, prev DeploymentRecord, now time.Time) rolloutPlan {
	replicas, surge, maxUnavailable := rolloutParams(d)
	minReady := time.Duration(d.Spec.MinReadySeconds) * time.Second
	plan := rolloutPlan{record: prev}
	plan.record.Namespace, plan.record.Name = d.Namespace, d.Name
	if plan.record.Created.IsZero() {
		plan.record.Created = now
	}

	var newPods, oldPods []*PodRecord
	usedSlots := map[int]bool{}
	terminatingOld := 0
	for _, p := range pods {
		if p.TemplateHash == hash {
			usedSlots[podSlot(p.Pod.Name)] = true
		}
		if p.deleting() {
			if p.TemplateHash != hash {
				terminatingOld++
			}
			continue
		}
		// Self-heal: a Deployment's pod that ended (its node lost it, or
		// it failed past its restart policy) is replaced, as a ReplicaSet
		// replaces it.
		if p.finished() {
			plan.delete = append(plan.delete, p)
			continue
		}
		if p.TemplateHash == hash {
			newPods = append(newPods, p)
		} else {
			oldPods = append(oldPods, p)
		}
	}
	avail := func(ps []*PodRecord) int {
		n := 0
		for _, p := range ps {
			if p.available(minReady, now) {
				n++
			}
		}
		return n
	}
	// Unready and younger pods go first, as a ReplicaSet scales down.
	byCost := func(ps []*PodRecord) {
		sort.SliceStable(ps, func(i, j int) bool {
			ai, aj := ps[i].available(minReady, now), ps[j].available(minReady, now)
			if ai != aj {
				return !ai
			}
			if !ps[i].bound() || !ps[j].bound() {
				return !ps[i].bound() && ps[j].bound()
			}
			return ps[i].Created.After(ps[j].Created)
		})
	}
	create := func(n int) {
		for slot := 0; n > 0; slot++ {
			if usedSlots[slot] {
				continue
			}
			usedSlots[slot] = true
			plan.create = append(plan.create, deploymentPodName(d.Name, hash, slot))
			n--
		}
	}

	switch {
	case d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType:
		if len(oldPods) > 0 {
			plan.delete = append(plan.delete, oldPods...)
			oldPods = nil
		} else if terminatingOld == 0 && len(newPods) < replicas {
			create(replicas - len(newPods))
		}
	default:
		total := len(newPods) + len(oldPods)
		if len(newPods) < replicas {
			if n := min(replicas-len(newPods), replicas+surge-total); n > 0 {
				create(n)
			}
		}
		minAvailable := replicas - maxUnavailable
		newUnavailable := len(newPods) - avail(newPods)
		// Old pods that are not available cost nothing to remove, up to
		// what keeps the whole set at minAvailable.
		maxScaledDown := total - minAvailable - newUnavailable
		byCost(oldPods)
		kept := oldPods[:0:0]
		for _, p := range oldPods {
			if maxScaledDown > 0 && !p.available(minReady, now) {
				plan.delete = append(plan.delete, p)
				maxScaledDown--
				continue
			}
			kept = append(kept, p)
		}
		oldPods = kept
		// Then available old pods, as far as availability allows.
		canScaleDown := avail(newPods) + avail(oldPods) - minAvailable
		for len(oldPods) > 0 && canScaleDown > 0 {
			plan.delete = append(plan.delete, oldPods[0])
			oldPods = oldPods[1:]
			canScaleDown--
		}
	}
	if len(newPods) > replicas {
		byCost(newPods)
		surplus := len(newPods) - replicas
		plan.delete = append(plan.delete, newPods[:surplus]...)
		newPods = newPods[surplus:]
	}

	// Status, from the pods as they are now (not as the plan will make
	// them), as the Deployment controller reports it.
	all := append(append([]*PodRecord{}, newPods...), oldPods...)
	st := appsv1.DeploymentStatus{
		Replicas:        int32(len(all)),
		UpdatedReplicas: int32(len(newPods)),
	}
	for _, p := range all {
		if p.ready() {
			st.ReadyReplicas++
		}
		if p.available(minReady, now) {
			st.AvailableReplicas++
		} else if p.ready() {
			// Ready but not yet for minReadySeconds: look again then.
			plan.wakeAt = earliest(plan.wakeAt, p.readySince().Add(minReady))
		}
	}
	st.UnavailableReplicas = max(0, int32(replicas)-st.AvailableReplicas)

	complete := len(oldPods) == 0 && terminatingOld == 0 && st.UpdatedReplicas == int32(replicas) && st.AvailableReplicas == int32(replicas)
	progressed := prev.TemplateHash != hash ||
		st.UpdatedReplicas != prev.Status.UpdatedReplicas ||
		st.AvailableReplicas != prev.Status.AvailableReplicas ||
		st.Replicas != prev.Status.Replicas ||
		len(plan.create) > 0
	if prev.TemplateHash != hash && prev.TemplateHash != "" {
		plan.events = append(plan.events, fmt.Sprintf("ScalingReplicaSet: rolling out template %s", hash))
	}
	if progressed || plan.record.LastProgress.IsZero() {
		plan.record.LastProgress = now
	}
	plan.record.TemplateHash = hash

	availCond := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}
	if int(st.AvailableReplicas) < replicas-maxUnavailable {
		availCond.Status, availCond.Reason, availCond.Message = corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	prog := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue}
	deadline := time.Duration(600) * time.Second
	if d.Spec.ProgressDeadlineSeconds != nil {
		deadline = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	switch {
	case complete:
		prog.Reason, prog.Message = "NewReplicaSetAvailable", fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
	case now.Sub(plan.record.LastProgress) >= deadline:
		prog.Status, prog.Reason, prog.Message = corev1.ConditionFalse, "ProgressDeadlineExceeded", fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
		if cond := findDeployCondition(prev.Status.Conditions, appsv1.DeploymentProgressing); cond == nil || cond.Reason != "ProgressDeadlineExceeded" {
			plan.events = append(plan.events, "ProgressDeadlineExceeded: "+prog.Message)
		}
	default:
		prog.Reason, prog.Message = "ReplicaSetUpdated", fmt.Sprintf("Deployment %q is progressing: %d of %d updated replicas are available.", d.Name, min(st.AvailableReplicas, st.UpdatedReplicas), replicas)
		plan.wakeAt = earliest(plan.wakeAt, plan.record.LastProgress.Add(deadline))
	}
	st.Conditions = []appsv1.DeploymentCondition{
		keepTransition(prev.Status.Conditions, availCond, now),
		keepTransition(prev.Status.Conditions, prog, now),
	}
	plan.record.Status = st
	return plan
}

func findDeployCondition(cs []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// keepTransition keeps a condition's transition time while its status
// stays the same, as Kubernetes does.
func keepTransition(prev []appsv1.DeploymentCondition, c appsv1.DeploymentCondition, now time.Time) appsv1.DeploymentCondition {
	c.LastUpdateTime = metav1.NewTime(now)
	c.LastTransitionTime = metav1.NewTime(now)
	if old := findDeployCondition(prev, c.Type); old != nil {
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			c.LastUpdateTime = old.LastUpdateTime
		}
	}
	return c
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
