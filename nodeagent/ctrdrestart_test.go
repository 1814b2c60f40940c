package nodeagent_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/testenv"
)

// A containerd crash breaks the agent's wait on every task; that is not
// the tasks exiting (their shims keep them running). Found by the chaos
// harness (internal/chaos, containerd-restart): the agent took the broken
// wait for the pause container's exit, tried to recreate the sandbox and
// then waited forever for the log of an app container that had not
// exited, so the pod was never changed or torn down again.
func TestContainerdCrashIsNotAnExit(t *testing.T) {
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "bt-crash-")
	if err != nil {
		t.Fatal(err)
	}
	ctrd, err := containerdrun.Start(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the node, so it stops after the node's drain.
	t.Cleanup(func() {
		if err := ctrd.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
	})
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
