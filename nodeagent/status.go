package nodeagent

import (
	"github.com/berth-dev/berth/nodeagent/podstatus"
	"github.com/berth-dev/berth/nodeagent/restart"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// publish computes the pod's status from what the worker observed, with
// package podstatus (the kubelet's rules), and stores it for Status.
func (w *podWorker) publish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod
	obs := podstatus.Observation{
		SandboxReady: w.sb != nil && !w.sb.task.exited(),
		Terminal:     w.finished || !w.wanted,
	}
	if obs.SandboxReady {
		obs.PodIPs = []string{w.sb.ip}
	}
	switch w.podReason {
	case reasonHostPathNotAllowed, reasonVolumeError, reasonSysctlForbidden:
		obs.Rejected = &podstatus.Rejection{Reason: w.podReason, Message: w.podMessage}
	}
	for name, c := range w.ctrs {
		kind, ok := restart.KindOf(&pod.Spec, name)
		if !ok {
			continue // an orphan's container, unknown to the spec at hand
		}
		obs.Containers = append(obs.Containers, c.observe(kind))
	}
	// Generate keeps the previous status' start time; an agent that adopted
	// a running pod has none yet, so start from the sandbox's own.
	if w.status.StartTime == nil && !w.startTime.IsZero() {
		t := metav1.NewTime(w.startTime)
		w.status.StartTime = &t
	}
	st, err := podstatus.Generate(pod, &w.status, obs, w.a.cfg.Clock.Now())
	if err != nil {
		w.log.Error("pod status", "err", err)
		return
	}
	if w.podReason == reasonSandboxCreateError && st.Message == "" {
		st.Reason, st.Message = w.podReason, w.podMessage
	}
	if w.podReason == reasonEvicted {
		evictedStatus(&st, w.podMessage, w.a.cfg.Clock.Now())
	}
	if st.Phase != w.status.Phase {
		w.log.Info("pod phase", "phase", st.Phase, "ip", st.PodIP, "reason", st.Reason)
	}
	w.status = st
}

// observe turns the worker's record of a container into podstatus' terms.
func (c *ctr) observe(kind restart.Kind) podstatus.Container {
	o := podstatus.Container{
		Name:         c.spec.Name,
		Kind:         kind,
		RestartCount: int32(max(c.attempt, 0)),
		Started:      c.started(),
		Ready:        c.ready(),
	}
	if c.cont != nil {
		o.ContainerID = "containerd://" + c.cont.ID()
		o.State = podstatus.StateCreated
	}
	switch {
	case c.running():
		o.State = podstatus.StateRunning
		o.StartedAt = c.startedAt
	case c.term != nil:
		o.State = podstatus.StateExited
		o.ExitCode = c.term.ExitCode
		o.Reason = c.term.Reason
		o.Message = c.term.Message
		o.StartedAt = c.term.StartedAt.Time
		o.FinishedAt = c.term.FinishedAt.Time
	}
	if c.last != nil {
		o.Previous = &podstatus.Termination{
			ExitCode: c.last.ExitCode, Reason: c.last.Reason, Message: c.last.Message,
			StartedAt: c.last.StartedAt.Time, FinishedAt: c.last.FinishedAt.Time,
			ContainerID: c.last.ContainerID,
		}
	}
	if c.waiting != "" {
		o.StartFailure = &podstatus.Waiting{Reason: c.waiting, Message: c.waitMsg}
	}
	return o
}
