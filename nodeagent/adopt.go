package nodeagent

import (
	"context"
	"fmt"
	"strconv"

	"github.com/containerd/containerd"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// adopt rebuilds the worker's view of its pod from containerd's labelled
// objects, so an agent that restarts continues where the last one stopped:
// running tasks are followed, not restarted; exits that happened while no
// agent ran are recorded; attempt numbers (restart counts) carry on.
func (w *podWorker) adopt(ctx context.Context) error {
	cs, err := w.a.client.Containers(ctx, fmt.Sprintf("labels.%q==%q", LabelPodUID, w.uid))
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			return fmt.Errorf("labels of %s: %w", c.ID(), err)
		}
		switch labels[LabelRole] {
		case roleSandbox:
			w.adoptSandbox(ctx, c, labels)
		case roleContainer:
			if err := w.adoptContainer(ctx, c, labels); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *podWorker) adoptSandbox(ctx context.Context, c containerd.Container, labels map[string]string) {
	task, err := c.Task(ctx, nil)
	if err != nil {
		return // no live pause: the next sync replaces the sandbox
	}
	st, err := task.Status(ctx)
	if err != nil || st.Status != containerd.Running {
		return
	}
	pid := task.Pid()
	if pid == 0 {
		// containerd answers a Get whose shim did not reply within its
		// state timeout with an unknown process of PID 0 rather than an
		// error (seen after an agent was SIGKILLed on a loaded node):
		// containers joined to /proc/0/ns/* could never start. Ask again
		// now that the shim answered Status.
		if again, err := c.Task(ctx, nil); err == nil {
			task, pid = again, again.Pid()
		}
	}
	if pid == 0 {
		w.log.Warn("pause container's PID unknown; replacing the sandbox")
		return
	}
	h, err := w.a.watch(task, w.wake)
	if err != nil {
		return
	}
	w.sb = &sandbox{id: c.ID(), netnsPath: labels[LabelNetNS], ip: labels[LabelIP], pid: pid, task: h}
	w.startTime = labelTime(labels, LabelStartedAt)
	if info, err := c.Info(ctx); err == nil && w.startTime.IsZero() {
		w.startTime = info.CreatedAt // a sandbox of an older agent
	}
	w.log.Info("adopted sandbox", "ip", w.sb.ip)
}

func (w *podWorker) adoptContainer(ctx context.Context, c containerd.Container, labels map[string]string) error {
	name := labels[LabelContainer]
	attempt, err := strconv.Atoi(labels[LabelAttempt])
	if name == "" || err != nil {
		return w.a.deleteContainer(ctx, c)
	}
	cr := w.ctrs[name]
	if cr == nil {
		// Not in the spec (an orphan's container): known by its labels.
		cr = &ctr{spec: &corev1.Container{Name: name}, kind: labels[LabelKind], attempt: -1}
		w.ctrs[name] = cr
	}
	if attempt < cr.attempt {
		return w.a.deleteContainer(ctx, c) // an older instance a crash left
	}
	if cr.cont != nil {
		if err := w.a.deleteContainer(ctx, cr.cont); err != nil {
			return err
		}
	}
	cr.attempt, cr.cont, cr.task, cr.term = attempt, c, nil, nil
	cr.startedAt = labelTime(labels, LabelStartedAt)
	// The agent writes the task's log from its FIFOs: attach to them again
	// (an exited task's last output is copied before its exit is recorded).
	logPath := w.a.LogPath(labels[LabelPodNS], labels[LabelPodName], w.uid, name, attempt)
	task, err := c.Task(ctx, logAttach(logPath))
	if err == nil {
		st, err := task.Status(ctx)
		if err != nil {
			return fmt.Errorf("status of %s: %w", c.ID(), err)
		}
		switch st.Status {
		case containerd.Running, containerd.Paused, containerd.Pausing:
			h, err := w.a.watch(task, w.wake)
			if err != nil {
				return err
			}
			cr.task = h
			id := c.ID()
			cr.liveID.Store(&id)
			return nil
		default:
			// Exited while no agent watched: record it as if we had.
			h := &taskHandle{task: task, done: make(chan struct{})}
			h.status = *containerd.NewExitStatus(st.ExitStatus, st.ExitTime, nil)
			close(h.done)
			cr.task = h
			w.recordExit(ctx, cr)
			return nil
		}
	}
	if code, err := strconv.Atoi(labels[LabelExitCode]); err == nil {
		cr.term = &corev1.ContainerStateTerminated{
			ExitCode:    int32(code),
			Reason:      labels[LabelReason],
			StartedAt:   metav1.NewTime(cr.startedAt),
			FinishedAt:  metav1.NewTime(labelTime(labels, LabelFinishedAt)),
			ContainerID: "containerd://" + c.ID(),
		}
		cr.exitSeen = cr.term.FinishedAt.Time
	}
	return nil
}
