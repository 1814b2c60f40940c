package remote

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent"
	pauseprog "github.com/berth-dev/berth/nodeagent/pause"
	"github.com/berth-dev/berth/reconciler"
)

// TestRunAgentOnContainerd joins a real nodeagent.Agent, on a private
// containerd with CNI, to the real API server: a pod bound in the store
// runs, its status and logs reach the server, and deleting it removes it
// from the node and then from the store.
func TestRunAgentOnContainerd(t *testing.T) {
	testenv.RequireRoot(t)
	for _, b := range []string{"iptables", "ip"} {
		testenv.RequireBinary(t, b)
	}
	for _, p := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback", images.DefaultBusybox} {
		testenv.RequireFile(t, p)
	}
	ctrd := testenv.NewContainerd(t)
	reg := testenv.NewRegistry(t)
	ctx := context.Background()
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	busybox := reg.Host + "/library/busybox:remote"
	if err := images.Push(ctx, img, busybox, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pause := filepath.Join(dir, "berth-pause")
	if err := pauseprog.Build(pause); err != nil {
		t.Fatal(err)
	}

	const subnet = "198.19.231.0/24"
	s := newServerCIDR(t, subnet)
	name := "remote-it"
	bridge := "brt-remote"
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", bridge).Run()
		out, _ := exec.Command("iptables-save", "-t", "nat").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "-A POSTROUTING") && strings.Contains(line, subnet) {
				args := strings.Fields(strings.Replace(line, "-A", "-D", 1))
				_ = exec.Command("iptables", append([]string{"-t", "nat"}, args...)...).Run()
			}
		}
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	agentCfg := nodeagent.Config{
		ContainerdAddress: ctrd.Address, RuncRoot: ctrd.RuncRoot, Namespace: name, NodeName: name,
		RunDir: filepath.Join(dir, "run"), LogDir: filepath.Join(dir, "log"),
		CNIConfPath: filepath.Join(dir, "cni", name+".conflist"), NetworkName: name, Bridge: bridge,
		PauseBinary: pause, ResyncInterval: time.Second, Logger: log,
	}
	linkCfg := Config{Server: s.http.URL, Token: tokens.Agent, StatusPoll: 100 * time.Millisecond, MinBackoff: 50 * time.Millisecond, Logger: log}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunAgent(runCtx, linkCfg, agentCfg) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunAgent: %v", err)
		}
	}()

	// waitFor polls the real system (containerd, CNI, the agent's loops).
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s", limit, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the node to register", time.Minute, func() bool { return s.node(name) != nil })
	if n := s.node(name); n.PodCIDR != subnet {
		t.Fatalf("pod CIDR %s, want %s", n.PodCIDR, subnet)
	}
	s.bind(t, "hello", name, func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Name: "c", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"sh", "-c", "echo hello-from-the-pod; exec sleep 3600"}}}
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
	})
	waitFor("the pod to run", 2*time.Minute, func() bool {
		p := s.pod("hello")
		return p != nil && p.Pod.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Pod.Status.PodIP, "198.19.231.")
	})
	admin, err := client.New(s.http.URL, tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the pod's log through the server", time.Minute, func() bool {
		rc, err := admin.Logs(ctx, "default", "hello", api.LogOptions{})
		if err != nil {
			return false
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return bytes.Contains(b, []byte("hello-from-the-pod"))
	})

	now := metav1.Now()
	s.bind(t, "hello", name, func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Name: "c", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"sh", "-c", "echo hello-from-the-pod; exec sleep 3600"}}}
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.DeletionTimestamp = &now
	})
	waitFor("the deleted pod to be gone from node and store", 2*time.Minute, func() bool { return s.pod("hello") == nil })
	var left []*reconciler.PodRecord
	_ = s.store.View(func(tx reconciler.ReadTx) (err error) { left, err = tx.Pods(); return err })
	if len(left) != 0 {
		t.Fatalf("%d pod records left", len(left))
	}
}
