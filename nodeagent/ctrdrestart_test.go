package nodeagent_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent"
)

// ownContainerd starts a containerd for one test, its log going to logw
// (may be nil). Call it before newNode: its clean-up then runs after the
// node's drain.
func ownContainerd(t *testing.T, logw io.Writer) *containerdrun.Daemon {
	t.Helper()
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "bt-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	ctrd, err := containerdrun.Start(context.Background(), dir, logw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctrd.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return ctrd
}

// A containerd crash breaks the agent's wait on every task; that is not
// the tasks exiting (their shims keep them running). Found by the chaos
// harness (internal/chaos, containerd-restart): the agent took the broken
// wait for the pause container's exit, tried to recreate the sandbox and
// then waited forever for the log of an app container that had not
// exited, so the pod was never changed or torn down again.
func TestContainerdCrashIsNotAnExit(t *testing.T) {
	ctrd := ownContainerd(t, nil)
	nd := newNode(t, nodeOpts{ctrd: ctrd})
	pod := nd.pod("steady", corev1.PodSpec{Containers: []corev1.Container{
		sh("app", "trap 'exit 0' TERM; while true; do sleep 1; done"),
	}})
	nd.agent.Sync([]*corev1.Pod{pod})
	before := nd.waitFor(pod.UID, 60*time.Second, "running", running)

	if err := ctrd.Crash(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Give the agent the time to misread the broken waits, then look.
	time.Sleep(3 * time.Second)
	after := nd.waitFor(pod.UID, 30*time.Second, "running", running)
	if got := containerStatus(after, "app"); got.RestartCount != 0 || got.ContainerID != containerStatus(before, "app").ContainerID {
		t.Errorf("after the containerd crash the app container is %s restarts=%d, want the same %s with no restart",
			got.ContainerID, got.RestartCount, containerStatus(before, "app").ContainerID)
	}
	if after.Status.PodIP != before.Status.PodIP {
		t.Errorf("pod IP moved from %s to %s: the sandbox was recreated", before.Status.PodIP, after.Status.PodIP)
	}

	nd.agent.Sync(nil)
	// Polled aside: a stuck worker also blocks Status.
	gone := make(chan struct{})
	go func() {
		for nd.statusOf(pod.UID) != nil {
			time.Sleep(100 * time.Millisecond)
		}
		close(gone)
	}()
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("pod not torn down 30s after its removal: the agent is stuck on it")
	}
}

// Chaos seed 401449: containerd SIGKILLed while it created a container's
// task loads that task's shim again on restart, but the shim never made
// the runc container: containerd then answers "not found" to a Get of the
// task and "already exists" to a new one. The agent's container create
// failed that way for ever (the Job's pod never ran; its shim and a cgroup
// leaked). Here runc stalls in create while containerd is killed; the pod
// whose container has that ID must still start.
func TestTaskHalfMadeByContainerdCrash(t *testing.T) {
	ctrd := ownContainerd(t, nil)
	nd := newNode(t, nodeOpts{ctrd: ctrd})
	pod := nd.pod("half", corev1.PodSpec{Containers: []corev1.Container{idle("app")}})
	id := nodeagent.ContainerID(string(pod.UID), "app", 0)

	stalled := filepath.Join(ctrd.Dir, "stalled")
	slowRunc := filepath.Join(ctrd.Dir, "slow-runc")
	script := fmt.Sprintf("#!/bin/sh\nfor a; do [ \"$a\" = create ] && touch %s && sleep 5; done\nexec runc \"$@\"\n", stalled)
	if err := os.WriteFile(slowRunc, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cl, err := containerd.New(ctrd.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)
	c, err := cl.NewContainer(ctx, id,
		containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{Root: ctrd.RuncRoot, BinaryName: slowRunc}),
		containerd.WithNewSpec(oci.WithProcessArgs("/bin/true")))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = c.NewTask(ctx, cio.NullIO) }() // cut short by the crash
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(stalled); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runc create never started")
		}
	}
	if err := ctrd.Crash(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The state the chaos run met: containerd knows no task for the
	// container, and refuses a new one.
	cl2, err := containerd.New(ctrd.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	c2, err := cl2.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Task(ctx, nil); !errdefs.IsNotFound(err) {
		t.Fatalf("after the crash, task of the half-made container: %v, want not found", err)
	}

	nd.agent.Sync([]*corev1.Pod{pod})
	nd.waitFor(pod.UID, 60*time.Second, "running", running)
}
