package reconciler

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/metrics"
)

// PodReports takes in what the agents observed of their pods: it stores a
// changed status, keeps ReadySince for minReadySeconds, records the
// kubelet's events that can be read off the change, and deletes a pod
// being removed once its node says it is gone.
type PodReports struct {
	store Store
	clock clock.PassiveClock
}

// NewPodReports returns the sink of agents' status reports over store;
// clk stamps StatusTime and events (nil: the real clock).
func NewPodReports(store Store, clk clock.PassiveClock) *PodReports {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &PodReports{store: store, clock: clk}
}

// Report applies node's report, for the pods bound to it, in one
// transaction; any other pod is ignored and named in Drop, so the agent
// forgets it.
func (p *PodReports) Report(node string, rep *api.PodStatusReport) (*api.PodStatusResponse, error) {
	now := p.clock.Now().UTC()
	var resp api.PodStatusResponse
	errTooBig := errors.New("too big")
	var fences []api.Fence // the new ones, recorded
	err := p.store.Update(func(tx Tx) error {
		resp.Drop = nil
		total := 0
		if err := claimsDeleted(tx, node, rep.ClaimsDeleted, now); err != nil {
			return err
		}
		var err error
		if fences, err = fenceEvents(tx, node, rep.Fences, now); err != nil {
			return err
		}
		for _, p := range rep.Pods {
			rec, err := tx.Pod(p.Namespace, p.Name)
			if errors.Is(err, ErrNotFound) || err == nil && (string(rec.Pod.UID) != p.UID || rec.Pod.Spec.NodeName != node) {
				resp.Drop = append(resp.Drop, p.UID)
				continue
			}
			if err != nil {
				return err
			}
			if p.Gone {
				// Only a pod being deleted may go; a wanted pod the node
				// lost is the loop's to replace, from its status.
				if rec.Pod.DeletionTimestamp != nil {
					if err := tx.DeletePod(p.Namespace, p.Name); err != nil {
						return err
					}
					resp.Drop = append(resp.Drop, p.UID)
				}
				continue
			}
			st := p.Status
			boundPodStatus(&rec.Pod.Spec, &st)
			b, _ := json.Marshal(&st)
			if total += len(b); total > MaxNodeStatusBytes {
				return errTooBig
			}
			if err := applyPodStatus(tx, rec, st, now); err != nil {
				return err
			}
		}
		for i := range rep.Events {
			if i == MaxNodeEvents {
				break
			}
			if err := nodeEvent(tx, node, rep.Events[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errTooBig) {
		return nil, &api.Error{Code: http.StatusRequestEntityTooLarge, Reason: "RequestEntityTooLarge",
			Message: fmt.Sprintf("the statuses of node %s's pods exceed %d bytes even with every message truncated", node, MaxNodeStatusBytes)}
	}
	if err != nil {
		return nil, fmt.Errorf("status report of %s: %w", node, err)
	}
	for _, f := range fences {
		metrics.NodeFences.WithLabelValues(node).Inc()
		metrics.NodeFencedPods.WithLabelValues(node).Add(float64(len(f.Pods)))
	}
	return &resp, nil
}

// MaxNodeEvents is how many events one status report may add; the rest
// are dropped.
const MaxNodeEvents = 256

// nodeEvent keeps an event an agent recorded about a pod, as the
// NodeRestriction admission plugin lets a kubelet write only events of
// its own pods: a Normal or Warning event of a pod bound to that node,
// stamped with the server's clock. Anything else is dropped.
func nodeEvent(tx Tx, node string, e api.Event, now time.Time) error {
	if e.Kind != "Pod" || e.Reason == "" || (e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning) {
		return nil
	}
	rec, err := tx.Pod(e.Namespace, e.Name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Pod.Spec.NodeName != node {
		return nil
	}
	e.Time, e.Count = now, 0
	return tx.AddEvent(e)
}

// fenceEvents records each fence a node reports (package fencing) as a
// Fenced event of the node, and of each pod it stopped that the server
// still holds with that UID, bound to the node or unbound since (a Job's
// pod lost with it): a node writes nothing about pods it was never given.
// A moved pod the server forgot is named in the node's event only. A fence
// whose ID the node's record holds was recorded before and is skipped; it
// returns the fences it recorded.
func fenceEvents(tx Tx, node string, fences []api.Fence, now time.Time) ([]api.Fence, error) {
	if len(fences) == 0 {
		return nil, nil
	}
	rec, err := tx.Node(node)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var recorded []api.Fence
	for _, f := range boundFences(fences) {
		if f.ID != "" && rec != nil {
			if slices.Contains(rec.FenceIDs, f.ID) {
				continue
			}
			rec.FenceIDs = append(rec.FenceIDs, f.ID)
		}
		recorded = append(recorded, f)
		unreachable, lease := max(f.Unreachable.Duration, 0).Round(100*time.Millisecond), max(f.Lease.Duration, 0).Round(100*time.Millisecond)
		names := make([]string, 0, min(len(f.Pods), maxFenceEventNames))
		for _, p := range f.Pods {
			if len(names) < maxFenceEventNames {
				names = append(names, p.Namespace+"/"+p.Name)
			}
			pod, err := tx.Pod(p.Namespace, p.Name)
			if errors.Is(err, ErrNotFound) || err == nil && (string(pod.Pod.UID) != p.UID || pod.Pod.Spec.NodeName != node && pod.Pod.Spec.NodeName != "") {
				continue
			}
			if err != nil {
				return nil, err
			}
			msg := fmt.Sprintf("Stopped by node %s, which could not reach the server for %v, past its lease of %v", node, unreachable, lease)
			if err := tx.AddEvent(api.Event{Time: now, Type: "Warning", Reason: ReasonFenced, Kind: "Pod", Namespace: p.Namespace, Name: p.Name, Message: msg}); err != nil {
				return nil, err
			}
		}
		list := strings.Join(names, ", ")
		if more := len(f.Pods) - len(names); more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		what := fmt.Sprintf("%d pods", len(f.Pods))
		if len(f.Pods) == 1 {
			what = "1 pod"
		}
		msg := fmt.Sprintf("Node %s could not reach the server for %v, past its lease of %v: it stopped %s the server would move", node, unreachable, lease, what)
		if len(f.Pods) > 0 {
			msg += ": " + list
		}
		if err := tx.AddEvent(api.Event{Time: now, Type: "Warning", Reason: ReasonFenced, Kind: "Node", Name: node, Message: msg}); err != nil {
			return nil, err
		}
	}
	if rec != nil && len(recorded) > 0 {
		if n := len(rec.FenceIDs) - maxFenceIDs; n > 0 {
			rec.FenceIDs = slices.Delete(rec.FenceIDs, 0, n)
		}
		if err := tx.PutNode(rec); err != nil {
			return nil, err
		}
	}
	return recorded, nil
}

// applyPodStatus writes a changed status, keeps ReadySince, and records the
// kubelet's events that can be read off the change.
func applyPodStatus(tx Tx, rec *PodRecord, st corev1.PodStatus, now time.Time) error {
	old := rec.Pod.Status
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(st)
	if string(a) == string(b) {
		return nil
	}
	if rec.finished() && !terminalPhase(st.Phase) {
		// A terminal phase is final (the kubelet's rule): a node that
		// lost a finished pod's sandbox and runs it again must not make
		// a Job's succeeded pod pending or running again.
		return nil
	}
	rec.Pod.Status = st
	rec.StatusTime = now
	if ready := readyCondition(&st); ready != nil && ready.Status == corev1.ConditionTrue {
		if oldReady := readyCondition(&old); rec.ReadySince.IsZero() || oldReady == nil || oldReady.Status != corev1.ConditionTrue {
			rec.ReadySince = ready.LastTransitionTime.UTC()
			if rec.ReadySince.IsZero() {
				rec.ReadySince = now
			}
		}
	} else {
		rec.ReadySince = time.Time{}
	}
	if err := tx.PutPod(rec); err != nil {
		return err
	}
	for _, e := range podStatusEvents(&rec.Pod, &old, now) {
		if err := tx.AddEvent(e); err != nil {
			return err
		}
	}
	return nil
}

func readyCondition(st *corev1.PodStatus) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady {
			return &st.Conditions[i]
		}
	}
	return nil
}

// podStatusEvents derives the kubelet's Pulling, Started, BackOff and Failed
// events from how the containers' states changed.
func podStatusEvents(pod *corev1.Pod, old *corev1.PodStatus, now time.Time) []api.Event {
	prev := map[string]*corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{old.InitContainerStatuses, old.ContainerStatuses} {
		for i := range list {
			prev[list[i].Name] = &list[i]
		}
	}
	var out []api.Event
	ev := func(typ, reason, msg string) {
		out = append(out, api.Event{Time: now, Type: typ, Reason: reason, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Message: msg})
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			cs := &list[i]
			p := prev[cs.Name]
			switch {
			case cs.State.Running != nil:
				if p == nil || p.State.Running == nil || !p.State.Running.StartedAt.Equal(&cs.State.Running.StartedAt) {
					ev("Normal", "Started", fmt.Sprintf("Started container %s", cs.Name))
				}
			case cs.State.Waiting != nil:
				reason := cs.State.Waiting.Reason
				if p != nil && p.State.Waiting != nil && p.State.Waiting.Reason == reason {
					continue
				}
				switch reason {
				case "ContainerCreating", "PodInitializing":
					if p == nil {
						ev("Normal", "Pulling", fmt.Sprintf("Pulling image %q", cs.Image))
					}
				case "CrashLoopBackOff":
					ev("Warning", "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s", cs.Name, pod.Name, pod.Namespace))
				case "ErrImagePull":
					ev("Warning", "Failed", fmt.Sprintf("Failed to pull image %q: %s", cs.Image, cs.State.Waiting.Message))
				case "ImagePullBackOff":
					ev("Normal", "BackOff", fmt.Sprintf("Back-off pulling image %q", cs.Image))
				}
			case cs.State.Terminated != nil:
				if t := cs.State.Terminated; t.Reason == "OOMKilled" && (p == nil || p.State.Terminated == nil) {
					ev("Warning", "OOMKilled", fmt.Sprintf("Container %s was killed: out of memory", cs.Name))
				}
			}
		}
	}
	return out
}
