package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/nodeagent/podstatus"
	"github.com/berth-dev/berth/nodeagent/probe"
	"github.com/berth-dev/berth/nodeagent/restart"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Container kinds, as labelled on containerd objects.
const (
	kindInit    = "init"
	kindSidecar = "sidecar"
	kindApp     = "app"
)

// Back-off for image pulls and sandbox creation, the kubelet's numbers.
// The crash-loop back-off of containers is package restart's.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
)

// Pod-level reasons; a container's are package podstatus'.
const (
	reasonHostPathNotAllowed  = "HostPathNotAllowed"
	reasonNoStorageDir        = "NoStorageDir"
	reasonVolumeError         = "VolumeError"
	reasonSandboxCreateError  = "SandboxCreateError"
	reasonInitContainerFailed = "InitContainerFailed"
)

// ctr is the agent's view of one container of a pod across its attempts.
type ctr struct {
	spec    *corev1.Container
	kind    string
	attempt int // attempt number of the current (or last) instance; its restartCount

	cont      containerd.Container // current instance, nil before the first start
	task      *taskHandle          // non-nil while running
	startedAt time.Time
	term      *corev1.ContainerStateTerminated // how the current instance ended
	last      *corev1.ContainerStateTerminated // how the previous one ended

	waiting, waitMsg string
	exitSeen         time.Time // on the agent's clock, for the crash-loop back-off
	createBackoff    time.Duration
	retryAt          time.Time
	pullBackoff      time.Duration
	pullRetryAt      time.Time

	prober     *probe.Prober // nil when the container has no probes
	stopProber context.CancelFunc
	// liveID is the containerd ID of the current instance, for exec probes
	// which run on the prober's goroutines.
	liveID atomic.Pointer[string]
}

func (c *ctr) running() bool { return c.task != nil }

func (w *podWorker) anyRunning() bool {
	for _, c := range w.ctrs {
		if c.running() {
			return true
		}
	}
	return false
}

// podWorker drives one pod (by UID) toward its desired state: running
// while wanted, torn down when not. It alone touches the pod's containerd
// objects; Status reads only the snapshot it publishes.
type podWorker struct {
	a    *Agent
	uid  string
	log  *slog.Logger
	wake chan struct{}
	done chan struct{}

	mu     sync.Mutex
	pod    *corev1.Pod // latest spec; for an orphan, what its labels tell
	wanted bool
	status corev1.PodStatus
	// unwanted are called when wanted turns false: running postStart
	// hooks end then (hooks.go).
	unwanted  map[int]func()
	nextWatch int

	// Owned by the worker goroutine.
	sb         *sandbox
	sbRetryAt  time.Time
	sbBackoff  time.Duration
	volumes    map[string]string
	ctrs       map[string]*ctr
	podReason  string // why the pod failed or cannot start
	podMessage string
	finished   bool // Succeeded or Failed: nothing is restarted
	startTime  time.Time
	extras     podExtras
	m          podMetrics // metrics.go
}

func newPodWorker(a *Agent, pod *corev1.Pod, wanted bool) *podWorker {
	w := &podWorker{
		a:      a,
		uid:    string(pod.UID),
		log:    a.cfg.Logger.With("pod", podKey(pod), "uid", pod.UID),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		pod:    pod,
		wanted: wanted,
		ctrs:   map[string]*ctr{},
		m:      podMetrics{accepted: time.Now()},
	}
	w.setSpec(pod)
	w.status = corev1.PodStatus{Phase: corev1.PodPending}
	return w
}

// setSpec (re)builds the container table from the spec, keeping the state
// of containers that remain.
func (w *podWorker) setSpec(pod *corev1.Pod) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		kind := kindInit
		if manifest.IsSidecar(c) {
			kind = kindSidecar
		}
		w.ensureCtr(c, kind)
	}
	for i := range pod.Spec.Containers {
		w.ensureCtr(&pod.Spec.Containers[i], kindApp)
	}
}

func (w *podWorker) ensureCtr(spec *corev1.Container, kind string) {
	if c, ok := w.ctrs[spec.Name]; ok {
		c.spec, c.kind = spec, kind
		return
	}
	w.ctrs[spec.Name] = &ctr{spec: spec, kind: kind, attempt: -1}
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) update(pod *corev1.Pod, wanted bool) {
	w.mu.Lock()
	if pod != nil {
		w.pod = pod
	}
	w.wanted = wanted
	if !wanted {
		for id, f := range w.unwanted {
			f()
			delete(w.unwanted, id)
		}
	}
	w.mu.Unlock()
	w.poke()
}

// run is the worker's loop: one sync per wake-up, a wake-up per event,
// deadline or resync period. It returns when the pod is gone.
func (w *podWorker) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		pod, wanted := w.pod, w.wanted
		w.mu.Unlock()
		var next time.Duration
		if wanted {
			w.setSpec(pod)
			next = w.syncRunning(pod)
		} else {
			if err := w.terminate(); err != nil {
				w.log.Error("tear-down failed; will retry", "err", err)
				next = 5 * time.Second
			} else {
				w.publish()
				w.a.workerDone(w)
				return
			}
		}
		published := time.Now()
		w.publish()
		w.a.step(w.uid, "status", published)
		if next <= 0 || next > w.a.cfg.ResyncInterval {
			next = w.a.cfg.ResyncInterval
		}
		t := w.a.cfg.Clock.NewTimer(next)
		select {
		case <-w.wake:
		case <-t.C():
		case <-w.a.ctx.Done():
			t.Stop()
			w.detachLogs()
			return
		}
		t.Stop()
	}
}

// syncRunning makes one pass toward a running pod and returns when it
// wants to be called again at the latest.
func (w *podWorker) syncRunning(pod *corev1.Pod) time.Duration {
	ctx := w.a.ctx
	now := w.a.cfg.Clock.Now()
	w.reapExits(ctx)
	if w.finished {
		return 0
	}
	if w.sb != nil && w.sb.task.exited() {
		w.log.Warn("pause container exited; recreating the sandbox")
		if err := w.stopAll(ctx, 0); err != nil {
			w.log.Error("stop containers of dead sandbox", "err", err)
			return time.Second
		}
		w.reapExits(ctx)
		w.stopProbers()
		w.sb = nil
	}
	if w.volumes == nil {
		vols, err := prepareVolumes(pod, w.a.podDir(w.uid), w.a.cfg.AllowHostPath, w.a.storage, w.a.cfg.Clock.Now())
		if errors.Is(err, errHostPathNotAllowed) {
			w.fail(reasonHostPathNotAllowed, err.Error())
			return 0
		}
		if errors.Is(err, errNoStorageDir) {
			w.fail(reasonNoStorageDir, err.Error())
			return 0
		}
		if err != nil {
			w.fail(reasonVolumeError, err.Error())
			return 0
		}
		w.volumes = vols
	}
	if next, ok := w.syncExtras(ctx, pod); !ok {
		return next
	}
	if w.sb == nil && w.anyRunning() {
		// Containers adopted from a sandbox whose pause died while no agent
		// ran: they live in the old namespaces and must go with it.
		if err := w.stopAll(ctx, 0); err != nil {
			w.log.Error("stop containers of dead sandbox", "err", err)
			return time.Second
		}
		w.reapExits(ctx)
		w.stopProbers()
	}
	if w.sb == nil {
		if now.Before(w.sbRetryAt) {
			return w.sbRetryAt.Sub(now)
		}
		t := time.Now()
		started := w.startTime // a replaced sandbox keeps the pod's
		if started.IsZero() {
			started = now
		}
		sb, err := w.a.createSandbox(ctx, pod, started, w.wake)
		w.a.step(w.uid, "sandbox", t)
		w.sb = sb
		if err != nil {
			w.sbBackoff = nextBackoff(w.sbBackoff)
			w.sbRetryAt = now.Add(w.sbBackoff)
			w.podReason, w.podMessage = reasonSandboxCreateError, err.Error()
			w.log.Error("create sandbox", "err", err)
			return w.sbBackoff
		}
		w.sbBackoff, w.podReason, w.podMessage = 0, "", ""
		w.startTime = started
		w.log.Info("sandbox ready", "ip", w.sb.ip)
	}
	w.ensureProbers()
	w.killUnhealthy(ctx, graceDuration(pod))
	w.reapExits(ctx)
	policy := pod.Spec.RestartPolicy
	next := time.Duration(0)
	soonest := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}

	// Init containers, in order. A sidecar must be running before the next
	// entry starts; a plain init container must have succeeded.
	for i := range pod.Spec.InitContainers {
		c := w.ctrs[pod.Spec.InitContainers[i].Name]
		if c.running() {
			// A sidecar counts once started (its startup probe passed).
			if c.kind == kindSidecar && c.started() {
				continue
			}
			return next
		}
		if c.kind == kindInit && c.term != nil && c.term.ExitCode == 0 {
			continue
		}
		if c.kind == kindInit && c.term != nil && policy == corev1.RestartPolicyNever {
			w.fail(reasonInitContainerFailed, fmt.Sprintf("init container %s exited with %d", c.spec.Name, c.term.ExitCode))
			return 0
		}
		soonest(w.start(ctx, pod, c, now))
		w.ensureProbers()
		if c.kind == kindInit || !c.started() {
			return next
		}
	}

	// App containers, each by the pod's restart policy. Unlike init
	// containers they have no order, so they start side by side (as
	// containerd's CRI plugin allows): a pod runs when its slowest
	// container does, not after the sum of them.
	var due []*ctr
	for i := range pod.Spec.Containers {
		c := w.ctrs[pod.Spec.Containers[i].Name]
		if c.running() {
			continue
		}
		if c.term != nil && !restart.ShouldRestart(policy, restart.KindApp, c.term.ExitCode) {
			continue
		}
		due = append(due, c)
	}
	waits := make([]time.Duration, len(due))
	t := time.Now()
	for _, batch := range startBatches(len(due), func(i int) bool { return hasPostStart(due[i]) }) {
		var wg sync.WaitGroup
		for _, i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				waits[i] = w.start(ctx, pod, due[i], now)
			}()
		}
		wg.Wait()
	}
	if len(due) > 0 {
		w.a.step(w.uid, "containers", t)
	}
	for _, d := range waits {
		soonest(d)
	}
	w.ensureProbers()

	// With OnFailure or Never, a pod whose app containers have all ended for
	// good is finished; its sidecars are then stopped, as Kubernetes does.
	if policy != corev1.RestartPolicyAlways {
		allDone, failed := true, false
		for i := range pod.Spec.Containers {
			c := w.ctrs[pod.Spec.Containers[i].Name]
			if c.running() || c.term == nil || restart.ShouldRestart(policy, restart.KindApp, c.term.ExitCode) {
				allDone = false
				break
			}
			failed = failed || c.term.ExitCode != 0
		}
		if allDone {
			w.finished = true
			if failed {
				w.podReason = ""
			}
			if err := w.stopKind(ctx, kindSidecar, graceDuration(pod)); err != nil {
				w.log.Error("stop sidecars", "err", err)
			}
			w.reapExits(ctx)
		}
	}
	return next
}

// nextBackoff is the wait after one more failure when the last wait was d
// (0: none yet): backoffInitial doubling to backoffMax, stepped by
// apimachinery's wait.Backoff, the one back-off berth uses.
func nextBackoff(d time.Duration) time.Duration {
	b := wait.Backoff{Duration: backoffInitial, Factor: 2, Cap: backoffMax, Steps: math.MaxInt32}
	if d > 0 {
		b.Duration = d
		b.Step() // the wait d was
	}
	return b.Step()
}

func graceDuration(pod *corev1.Pod) time.Duration {
	return time.Duration(graceSeconds(pod)) * time.Second
}

// fail ends the pod with phase Failed and the given reason.
func (w *podWorker) fail(reason, msg string) {
	w.finished = true
	w.podReason, w.podMessage = reason, msg
	w.log.Warn("pod failed", "reason", reason, "message", msg)
}

// start starts the next attempt of c unless it is backing off (crash loop
// or image pull), and returns how long until it should be tried again.
func (w *podWorker) start(ctx context.Context, pod *corev1.Pod, c *ctr, now time.Time) time.Duration {
	if now.Before(c.pullRetryAt) {
		c.waiting = podstatus.ReasonImagePullBackOff
		return c.pullRetryAt.Sub(now)
	}
	if now.Before(c.retryAt) {
		return c.retryAt.Sub(now)
	}
	if c.term != nil {
		key := restart.Key{PodUID: w.uid, Container: c.spec.Name, SpecHash: specHash(c.spec)}
		if ok, at, delay := w.a.backoff.Admit(key, c.exitSeen); !ok {
			c.waiting = podstatus.ReasonCrashLoopBackOff
			c.waitMsg = restart.Message(delay, c.spec.Name, pod.Name, pod.Namespace, w.uid)
			return at.Sub(now)
		}
	}
	img, err := w.a.images.ensure(ctx, c.spec.Image, c.spec.ImagePullPolicy)
	if err != nil {
		c.waiting, c.waitMsg = podstatus.ReasonErrImagePull, err.Error()
		if errors.Is(err, errImageNeverPull) {
			c.waiting = podstatus.ReasonErrImageNeverPull
		}
		c.pullBackoff = nextBackoff(c.pullBackoff)
		c.pullRetryAt = now.Add(c.pullBackoff)
		w.log.Warn("image", "container", c.spec.Name, "err", err)
		return c.pullBackoff
	}
	c.pullBackoff, c.pullRetryAt = 0, time.Time{}
	attempt := c.attempt + 1
	cont, h, err := w.a.startContainer(ctx, containerSpec{pod: pod, c: c.spec, kind: c.kind, attempt: attempt, sb: w.sb, volumes: w.volumes}, img, w.wake)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			// As the kubelet: no back-off, tried again at every sync, so
			// data that arrives (ConfigsChanged) is used at once.
			c.waiting, c.waitMsg = podstatus.ReasonCreateContainerConfigError, ce.Error()
			w.log.Warn("container config", "container", c.spec.Name, "err", err)
			return w.a.cfg.ResyncInterval
		}
		w.a.images.forget(c.spec.Image)
		c.waiting, c.waitMsg = podstatus.ReasonCreateContainerError, err.Error()
		c.createBackoff = nextBackoff(c.createBackoff)
		c.retryAt = now.Add(c.createBackoff)
		w.log.Error("start container", "container", c.spec.Name, "err", err)
		return c.createBackoff
	}
	// The previous instance stays until its successor runs, so its exit
	// state survives an agent crash in between.
	if c.cont != nil {
		cctx, cancel := w.a.freshContext()
		if err := w.a.deleteContainer(cctx, c.cont); err != nil {
			w.log.Warn("delete previous instance", "container", c.spec.Name, "err", err)
		}
		cancel()
	}
	if c.term != nil {
		c.last = c.term
	}
	c.attempt, c.cont, c.task, c.term = attempt, cont, h, nil
	id := cont.ID()
	c.liveID.Store(&id)
	c.createBackoff, c.retryAt = 0, time.Time{}
	c.startedAt = w.a.cfg.Clock.Now()
	if err := recordStarted(ctx, cont, c.startedAt); err != nil {
		w.log.Warn("a restarted agent will report an earlier startedAt", "container", c.spec.Name, "err", err)
	}
	c.waiting, c.waitMsg = "", ""
	if !w.postStart(ctx, pod, c) {
		return 0
	}
	if c.prober != nil {
		c.prober.ContainerStarted(c.startedAt)
	}
	w.containerStarted(c)
	w.log.Info("container started", "container", c.spec.Name, "attempt", attempt)
	return 0
}

// reapExits records every container that has exited since the last pass.
func (w *podWorker) reapExits(ctx context.Context) {
	for _, c := range w.ctrs {
		if c.task != nil && c.task.exited() {
			w.recordExit(ctx, c)
		}
	}
}

// recordExit turns an exited task into a terminated state, deletes the
// task (keeping the container, whose labels now carry the exit) and sets
// the crash-loop back-off.
func (w *podWorker) recordExit(ctx context.Context, c *ctr) {
	h := c.task
	c.task = nil
	if c.prober != nil {
		c.prober.ContainerStopped()
	}
	code, at, err := h.status.Result()
	if err != nil {
		code = 255
		at = w.a.cfg.Clock.Now()
	}
	// Like containerd's CRI plugin, an OOM kill anywhere in the container
	// marks its end OOMKilled, even if its main process survived it.
	reason := podstatus.ReasonCompleted
	if code != 0 {
		reason = podstatus.ReasonError
	}
	if w.a.oomKilled(ctx, h.task, code != 0) {
		reason = podstatus.ReasonOOMKilled
	}
	if at.IsZero() {
		at = w.a.cfg.Clock.Now()
	}
	c.term = &corev1.ContainerStateTerminated{
		ExitCode:    int32(code),
		Reason:      reason,
		StartedAt:   metav1.NewTime(c.startedAt),
		FinishedAt:  metav1.NewTime(at),
		ContainerID: "containerd://" + h.task.ID(),
	}
	c.term.Message = w.terminationMessage(c, int32(code))
	if _, err := h.task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		w.log.Warn("delete exited task", "container", c.spec.Name, "err", err)
	}
	if c.cont != nil {
		if _, err := c.cont.SetLabels(ctx, map[string]string{
			LabelExitCode:   strconv.Itoa(int(code)),
			LabelReason:     reason,
			LabelFinishedAt: timeLabel(at),
		}); err != nil && !errdefs.IsNotFound(err) {
			w.log.Warn("record exit", "container", c.spec.Name, "err", err)
		}
	}
	c.exitSeen = w.a.cfg.Clock.Now()
	w.log.Info("container exited", "container", c.spec.Name, "attempt", c.attempt, "code", code, "reason", reason)
}

// stopKind stops every running container of one kind (in parallel), each
// with SIGTERM, the grace period, then SIGKILL.
func (w *podWorker) stopKind(ctx context.Context, kind string, grace time.Duration) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	// Sidecars stop in reverse order of their start, one after another.
	if kind == kindSidecar {
		inits := w.initOrder()
		for i := len(inits) - 1; i >= 0; i-- {
			c := inits[i]
			if c.kind == kindSidecar && c.running() {
				errs = append(errs, w.stopCtr(ctx, c, c.task, grace))
			}
		}
		return errors.Join(errs...)
	}
	for _, c := range w.ctrs {
		if c.kind != kind || !c.running() {
			continue
		}
		wg.Add(1)
		go func(c *ctr, h *taskHandle) {
			defer wg.Done()
			err := w.stopCtr(ctx, c, h, grace)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}(c, c.task)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (w *podWorker) initOrder() []*ctr {
	var out []*ctr
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	for i := range pod.Spec.InitContainers {
		if c, ok := w.ctrs[pod.Spec.InitContainers[i].Name]; ok {
			out = append(out, c)
		}
	}
	// Containers known only from containerd (an orphan's) come last.
	seen := map[*ctr]bool{}
	for _, c := range out {
		seen[c] = true
	}
	for _, c := range w.ctrs {
		if !seen[c] && c.kind == kindSidecar {
			out = append(out, c)
		}
	}
	return out
}

// stopAll stops app containers, then sidecars, then any init container,
// sharing the grace period as the kubelet does.
func (w *podWorker) stopAll(ctx context.Context, grace time.Duration) error {
	deadline := w.a.cfg.Clock.Now().Add(grace)
	remaining := func() time.Duration {
		d := deadline.Sub(w.a.cfg.Clock.Now())
		if d < 0 {
			return 0
		}
		return d
	}
	return errors.Join(
		w.stopKind(ctx, kindApp, remaining()),
		w.stopKind(ctx, kindSidecar, remaining()),
		w.stopKind(ctx, kindInit, remaining()),
	)
}

// terminate stops every container and releases everything the pod holds:
// containers and snapshots, the pause container, the CNI lease, the netns,
// volumes, /etc files and logs.
func (w *podWorker) terminate() error {
	ctx, cancel := context.WithTimeout(w.a.ctx, 10*time.Minute)
	defer cancel()
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	t := time.Now()
	if err := w.stopAll(ctx, graceDuration(pod)); err != nil {
		return err
	}
	t = w.a.step(w.uid, "down-stop", t)
	w.stopProbers()
	cctx, ccancel := w.a.freshContext()
	defer ccancel()
	// Every task has exited: delete them with their containers and
	// snapshots side by side, and the sandbox beside them (nothing of it is
	// needed once the containers stopped). Exits are not recorded; the pod
	// goes.
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	collect := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for _, c := range w.ctrs {
		if c.cont == nil {
			continue
		}
		wg.Add(1)
		go func(c *ctr) {
			defer wg.Done()
			err := w.a.deleteContainer(cctx, c.cont)
			if err == nil {
				mu.Lock()
				c.cont, c.task = nil, nil
				mu.Unlock()
			}
			collect(err)
		}(c)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		collect(w.a.removeSandbox(cctx, w.uid))
	}()
	wg.Wait()
	// Instances the worker never knew (an earlier agent's leftovers).
	errs = append(errs, w.a.deletePodContainers(cctx, w.uid))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t = w.a.step(w.uid, "down-containers+sandbox", t)
	w.sb = nil
	w.a.backoff.ForgetPod(w.uid)
	if err := removePodDir(w.a.podDir(w.uid)); err != nil {
		return err
	}
	if err := removePodDir(podDir(w.a.podLogDir(pod.Namespace, pod.Name, w.uid))); err != nil {
		return err
	}
	w.a.step(w.uid, "down-dirs", t)
	w.log.Info("pod torn down")
	return nil
}
