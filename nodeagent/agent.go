package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	stats "github.com/containerd/cgroups/stats/v1"
	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/typeurl/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/nodeagent/localstorage"
	"github.com/berth-dev/berth/nodeagent/restart"
)

// Agent runs the pods of one node on containerd. Feed it the full list of
// pods that should run with Sync (level-triggered: each call replaces the
// previous list) and read what runs with Status.
type Agent struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	client  *containerd.Client
	net     *network
	images  *imageStore
	pause   containerd.Image
	backoff *restart.Backoff

	mu      sync.Mutex
	workers map[string]*podWorker // by pod UID
	synced  bool                  // Sync has been called: unwanted pods may go
	wg      sync.WaitGroup

	oomMu sync.Mutex
	ooms  map[string]bool // container IDs containerd reported OOM for

	events eventLog // events.go

	trace   atomic.Pointer[stepTrace] // nil but in benchmarks
	storage *localstorage.Dir         // nil without Config.StorageDir
}

// New connects to containerd, makes the pause image and the CNI network
// config present, and returns an agent that has touched no pod yet: pods
// found running are adopted when Sync names them, and torn down after the
// first Sync if it does not.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.RunDir, cfg.LogDir, filepath.Join(cfg.RunDir, "pods")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	client, err := containerd.New(cfg.ContainerdAddress, containerd.WithDefaultNamespace(cfg.Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.ContainerdAddress, err)
	}
	actx, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	a := &Agent{
		cfg:     cfg,
		ctx:     actx,
		cancel:  cancel,
		client:  client,
		images:  &imageStore{client: client, snapshotter: cfg.Snapshotter, insecure: cfg.InsecureRegistries},
		workers: map[string]*podWorker{},
		ooms:    map[string]bool{},
		backoff: restart.NewBackoff(cfg.Clock),
	}
	fail := func(err error) (*Agent, error) {
		cancel()
		client.Close()
		return nil, err
	}
	if a.net, err = newNetwork(&a.cfg); err != nil {
		return fail(err)
	}
	if cfg.StorageDir != "" {
		if a.storage, err = localstorage.Open(cfg.StorageDir); err != nil {
			return fail(fmt.Errorf("agent: %w", err))
		}
	}
	pctx := namespaces.WithNamespace(ctx, cfg.Namespace)
	if a.pause, err = a.images.ensurePause(pctx, cfg.PauseBinary); err != nil {
		return fail(fmt.Errorf("pause image (build it with `just build` (gcc nodeagent/pause/csrc/pause.c -o %s) or pass --pause-binary): %w", cfg.PauseBinary, err))
	}
	a.wg.Add(1)
	go a.watchOOM()
	return a, nil
}

// Close stops the agent's loops and closes its containerd connection. Pods
// keep running: a new agent adopts them.
func (a *Agent) Close() error {
	a.cancel()
	a.wg.Wait()
	return a.client.Close()
}

// Sync sets the pods that should run on this node, identified by UID. Pods
// not in the list are stopped and removed.
func (a *Agent) Sync(pods []*corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	desired := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		desired[string(p.UID)] = p
	}
	for uid, p := range desired {
		if w, ok := a.workers[uid]; ok {
			w.update(p.DeepCopy(), true)
			continue
		}
		a.startWorkerLocked(p.DeepCopy(), true)
	}
	for uid, w := range a.workers {
		if _, ok := desired[uid]; !ok {
			w.update(nil, false)
		}
	}
	if !a.synced {
		a.synced = true
		if err := a.collectLocked(a.ctx); err != nil {
			a.cfg.Logger.Error("garbage collection", "err", err)
		}
	}
}

func (a *Agent) startWorkerLocked(pod *corev1.Pod, wanted bool) {
	w := newPodWorker(a, pod, wanted)
	// The pod directory is made before any containerd object of the pod
	// and removed after the last: without it there is nothing to adopt,
	// and a new pod skips the lookup. Until the lookup is done the pod's
	// status is not known: its phase stays empty (never reported), not
	// Pending, which would turn a running or finished pod back for the
	// server and every user reading it.
	_, err := os.Stat(string(a.podDir(w.uid)))
	adopt := err == nil
	if adopt {
		w.status = corev1.PodStatus{}
	}
	a.workers[w.uid] = w
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if adopt {
			if err := w.adopt(a.ctx); err != nil {
				w.log.Error("adopt", "err", err)
			}
		}
		w.run()
	}()
}

// workerDone forgets a worker whose pod is torn down, or starts a fresh
// one if the pod became wanted again meanwhile.
func (a *Agent) workerDone(w *podWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] != w {
		return
	}
	delete(a.workers, w.uid)
	w.mu.Lock()
	pod, wanted := w.pod, w.wanted
	w.mu.Unlock()
	if wanted && a.ctx.Err() == nil {
		a.startWorkerLocked(pod, true)
	}
}

// Status returns every pod the agent holds, wanted or still being torn
// down, with its status as Kubernetes would compute it.
func (a *Agent) Status() []corev1.Pod {
	a.mu.Lock()
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	out := make([]corev1.Pod, 0, len(ws))
	for _, w := range ws {
		w.mu.Lock()
		p := corev1.Pod{ObjectMeta: *w.pod.ObjectMeta.DeepCopy(), Spec: *w.pod.Spec.DeepCopy(), Status: *w.status.DeepCopy()}
		p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		w.mu.Unlock()
		out = append(out, p)
	}
	return out
}

// Run feeds the agent from src and collects garbage every GCInterval
// until ctx ends.
func (a *Agent) Run(ctx context.Context, src Source) error {
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		t := a.cfg.Clock.NewTicker(a.cfg.GCInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.ctx.Done():
				return
			case <-t.C():
				if err := a.CollectGarbage(); err != nil {
					a.cfg.Logger.Error("garbage collection", "err", err)
				}
			}
		}
	}()
	err := src.Watch(ctx, a.Sync)
	<-gcDone
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// CollectGarbage finds berth-labelled objects that no pod owns and removes
// them: containers and pod directories become workers that tear the pod
// down; snapshots, IP leases and log directories nobody owns are removed.
// It does nothing before the first Sync, when who is wanted is unknown.
func (a *Agent) CollectGarbage() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.synced {
		return nil
	}
	return a.collectLocked(a.ctx)
}

func (a *Agent) collectLocked(ctx context.Context) error {
	var errs []error
	orphans := map[string]*corev1.Pod{}
	cs, err := a.client.Containers(ctx, fmt.Sprintf("labels.%q", LabelPodUID))
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			continue
		}
		uid := labels[LabelPodUID]
		if _, ok := a.workers[uid]; ok || uid == "" {
			continue
		}
		orphans[uid] = orphanPod(uid, labels[LabelPodNS], labels[LabelPodName], labels[LabelGrace])
	}
	podsDir := filepath.Join(a.cfg.RunDir, "pods")
	entries, err := os.ReadDir(podsDir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range entries {
		uid := e.Name()
		if _, ok := a.workers[uid]; ok || orphans[uid] != nil {
			continue
		}
		var rec podRecord
		b, _ := os.ReadFile(filepath.Join(podsDir, uid, "pod.json"))
		_ = json.Unmarshal(b, &rec)
		orphans[uid] = orphanPod(uid, rec.Namespace, rec.Name, "0")
	}
	for _, p := range orphans {
		a.cfg.Logger.Info("removing pod nobody wants", "pod", podKey(p), "uid", p.UID)
		a.startWorkerLocked(p, false)
	}
	errs = append(errs, a.collectSnapshots(ctx), a.collectLeases(), a.collectLogs())
	return errors.Join(errs...)
}

// orphanPod stands in for a pod known only from labels or its record.
func orphanPod(uid, ns, name, grace string) *corev1.Pod {
	g, err := strconv.ParseInt(grace, 10, 64)
	if err != nil || g < 0 {
		g = corev1.DefaultTerminationGracePeriodSeconds
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &g},
	}
}

// collectSnapshots removes berth-labelled snapshots whose container is
// gone (a crash between snapshot and container creation leaves them).
func (a *Agent) collectSnapshots(ctx context.Context) error {
	sn := a.client.SnapshotService(a.cfg.Snapshotter)
	var stale []string
	err := sn.Walk(ctx, func(ctx context.Context, info snapshots.Info) error {
		uid := info.Labels[LabelPodUID]
		if uid == "" {
			return nil
		}
		if _, ok := a.workers[uid]; ok {
			return nil
		}
		stale = append(stale, info.Name)
		return nil
	}, fmt.Sprintf("labels.%q", LabelPodUID))
	if err != nil {
		return fmt.Errorf("walk snapshots: %w", err)
	}
	var errs []error
	for _, key := range stale {
		if _, err := a.client.LoadContainer(ctx, key); err == nil {
			continue // its container's worker removes it with the container
		}
		if err := sn.Remove(ctx, key); err != nil && ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

// collectLeases removes host-local IP lease files whose sandbox no pod
// owns: a lease whose DEL was lost would otherwise hold its IP forever.
func (a *Agent) collectLeases() error {
	dir := filepath.Join(a.cfg.RunDir, "ipam", a.cfg.NetworkName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	for uid := range a.workers {
		owned[sandboxID(uid)] = true
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "last_reserved_ip") || name == "lock" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		id := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		if owned[id] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// collectLogs removes log directories of pods the agent no longer holds.
func (a *Agent) collectLogs() error {
	entries, err := os.ReadDir(a.cfg.LogDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		uid := parts[len(parts)-1]
		if len(parts) != 3 || a.workers[uid] != nil {
			continue
		}
		if err := os.RemoveAll(filepath.Join(a.cfg.LogDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deletePodContainers deletes every container labelled with the pod UID.
func (a *Agent) deletePodContainers(ctx context.Context, uid string) error {
	cs, err := a.client.Containers(ctx, fmt.Sprintf("labels.%q==%q,labels.%q==%q", LabelPodUID, uid, LabelRole, roleContainer))
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", uid, err)
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, a.deleteContainer(ctx, c))
	}
	return errors.Join(errs...)
}

// watchOOM records the containers containerd reports as OOM-killed.
func (a *Agent) watchOOM() {
	defer a.wg.Done()
	for a.ctx.Err() == nil {
		ch, errc := a.client.Subscribe(a.ctx, `topic=="/tasks/oom"`, fmt.Sprintf("namespace==%q", a.cfg.Namespace))
	loop:
		for {
			select {
			case env := <-ch:
				ev, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if oom, ok := ev.(*apievents.TaskOOM); ok {
					a.oomMu.Lock()
					a.ooms[oom.ContainerID] = true
					a.oomMu.Unlock()
				}
			case err := <-errc:
				if a.ctx.Err() == nil {
					a.cfg.Logger.Warn("containerd events", "err", err)
				}
				break loop
			case <-a.ctx.Done():
				return
			}
		}
		select {
		case <-a.ctx.Done():
		case <-a.cfg.Clock.After(time.Second):
		}
	}
}

// oomKilled reports whether the exited task's container was OOM-killed:
// by containerd's TaskOOM event, or, if that has not arrived yet, by the
// memory cgroup's oom_kill counter, still readable until the task is
// deleted.
func (a *Agent) oomKilled(ctx context.Context, task containerd.Task, checkCgroup bool) bool {
	a.oomMu.Lock()
	seen := a.ooms[task.ID()]
	delete(a.ooms, task.ID())
	a.oomMu.Unlock()
	if seen || !checkCgroup {
		return seen
	}
	m, err := task.Metrics(ctx)
	if err != nil || m == nil {
		return false
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return false
	}
	if v1, ok := data.(*stats.Metrics); ok && v1.MemoryOomControl != nil {
		return v1.MemoryOomControl.OomKill > 0
	}
	return false
}

// Drain removes every pod (as Sync with an empty list does) and waits
// until all are torn down or ctx ends.
func (a *Agent) Drain(ctx context.Context) error {
	a.Sync(nil)
	for {
		a.mu.Lock()
		n := len(a.workers)
		var one *podWorker
		for _, w := range a.workers {
			one = w
			break
		}
		a.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-one.done:
		case <-ctx.Done():
			return fmt.Errorf("drain: %d pods left: %w", n, ctx.Err())
		}
	}
}

// Exec runs cmd in the named container of the pod with the given UID and
// returns its output and exit code; probes and tests use it.
func (a *Agent) Exec(ctx context.Context, uid, container string, cmd []string) (stdout, stderr []byte, code int, err error) {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w == nil {
		return nil, nil, 0, fmt.Errorf("exec: no pod with UID %s", uid)
	}
	id := w.runningID(container)
	if id == "" {
		return nil, nil, 0, fmt.Errorf("exec: container %s of pod %s is not running", container, uid)
	}
	return a.exec(ctx, id, cmd, false)
}

// ImportImages imports the images in a docker-save or OCI archive into
// the agent's namespace and returns their names: the way to run images on
// a node that reaches no registry.
func (a *Agent) ImportImages(ctx context.Context, r io.Reader) ([]string, error) {
	return a.images.importArchive(namespaces.WithNamespace(ctx, a.cfg.Namespace), r)
}
