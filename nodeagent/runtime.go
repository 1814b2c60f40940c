package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd"
	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/netns"
	"github.com/containerd/containerd/snapshots"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/nodeagent/clusterdns"
	"github.com/berth-dev/berth/nodeagent/containerlog"
)

// cleanupTimeout bounds one undo or tear-down step. Undo runs on a fresh
// context: the caller's may be why we are undoing.
const cleanupTimeout = 30 * time.Second

// sandbox is a pod's pause container and the network namespace it holds.
type sandbox struct {
	id        string
	netnsPath string
	ip        string
	pid       uint32
	task      *taskHandle
}

// taskHandle follows one running task. done is closed when the task has
// exited; status is valid after that.
type taskHandle struct {
	task   containerd.Task
	done   chan struct{}
	status containerd.ExitStatus
}

// watch follows the task's exit. It must be called before the task starts
// (or an early exit is missed) and pokes wake when the task exits.
func (a *Agent) watch(task containerd.Task, wake chan<- struct{}) (*taskHandle, error) {
	ch, err := task.Wait(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("wait %s: %w", task.ID(), err)
	}
	h := &taskHandle{task: task, done: make(chan struct{})}
	go func() {
		h.status = a.waitExit(task, ch)
		close(h.done)
		select {
		case wake <- struct{}{}:
		default:
		}
	}()
	return h, nil
}

// waitExit returns the task's exit status. A status that carries an
// error is the wait stream breaking (containerd restarted or crashed),
// not the task exiting: the shim still runs it, so wait again once
// containerd answers. Only a task containerd no longer knows, or the
// agent stopping, ends the wait with that error.
func (a *Agent) waitExit(task containerd.Task, ch <-chan containerd.ExitStatus) containerd.ExitStatus {
	backoff := 100 * time.Millisecond
	for {
		st := <-ch
		if st.Error() == nil || a.ctx.Err() != nil {
			return st
		}
		for {
			t := a.cfg.Clock.NewTimer(backoff)
			select {
			case <-t.C():
			case <-a.ctx.Done():
				t.Stop()
				return st
			}
			if backoff < 2*time.Second {
				backoff *= 2
			}
			next, err := task.Wait(a.ctx)
			if err == nil {
				a.cfg.Logger.Info("wait on task resumed after containerd came back", "task", task.ID(), "after", st.Error())
				ch = next
				break
			}
			if errdefs.IsNotFound(err) {
				return st
			}
		}
	}
}

func (h *taskHandle) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// freshContext is for undo and tear-down steps.
func (a *Agent) freshContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(namespaces.WithNamespace(context.Background(), a.cfg.Namespace), cleanupTimeout)
}

func (a *Agent) runtimeOpt() containerd.NewContainerOpts {
	if a.cfg.RuncRoot == "" {
		return containerd.WithRuntime("io.containerd.runc.v2", nil)
	}
	return containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{Root: a.cfg.RuncRoot})
}

func (a *Agent) podDir(uid string) podDir {
	return podDir(filepath.Join(a.cfg.RunDir, "pods", uid))
}

// podRecord is pods/<uid>/pod.json: written before the first resource of
// a sandbox is made, so whatever a crash leaves behind can be traced to a
// pod and removed (containerd's lesson: record first, then create).
type podRecord struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	SandboxID string `json:"sandboxID"`
}

func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// createSandbox makes the pod's network namespace, attaches it to the CNI
// network and starts the pause container in it. Each step is undone, on a
// fresh context and in reverse order, if a later one fails.
//
// started is the pod's start time (status.startTime), kept in the
// sandbox's labels so an adopting agent reports the same one.
func (a *Agent) createSandbox(ctx context.Context, pod *corev1.Pod, started time.Time, wake chan<- struct{}) (_ *sandbox, retErr error) {
	uid := string(pod.UID)
	dir := a.podDir(uid)
	sb := &sandbox{id: sandboxID(uid)}
	var undo []func(context.Context) error
	defer func() {
		if retErr == nil {
			return
		}
		cctx, cancel := a.freshContext()
		defer cancel()
		errs := []error{retErr}
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i](cctx))
		}
		retErr = errors.Join(errs...)
	}()

	t := time.Now()
	if err := os.MkdirAll(dir.netnsDir(), 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	record := filepath.Join(string(dir), "pod.json")
	_, statErr := os.Stat(record)
	rec, _ := json.Marshal(podRecord{Namespace: pod.Namespace, Name: pod.Name, UID: uid, SandboxID: sb.id})
	if err := os.WriteFile(record, rec, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	// A sandbox half made by an earlier run (the agent died mid-way, or the
	// pause container died) is removed before making a new one. Without a
	// record there was none: the record is written before anything else.
	if !errors.Is(statErr, os.ErrNotExist) {
		if err := a.removeSandbox(ctx, uid); err != nil {
			return nil, fmt.Errorf("remove previous sandbox: %w", err)
		}
	}
	t = a.step(uid, "record+remove-previous", t)

	ns, err := netns.NewNetNS(dir.netnsDir())
	if err != nil {
		return nil, fmt.Errorf("sandbox netns: %w", err)
	}
	sb.netnsPath = ns.GetPath()
	t = a.step(uid, "netns", t)
	undo = append(undo, func(context.Context) error { return ns.Remove() })

	// The network is attached (and the /etc files that name the IP are
	// written) while the pause container is made and started: the pause
	// process only holds the namespace, and CNI only configures it.
	undo = append(undo, func(ctx context.Context) error { return a.net.del(ctx, sb.id, sb.netnsPath) })
	netDone := make(chan error, 1)
	go func() {
		t := time.Now()
		ip, err := a.net.add(ctx, sb.id, sb.netnsPath, podPorts(pod))
		if err != nil {
			netDone <- fmt.Errorf("sandbox network: %w", err)
			return
		}
		sb.ip = ip
		t = a.step(uid, "cni-add", t)
		if err := writeEtcFiles(dir, pod, ip, &a.cfg); err != nil {
			netDone <- fmt.Errorf("sandbox: %w", err)
			return
		}
		a.step(uid, "etc-files", t)
		netDone <- nil
	}()
	c, h, pauseErr := a.startPause(ctx, pod, sb, wake, &undo)
	// Undo must not run while the network is still being attached.
	if err := errors.Join(pauseErr, <-netDone); err != nil {
		return nil, err
	}
	t = a.step(uid, "pause+network", t)
	// The IP is known only now; adoption reads it and the pod's start
	// time from these labels.
	if _, err := c.SetLabels(ctx, map[string]string{LabelIP: sb.ip, LabelStartedAt: timeLabel(started)}); err != nil {
		return nil, fmt.Errorf("sandbox label: %w", err)
	}
	a.step(uid, "ip-label", t)
	sb.task = h
	sb.pid = h.task.Pid()
	return sb, nil
}

// startPause creates and starts the pod's pause container in sb's network
// namespace, adding its undo steps to undo.
func (a *Agent) startPause(ctx context.Context, pod *corev1.Pod, sb *sandbox, wake chan<- struct{}, undo *[]func(context.Context) error) (containerd.Container, *taskHandle, error) {
	uid := string(pod.UID)
	t := time.Now()
	labels := podLabels(pod)
	labels[LabelRole] = roleSandbox
	labels[LabelNetNS] = sb.netnsPath
	labels[LabelGrace] = strconv.FormatInt(graceSeconds(pod), 10)
	c, err := a.client.NewContainer(ctx, sb.id,
		containerd.WithImage(a.pause),
		containerd.WithNewSnapshot(sb.id, a.pause, snapshots.WithLabels(podLabels(pod))),
		a.runtimeOpt(),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(
			oci.WithImageConfig(a.pause),
			oci.WithHostname(podHostname(pod)),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.netnsPath}),
			sandboxSecurityOpts(pod),
			oci.WithAnnotations(map[string]string{
				annotationSandboxID:                       sb.id,
				"io.kubernetes.cri.container-type":        "sandbox",
				"io.kubernetes.cri.sandbox-namespace":     pod.Namespace,
				"io.kubernetes.cri.sandbox-name":          pod.Name,
				"io.kubernetes.cri.sandbox-uid":           uid,
				"io.kubernetes.cri.sandbox-log-directory": a.podLogDir(pod.Namespace, pod.Name, uid),
			}),
		))
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox container: %w", err)
	}
	t = a.step(uid, "pause-create", t)
	*undo = append(*undo, func(ctx context.Context) error {
		return ignoreNotFound(c.Delete(ctx, containerd.WithSnapshotCleanup))
	})
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox task: %w", err)
	}
	*undo = append(*undo, func(ctx context.Context) error {
		_, err := task.Delete(ctx, containerd.WithProcessKill)
		return ignoreNotFound(err)
	})
	t = a.step(uid, "pause-task", t)
	h, err := a.watch(task, wake)
	if err != nil {
		return nil, nil, err
	}
	if err := task.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("sandbox start: %w", err)
	}
	a.step(uid, "pause-start", t)
	return c, h, nil
}

func graceSeconds(pod *corev1.Pod) int64 {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil && *g >= 0 {
		return *g
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// writeEtcFiles writes the pod's /etc/hosts, /etc/resolv.conf and
// /etc/hostname, shared by all its containers as the kubelet does.
func writeEtcFiles(dir podDir, pod *corev1.Pod, ip string, cfg *Config) error {
	host := podHostname(pod)
	hosts := "# Managed by berth.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		ip + "\t" + host + "\n"
	for _, ha := range pod.Spec.HostAliases {
		hosts += ha.IP + "\t" + strings.Join(ha.Hostnames, " ") + "\n"
	}
	files := map[string]string{
		"hosts":       hosts,
		"hostname":    host + "\n",
		"resolv.conf": resolvConf(pod, cfg),
	}
	if err := os.MkdirAll(filepath.Dir(dir.etc("hosts")), 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(dir.etc(name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resolvConf writes the pod's resolver config for its dnsPolicy
// (clusterdns.ResolvConf) with the node's cluster DNS address; without
// one (no pod network) ClusterFirst falls back to the host's resolvers.
func resolvConf(pod *corev1.Pod, cfg *Config) string {
	host, _ := os.ReadFile("/etc/resolv.conf") // none: no host resolvers
	dns, _ := netip.ParseAddr(cfg.ClusterDNS)  // Validate checked it; empty: zero
	return clusterdns.ResolvConf(pod, host, dns, cfg.ClusterDomain)
}

// removeSandbox releases the pause container, CNI attachment and network
// namespace of the pod, whatever of them exists; volumes stay. Every step
// runs even if an earlier one failed, and the errors are joined: a lease
// must not leak because a task could not be deleted.
func (a *Agent) removeSandbox(ctx context.Context, uid string) error {
	id := sandboxID(uid)
	dir := a.podDir(uid)
	// The pause container goes while the network is released: DEL and the
	// namespace's unmount do not need the process that holds it.
	pauseErr := make(chan error, 1)
	go func() {
		c, err := a.client.LoadContainer(ctx, id)
		switch {
		case err == nil:
			pauseErr <- a.deleteContainer(ctx, c)
		case errdefs.IsNotFound(err):
			pauseErr <- nil
		default:
			pauseErr <- err
		}
	}()
	var errs []error
	entries, _ := os.ReadDir(dir.netnsDir())
	if len(entries) == 0 && a.net.attached(id) {
		// No netns left, but a lease may be: DEL without a namespace.
		if err := a.net.del(ctx, id, ""); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range entries {
		p := filepath.Join(dir.netnsDir(), e.Name())
		if err := a.net.del(ctx, id, p); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := netns.LoadNetNS(p).Remove(); err != nil {
			errs = append(errs, fmt.Errorf("remove netns %s: %w", p, err))
		}
	}
	errs = append(errs, <-pauseErr)
	return errors.Join(errs...)
}

// deleteContainer kills and deletes the container's task (if any), then
// the container and its snapshot.
func (a *Agent) deleteContainer(ctx context.Context, c containerd.Container) error {
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", c.ID(), err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("task of %s: %w", c.ID(), err)
	} else if err := a.deleteHalfMadeTask(ctx, c.ID()); err != nil {
		return err
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", c.ID(), err)
	}
	return nil
}

// deleteHalfMadeTask removes a task containerd holds but its shim does
// not know: containerd killed while it created the task loads the shim
// again on restart, and then answers "not found" to a Get for the task
// (the shim's runc container was never made) but "already exists" to
// every new task of that ID. Chaos seed 401449 left a Job's pod unable to
// start its container this way, and the shim and a cgroup behind.
// Deleting through the task service shuts that shim down.
func (a *Agent) deleteHalfMadeTask(ctx context.Context, id string) error {
	_, err := a.client.TaskService().Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})
	if err = errdefs.FromGRPC(err); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete half-made task %s: %w", id, err)
	}
	return nil
}

// containerSpec is everything needed to create one container attempt.
type containerSpec struct {
	pod     *corev1.Pod
	c       *corev1.Container
	kind    string
	attempt int
	sb      *sandbox
	volumes map[string]string
}

// containerOpts builds the OCI spec the way the kubelet and containerd's
// CRI plugin do: image config first, then Kubernetes' command/args/env/
// workingDir, the sandbox's namespaces, volumes and cgroup limits.
func (a *Agent) containerOpts(s containerSpec, img containerd.Image) ([]oci.SpecOpts, error) {
	env, err := containerEnv(s.pod, s.c, s.sb.ip, a.cfg.NodeName, a.cfg.Configs)
	if err != nil {
		return nil, err
	}
	lookup := envLookup(env)
	var cmd, args []string
	for _, v := range s.c.Command {
		cmd = append(cmd, expand(v, lookup))
	}
	for _, v := range s.c.Args {
		args = append(args, expand(v, lookup))
	}
	mounts, err := volumeMounts(s.c, s.volumes)
	if err != nil {
		return nil, err
	}
	dir := a.podDir(string(s.pod.UID))
	mounted := map[string]bool{}
	for _, m := range mounts {
		mounted[m.Destination] = true
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		if !mounted["/etc/"+f] {
			mounts = append(mounts, specs.Mount{Destination: "/etc/" + f, Type: "bind", Source: dir.etc(f), Options: []string{"rbind", "rprivate", "rw"}})
		}
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(img)}
	switch {
	case len(cmd) > 0:
		// command replaces the image's entrypoint and, with it, its cmd.
		opts = append(opts, oci.WithProcessArgs(append(cmd, args...)...))
	case len(args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, args))
	}
	opts = append(opts,
		oci.WithEnv(env),
		oci.WithHostname(podHostname(s.pod)),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.sb.netnsPath}),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: fmt.Sprintf("/proc/%d/ns/ipc", s.sb.pid)}),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", s.sb.pid)}),
		oci.WithMounts(mounts),
		oci.WithAnnotations(map[string]string{
			annotationSandboxID:                   s.sb.id,
			"io.kubernetes.cri.container-type":    "container",
			"io.kubernetes.cri.container-name":    s.c.Name,
			"io.kubernetes.cri.sandbox-name":      s.pod.Name,
			"io.kubernetes.cri.sandbox-namespace": s.pod.Namespace,
		}),
	)
	if s.c.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(s.c.WorkingDir))
	}
	opts = append(opts, resourceOpts(s.c.Resources)...)
	sec, err := a.securityOpts(s, img)
	if err != nil {
		return nil, err
	}
	term, err := terminationOpts(dir, s.c, s.attempt)
	if err != nil {
		return nil, err
	}
	opts = append(append(opts, sec...), term...)
	return opts, nil
}

// resourceOpts maps requests and limits to cgroup settings as the kubelet
// does: CPU request to shares, CPU limit to a CFS quota over a 100ms
// period, memory limit to the memory cgroup's hard limit.
func resourceOpts(r corev1.ResourceRequirements) []oci.SpecOpts {
	const period = 100000
	var opts []oci.SpecOpts
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		shares := uint64(q.MilliValue()) * 1024 / 1000
		if shares < 2 {
			shares = 2
		}
		opts = append(opts, oci.WithCPUShares(shares))
	}
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		quota := q.MilliValue() * period / 1000
		if quota < 1000 {
			quota = 1000
		}
		opts = append(opts, oci.WithCPUCFS(quota, period))
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; ok && q.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	return opts
}

func envLookup(env []string) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

func (a *Agent) podLogDir(ns, name, uid string) string {
	return filepath.Join(a.cfg.LogDir, ns+"_"+name+"_"+uid)
}

// LogPath is where one attempt of one container writes its output.
func (a *Agent) LogPath(ns, name, uid, container string, attempt int) string {
	return filepath.Join(a.podLogDir(ns, name, uid), container, strconv.Itoa(attempt)+".log")
}

// startContainer creates and starts one attempt of a container. Its output
// goes through FIFOs to the agent, which writes the log file (logio.go), or
// with Config.LoggerBinary to a logger process the shim runs.
func (a *Agent) startContainer(ctx context.Context, s containerSpec, img containerd.Image, wake chan<- struct{}) (_ containerd.Container, _ *taskHandle, retErr error) {
	uid := string(s.pod.UID)
	id := containerID(uid, s.c.Name, s.attempt)
	t := time.Now()
	opts, err := a.containerOpts(s, img)
	if err != nil {
		return nil, nil, err
	}
	labels := podLabels(s.pod)
	labels[LabelRole] = roleContainer
	labels[LabelContainer] = s.c.Name
	labels[LabelKind] = s.kind
	labels[LabelAttempt] = strconv.Itoa(s.attempt)
	labels[LabelSpecHash] = specHash(s.c)
	labels[LabelGrace] = strconv.FormatInt(graceSeconds(s.pod), 10)
	// A guess, for a crash before the task starts; the worker replaces it
	// with the time the task started (recordStarted).
	labels[LabelStartedAt] = timeLabel(a.cfg.Clock.Now())
	create := func() (containerd.Container, error) {
		return a.client.NewContainer(ctx, id,
			containerd.WithImage(img),
			containerd.WithNewSnapshot(id, img, snapshots.WithLabels(podLabels(s.pod))),
			a.runtimeOpt(),
			containerd.WithContainerLabels(labels),
			containerd.WithNewSpec(opts...),
		)
	}
	c, err := create()
	if errdefs.IsAlreadyExists(err) {
		// Left by a crash between create and the worker's record of it (or
		// its snapshot alone): remove and create again. The snapshot goes
		// too: the failed create made it before it met the old container.
		err = nil
		if old, lerr := a.client.LoadContainer(ctx, id); lerr == nil {
			err = a.deleteContainer(ctx, old)
		}
		if err == nil {
			err = ignoreNotFound(a.client.SnapshotService(a.cfg.Snapshotter).Remove(ctx, id))
		}
		if err == nil {
			c, err = create()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create container %s: %w", s.c.Name, err)
	}
	t = a.step(uid, "ctr-create", t)
	defer func() {
		if retErr != nil {
			cctx, cancel := a.freshContext()
			defer cancel()
			retErr = errors.Join(retErr, a.deleteContainer(cctx, c))
		}
	}()
	logPath := a.LogPath(s.pod.Namespace, s.pod.Name, uid, s.c.Name, s.attempt)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, nil, fmt.Errorf("log dir: %w", err)
	}
	logIO := logCreator(filepath.Join(string(a.podDir(uid)), "fifo"), logPath)
	if a.cfg.LoggerBinary != "" {
		logIO = containerlog.ShimLogger{Binary: a.cfg.LoggerBinary}.Creator(logPath)
	}
	task, err := c.NewTask(ctx, logIO)
	if err != nil {
		return nil, nil, fmt.Errorf("create task %s: %w", s.c.Name, err)
	}
	t = a.step(uid, "ctr-task", t)
	h, err := a.watch(task, wake)
	if err != nil {
		return nil, nil, err
	}
	if err := task.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", s.c.Name, err)
	}
	a.step(uid, "ctr-start", t)
	return c, h, nil
}

// recordStarted replaces a container's started-at label, written before
// the container existed, with the time its task started: adoption reads
// the label back, so a restarted agent reports the startedAt users saw.
func recordStarted(ctx context.Context, c containerd.Container, at time.Time) error {
	if _, err := c.SetLabels(ctx, map[string]string{LabelStartedAt: timeLabel(at)}); err != nil {
		return fmt.Errorf("started-at label of %s: %w", c.ID(), err)
	}
	return nil
}

// timeLabel formats a time for a label at full precision, so labelTime
// returns a time Equal to it.
func timeLabel(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// labelTime parses a time label; zero if absent or malformed.
func labelTime(labels map[string]string, key string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, labels[key])
	return t
}
