package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/nodeagent"
)

// 100 create/delete cycles leave no netns, no CNI lease file, no snapshot,
// no task, no container and no volume dir behind.
func TestCreateDeleteCyclesLeaveNothing(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	const rounds, perRound = 20, 5 // 100 pods created and deleted
	for r := 0; r < rounds; r++ {
		var pods []*corev1.Pod
		for i := 0; i < perRound; i++ {
			c := idle("app")
			c.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}, {Name: "mem", MountPath: "/mem"}}
			zero := int64(0)
			p := nd.pod(fmt.Sprintf("cycle-%d-%d", r, i), corev1.PodSpec{
				TerminationGracePeriodSeconds: &zero,
				Volumes: []corev1.Volume{emptyDir("scratch"), {Name: "mem", VolumeSource: corev1.VolumeSource{
					EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
				Containers: []corev1.Container{c},
			})
			pods = append(pods, p)
		}
		nd.agent.Sync(pods)
		for _, p := range pods {
			nd.waitFor(p.UID, 60*time.Second, "running", running)
		}
		nd.agent.Sync(nil)
		deadline := time.Now().Add(60 * time.Second)
		for len(nd.agent.Status()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: pods not torn down: %d left", r, len(nd.agent.Status()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	nd.checkClean(t)
}

// checkClean fails the test for anything berth left on the node.
func (nd *node) checkClean(t *testing.T) {
	t.Helper()
	cl, err := containerd.New(nd.cfg.ContainerdAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)

	t.Run("no containers", func(t *testing.T) {
		cs, err := cl.Containers(ctx)
		if err != nil || len(cs) != 0 {
			t.Errorf("%d containers left (%v)", len(cs), err)
		}
	})
	t.Run("no tasks", func(t *testing.T) {
		resp, err := cl.TaskService().List(ctx, &tasks.ListTasksRequest{})
		if err != nil || len(resp.Tasks) != 0 {
			t.Errorf("tasks left: %v (%v)", resp, err)
		}
	})
	t.Run("no pod snapshots", func(t *testing.T) {
		var left []string
		err := cl.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			if info.Labels[nodeagent.LabelPodUID] != "" || info.Kind == snapshots.KindActive {
				left = append(left, info.Name)
			}
			return nil
		})
		if err != nil || len(left) > 0 {
			t.Errorf("snapshots left: %v (%v)", left, err)
		}
	})
	t.Run("no pod dirs, netns or volumes", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(nd.cfg.RunDir, "pods"))
		if err != nil || len(entries) != 0 {
			t.Errorf("pod dirs left: %d (%v)", len(entries), err)
		}
	})
	t.Run("no leases", func(t *testing.T) {
		entries, _ := os.ReadDir(filepath.Join(nd.cfg.RunDir, "ipam", nd.cfg.NetworkName))
		for _, e := range entries {
			if e.Name() != "lock" && !strings.HasPrefix(e.Name(), "last_reserved_ip") {
				t.Errorf("lease file left: %s", e.Name())
			}
		}
	})
	t.Run("no CNI cache", func(t *testing.T) {
		entries, _ := os.ReadDir(filepath.Join(nd.cfg.RunDir, "cni-cache", "results"))
		if len(entries) != 0 {
			t.Errorf("%d CNI cache entries left", len(entries))
		}
	})
	t.Run("no mounts", func(t *testing.T) {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, nd.cfg.RunDir) {
				t.Errorf("mount left: %s", line)
			}
		}
	})
	t.Run("no container cgroups", func(t *testing.T) {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", nd.cfg.Namespace, "*"))
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				t.Errorf("cgroup left: %s", d)
			}
		}
	})
	t.Run("no logs", func(t *testing.T) {
		entries, _ := os.ReadDir(nd.cfg.LogDir)
		if len(entries) != 0 {
			t.Errorf("%d log dirs left", len(entries))
		}
	})
}

// Two agents on one machine act as two nodes: each its own namespace,
// network, bridge and subnet; the same pod runs on both, and removing it
// from one leaves the other's alone.
func TestTwoAgentsOneMachine(t *testing.T) {
	a, b := newNode(t, nodeOpts{}), newNode(t, nodeOpts{})
	pa := a.pod("same", corev1.PodSpec{Containers: []corev1.Container{idle("app")}})
	pb := b.pod("same", corev1.PodSpec{Containers: []corev1.Container{idle("app")}})
	a.agent.Sync([]*corev1.Pod{pa})
	b.agent.Sync([]*corev1.Pod{pb})
	sa := a.waitFor(pa.UID, 60*time.Second, "running", running)
	sb := b.waitFor(pb.UID, 60*time.Second, "running", running)
	if sa.Status.PodIP == sb.Status.PodIP {
		t.Fatalf("both pods got %s", sa.Status.PodIP)
	}
	if !strings.HasPrefix(sa.Status.PodIP, strings.TrimSuffix(a.cfg.PodSubnet, "0/24")) ||
		!strings.HasPrefix(sb.Status.PodIP, strings.TrimSuffix(b.cfg.PodSubnet, "0/24")) {
		t.Fatalf("IPs %s, %s outside subnets %s, %s", sa.Status.PodIP, sb.Status.PodIP, a.cfg.PodSubnet, b.cfg.PodSubnet)
	}
	a.agent.Sync(nil)
	deadline := time.Now().Add(30 * time.Second)
	for len(a.agent.Status()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.agent.CollectGarbage(); err != nil {
		t.Fatal(err)
	}
	if p := b.statusOf(pb.UID); p == nil || !running(p) {
		t.Fatalf("the other agent's pod suffered: %s", describe(p))
	}
	a.checkClean(t)
}
