package nodeagent

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// publish computes the pod's status from the worker's state and stores it
// for Status to read.
func (w *podWorker) publish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod
	now := metav1.NewTime(w.a.cfg.Clock.Now())
	st := corev1.PodStatus{
		Phase:   corev1.PodPending,
		Reason:  w.podReason,
		Message: w.podMessage,
	}
	if !w.startTime.IsZero() {
		t := metav1.NewTime(w.startTime)
		st.StartTime = &t
	}
	if w.sb != nil && !w.sb.task.exited() {
		st.PodIP = w.sb.ip
		st.PodIPs = []corev1.PodIP{{IP: w.sb.ip}}
	}
	for i := range pod.Spec.InitContainers {
		if c := w.ctrs[pod.Spec.InitContainers[i].Name]; c != nil {
			st.InitContainerStatuses = append(st.InitContainerStatuses, c.status(w.initialized))
		}
	}
	for i := range pod.Spec.Containers {
		if c := w.ctrs[pod.Spec.Containers[i].Name]; c != nil {
			waitReason := reasonContainerCreating
			if !w.initialized && len(pod.Spec.InitContainers) > 0 {
				waitReason = reasonPodInitializing
			}
			st.ContainerStatuses = append(st.ContainerStatuses, c.statusWaiting(waitReason))
		}
	}
	st.Phase = w.phase(pod)

	allReady := len(st.ContainerStatuses) > 0
	for _, cs := range st.ContainerStatuses {
		allReady = allReady && cs.Ready
	}
	for _, cs := range st.InitContainerStatuses {
		if w.ctrs[cs.Name] != nil && w.ctrs[cs.Name].kind == kindSidecar {
			allReady = allReady && cs.Ready
		}
	}
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, LastTransitionTime: now}
		if ok {
			c.Status, c.Reason = corev1.ConditionTrue, ""
		}
		// Keep the transition time while the status does not change.
		for _, old := range w.status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	sandboxReady := w.sb != nil && !w.sb.task.exited()
	initialized := w.initialized || st.Phase == corev1.PodSucceeded
	st.Conditions = []corev1.PodCondition{
		cond("PodReadyToStartContainers", sandboxReady, ""),
		cond(corev1.PodInitialized, initialized, "ContainersNotInitialized"),
		cond(corev1.ContainersReady, allReady, "ContainersNotReady"),
		cond(corev1.PodReady, allReady, "ContainersNotReady"),
		cond(corev1.PodScheduled, true, ""),
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		st.Conditions[2] = cond(corev1.ContainersReady, false, "PodCompleted")
		st.Conditions[3] = cond(corev1.PodReady, false, "PodCompleted")
	}
	w.status = st
}

// phase follows Kubernetes' rules: Pending until every app container has
// started; Succeeded or Failed once all have ended for good; otherwise
// Running.
func (w *podWorker) phase(pod *corev1.Pod) corev1.PodPhase {
	if w.finished {
		if w.podReason != "" {
			return corev1.PodFailed
		}
		for i := range pod.Spec.Containers {
			c := w.ctrs[pod.Spec.Containers[i].Name]
			if c == nil || c.term == nil || c.term.ExitCode != 0 {
				return corev1.PodFailed
			}
		}
		return corev1.PodSucceeded
	}
	if !w.initialized || w.sb == nil {
		return corev1.PodPending
	}
	for i := range pod.Spec.Containers {
		c := w.ctrs[pod.Spec.Containers[i].Name]
		if c == nil || (!c.running() && c.term == nil) {
			return corev1.PodPending
		}
	}
	return corev1.PodRunning
}

func (c *ctr) status(initialized bool) corev1.ContainerStatus {
	reason := reasonPodInitializing
	if initialized {
		reason = reasonContainerCreating
	}
	return c.statusWaiting(reason)
}

// statusWaiting reports the container; waitReason is used when it has
// never started and has no reason of its own.
func (c *ctr) statusWaiting(waitReason string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		RestartCount: int32(max(c.attempt, 0)),
	}
	if c.cont != nil {
		cs.ContainerID = "containerd://" + c.cont.ID()
	}
	if c.last != nil {
		cs.LastTerminationState.Terminated = c.last.DeepCopy()
	}
	switch {
	case c.running():
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		started := c.started()
		cs.Started = &started
		cs.Ready = c.ready()
	case c.waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting, Message: c.waitMsg}
		if c.term != nil {
			cs.LastTerminationState.Terminated = c.term.DeepCopy()
		}
	case c.term != nil:
		cs.State.Terminated = c.term.DeepCopy()
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitReason}
	}
	if cs.Started == nil {
		f := false
		cs.Started = &f
	}
	return cs
}
