package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/nodeagent/probe"
)

// Lifecycle hooks, as the kubelet runs them (pkg/kubelet/kuberuntime
// startContainer and killContainer):
//
//   - postStart runs right after the task starts; until it returns the
//     container is not reported running (the worker publishes no status
//     meanwhile) and no later app container starts. If it fails, a Warning
//     FailedPostStartHook event is recorded, the container is stopped (its
//     preStop hook included) and the pod's restart policy decides the rest.
//   - preStop runs before SIGTERM whenever the agent stops a running
//     container (pod removal, a liveness or startup failure, a failed
//     postStart, a finished pod's sidecars), never when a container exits
//     by itself. Hook and SIGTERM share the grace period; a hook that fails
//     or outlives it records a Warning FailedPreStopHook event and the stop
//     goes on. Like the kubelet, SIGTERM then still gets minShutdownGrace
//     ("a small, one-off grace period extension of 2 seconds").
//
// The hooks' exec and httpGet handlers are package probe's.

// Event reasons of the kubelet's (pkg/kubelet/events).
const (
	EventFailedPostStartHook = "FailedPostStartHook"
	EventFailedPreStopHook   = "FailedPreStopHook"
)

// reasonPostStartHookError is the waiting reason of a container whose
// postStart hook failed, until its next attempt starts (the kubelet's
// ErrPostStartHook).
const reasonPostStartHookError = "PostStartHookError"

// minShutdownGrace is the kubelet's minimumGracePeriodInSeconds: what
// SIGTERM gets after a preStop hook that used the grace period up.
const minShutdownGrace = 2 * time.Second

// errPreStopTimeout is the cause of a preStop hook cut off by the grace
// period.
var errPreStopTimeout = errors.New("the grace period ended before the hook finished")

// stopTarget is what stopping needs of a running container: a signal and
// the moment it has exited.
type stopTarget interface {
	signal(ctx context.Context, sig syscall.Signal) error
	exitedCh() <-chan struct{}
	name() string
}

// stopContainer stops one running container the kubelet's way: the preStop
// hook (when preStop is not nil and grace > 0) bounded by grace and cut
// short if the container exits meanwhile; SIGTERM; the rest of the grace
// period (at least minShutdownGrace after a hook); SIGKILL. hookErr is the
// hook's failure or timeout, err what kept the container from stopping.
func stopContainer(ctx context.Context, clk clock.Clock, t stopTarget, preStop func(context.Context) error, grace time.Duration) (hookErr, err error) {
	select {
	case <-t.exitedCh():
		return nil, nil
	default:
	}
	if preStop != nil && grace > 0 {
		start := clk.Now()
		hctx, cancel := probe.WithClockTimeout(ctx, clk, grace, errPreStopTimeout)
		res := make(chan error, 1)
		go func() { res <- preStop(hctx) }()
		select {
		case hookErr = <-res:
		case <-t.exitedCh():
			// The container ended during its hook: nothing is left to
			// stop and the hook is abandoned, not failed.
		case <-hctx.Done():
			hookErr = fmt.Errorf("%w: PreStop hook for container %s: %w", probe.ErrHook, t.name(), context.Cause(hctx))
		}
		cancel()
		select {
		case <-t.exitedCh():
			return hookErr, nil
		default:
		}
		grace = max(grace-clk.Since(start), minShutdownGrace)
	}
	if grace > 0 {
		if err := t.signal(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return hookErr, fmt.Errorf("SIGTERM %s: %w", t.name(), err)
		}
		timer := clk.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-t.exitedCh():
			return hookErr, nil
		case <-timer.C():
		case <-ctx.Done():
			return hookErr, ctx.Err()
		}
	}
	if err := t.signal(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return hookErr, fmt.Errorf("SIGKILL %s: %w", t.name(), err)
	}
	select {
	case <-t.exitedCh():
		return hookErr, nil
	case <-ctx.Done():
		return hookErr, fmt.Errorf("wait for %s after SIGKILL: %w", t.name(), ctx.Err())
	}
}

func (h *taskHandle) signal(ctx context.Context, sig syscall.Signal) error {
	return h.task.Kill(ctx, sig)
}
func (h *taskHandle) exitedCh() <-chan struct{} { return h.done }
func (h *taskHandle) name() string              { return h.task.ID() }

// hookFor returns how c's lifecycle handlers run.
func (w *podWorker) hookFor(pod *corev1.Pod, c *ctr) probe.Hook {
	ip := ""
	if w.sb != nil {
		ip = w.sb.ip
	}
	return probe.Hook{
		Container: c.spec,
		Pod:       fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID),
		PodIP:     ip,
		Exec:      w.execer(c),
		Clock:     w.a.cfg.Clock,
	}
}

// execer runs commands in c's current instance.
func (w *podWorker) execer(c *ctr) containerExecer {
	return containerExecer{a: w.a, id: func() string {
		if id := c.liveID.Load(); id != nil {
			return *id
		}
		return ""
	}}
}

// stopCtr stops c's running instance with its preStop hook, SIGTERM, the
// grace period and SIGKILL; a failed hook is recorded as an event.
func (w *podWorker) stopCtr(ctx context.Context, c *ctr, h *taskHandle, grace time.Duration) error {
	var preStop func(context.Context) error
	if lc := c.spec.Lifecycle; lc != nil && lc.PreStop != nil {
		w.mu.Lock()
		pod := w.pod
		w.mu.Unlock()
		hook, handler := w.hookFor(pod, c), lc.PreStop
		preStop = func(ctx context.Context) error { return hook.Run(ctx, handler) }
	}
	hookErr, err := stopContainer(ctx, w.a.cfg.Clock, h, preStop, grace)
	if hookErr != nil {
		// As the kubelet: the event names the failure, the details (which
		// may hold what the command printed) go to the log only.
		w.log.Warn("preStop hook failed", "container", c.spec.Name, "err", probe.BriefError(hookErr))
		w.event(corev1.EventTypeWarning, EventFailedPreStopHook, fmt.Sprintf("PreStopHook failed for container %s", c.spec.Name))
	}
	return err
}

// postStart runs c's postStart hook, if any, on the instance just
// started, and reports whether the container may go on. The hook ends
// early when the pod stops being wanted. A failure records the event and
// the waiting reason, and stops the container (preStop included), so the
// next pass restarts it by policy.
func (w *podWorker) postStart(ctx context.Context, pod *corev1.Pod, c *ctr) bool {
	if !hasPostStart(c) {
		return true
	}
	lc := c.spec.Lifecycle
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := w.onUnwanted(cancel)
	defer stop()
	err := w.hookFor(pod, c).Run(hctx, lc.PostStart)
	if err == nil {
		return true
	}
	if hctx.Err() != nil {
		// Cut short because the pod is going (or the agent is): the
		// hook did not fail, and tear-down stops the container.
		w.log.Info("postStart hook cut short", "container", c.spec.Name)
		return false
	}
	w.log.Warn("postStart hook failed; stopping the container", "container", c.spec.Name, "err", probe.BriefError(err))
	w.event(corev1.EventTypeWarning, EventFailedPostStartHook, fmt.Sprintf("PostStartHook failed for container %s", c.spec.Name))
	if serr := w.stopCtr(ctx, c, c.task, graceDuration(pod)); serr != nil {
		w.log.Error("stop container after its postStart hook failed", "container", c.spec.Name, "err", serr)
	} else {
		w.recordExit(ctx, c) // never reported running
	}
	// Shown until the next attempt, as the kubelet's reason cache does;
	// the message is the kubelet's, with what the command printed.
	c.waiting, c.waitMsg = reasonPostStartHookError, err.Error()
	return false
}

// onUnwanted calls f once the pod is no longer wanted (or the agent
// stops), until the returned function is called.
func (w *podWorker) onUnwanted(f func()) (stop func()) {
	w.mu.Lock()
	id := w.nextWatch
	w.nextWatch++
	if w.unwanted == nil {
		w.unwanted = map[int]func(){}
	}
	if !w.wanted {
		w.mu.Unlock()
		f()
		return func() {}
	}
	w.unwanted[id] = f
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.unwanted, id)
		w.mu.Unlock()
	}
}

func hasPostStart(c *ctr) bool {
	return c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil
}

// startBatches splits n containers, in spec order, into groups started
// side by side, one group after the other: a container with a postStart
// hook (hook(i)) ends its group, so the containers after it start once
// the hook has returned, as with the kubelet's in-order starts (a
// sidecar's "wait until ready" hook relies on it).
func startBatches(n int, hook func(i int) bool) [][]int {
	var out [][]int
	var cur []int
	for i := range n {
		cur = append(cur, i)
		if hook(i) {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
