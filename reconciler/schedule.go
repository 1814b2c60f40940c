package reconciler

import (
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/scheduler"
)

// schedulerNode is the scheduler's view of a node record.
func schedulerNode(n *NodeRecord) scheduler.Node {
	sn := scheduler.Node{
		Name:          n.Name,
		Generation:    n.Generation,
		Labels:        n.Labels,
		Allocatable:   n.Allocatable,
		Taints:        n.Taints,
		Ready:         n.Ready,
		Unschedulable: n.Unschedulable,
	}
	if q, ok := n.Allocatable[api.ResourceClaimStorage]; ok {
		sn.StorageCapacity = q.Value()
	}
	return sn
}

// holdsCapacity reports whether a bound pod still holds its requests on
// its node: a pod being stopped does until its node reports it gone, a
// pod that ran to its end does not (as in Kubernetes).
func (p *PodRecord) holdsCapacity() bool { return p.bound() && !p.finished() }

// pending reports whether the pod waits for a node.
func (p *PodRecord) pending() bool { return !p.bound() && !p.deleting() && !p.finished() }

// schedule places every pending pod. The plan is computed on a read-only
// view and committed in one transaction that first checks every node the
// plan uses is at the generation the plan saw (scheduler.Plan.Verify); if
// one moved, nothing is committed and an error wrapping scheduler.ErrStale
// tells the caller to place the batch again.
//
// view, when not nil, is what the pass just read; otherwise it is read.
func (r *Reconciler) schedule(view *clusterView, now time.Time) error {
	if view == nil {
		view = &clusterView{}
		err := r.cfg.Store.View(func(tx ReadTx) error {
			var err error
			if view.nodes, err = tx.Nodes(); err != nil {
				return err
			}
			if view.pods, err = tx.Pods(); err != nil {
				return err
			}
			view.claims, err = tx.Claims()
			return err
		})
		if err != nil {
			return err
		}
	}
	var pending []*corev1.Pod
	cluster := scheduler.Cluster{Claims: schedulerClaims(view.claims)}
	for _, n := range view.nodes {
		cluster.Nodes = append(cluster.Nodes, schedulerNode(n))
	}
	for _, p := range view.pods {
		switch {
		case p.holdsCapacity():
			cluster.Bound = append(cluster.Bound, scheduler.Bound{Pod: &p.Pod, Node: p.Pod.Spec.NodeName})
		case p.pending():
			pending = append(pending, &p.Pod)
		}
	}
	if len(pending) == 0 {
		observePlan(nil, now)
		return nil
	}
	// Pods in the same order every pass, so a plan can be replayed.
	sort.Slice(pending, func(i, j int) bool {
		if pending[i].Namespace != pending[j].Namespace {
			return pending[i].Namespace < pending[j].Namespace
		}
		return pending[i].Name < pending[j].Name
	})
	plan, err := scheduler.Place(pending, cluster, scheduler.Options{Strategy: r.cfg.Strategy})
	if err != nil {
		return fmt.Errorf("place %d pods: %w", len(pending), err)
	}
	return r.commitPlan(plan, now)
}

func (r *Reconciler) commitPlan(plan *scheduler.Plan, now time.Time) error {
	bound := 0
	commit := func(tx Tx) error {
		bound = 0
		// The scheduler's own check: every node that receives a binding is
		// still at the generation the plan saw. Readiness is a scheduling
		// fact, so a node that went NotReady has moved on too.
		var readErr error
		stale := plan.Verify(func(name string) (uint64, bool) {
			n, err := tx.Node(name)
			if err != nil {
				if !errors.Is(err, ErrNotFound) {
					readErr = err
				}
				return 0, false
			}
			return n.Generation, true
		})
		if readErr != nil {
			return fmt.Errorf("verify plan: %w", readErr)
		}
		if stale != nil {
			return stale
		}
		for _, b := range plan.Bindings {
			p, err := tx.Pod(b.Pod.Namespace, b.Pod.Name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.Pod.UID != b.Pod.UID || !p.pending() {
				continue // changed since the view: the next pass sees it
			}
			p.Pod.Spec.NodeName = b.Node
			p.Unschedulable = ""
			setPodCondition(&p.Pod, corev1.PodScheduled, corev1.ConditionTrue, "", "", now)
			if err := tx.PutPod(p); err != nil {
				return err
			}
			bound++
			msg := fmt.Sprintf("Successfully assigned %s/%s to %s", p.Pod.Namespace, p.Pod.Name, b.Node)
			if err := tx.AddEvent(event(now, "Normal", "Scheduled", "Pod", p.Pod.Namespace, p.Pod.Name, msg)); err != nil {
				return err
			}
		}
		if err := bindClaims(tx, plan.ClaimNodes, now); err != nil {
			return err
		}
		for _, u := range plan.Unplaced {
			p, err := tx.Pod(u.Pod.Namespace, u.Pod.Name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.Pod.UID != u.Pod.UID || p.Unschedulable == u.Message {
				continue
			}
			p.Unschedulable = u.Message
			setPodCondition(&p.Pod, corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable", u.Message, now)
			if err := tx.PutPod(p); err != nil {
				return err
			}
			if err := tx.AddEvent(event(now, "Warning", "FailedScheduling", "Pod", p.Pod.Namespace, p.Pod.Name, u.Message)); err != nil {
				return err
			}
		}
		return nil
	}
	// Pods no node fits stay unplaced pass after pass with the same
	// message: rehearse read-only, and open a write transaction (a disk
	// sync) only if the plan changes something.
	err := r.cfg.Store.View(func(tx ReadTx) error { return commit(rehearsalTx{tx}) })
	if errors.Is(err, errWouldWrite) {
		err = r.cfg.Store.Update(commit)
	}
	if err == nil {
		observePlan(plan, now)
	}
	if err == nil && bound > 0 {
		r.log.Info("bound pods", "count", bound, "unplaced", len(plan.Unplaced))
	}
	return err
}

func setPodCondition(p *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) {
	c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)}
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			if p.Status.Conditions[i].Status == s {
				c.LastTransitionTime = p.Status.Conditions[i].LastTransitionTime
			}
			p.Status.Conditions[i] = c
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, c)
}
