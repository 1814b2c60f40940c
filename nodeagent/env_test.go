package nodeagent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/nodeagent/pause"
)

// pauseBinary is built once for the package by TestMain.
var pauseBinary string

func TestMain(m *testing.M) {
	if spec := os.Getenv(agentEnv); spec != "" {
		os.Exit(runChildAgent(spec))
	}
	dir, err := os.MkdirTemp("", "berth-pause-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pauseBinary = filepath.Join(dir, "berth-pause")
	if err := pause.Build(pauseBinary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shared.stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sharedParts is one containerd and one registry (with busybox pushed) for
// the whole package: each test still gets its own agent, namespace,
// network, bridge and subnet, as separate nodes would.
type sharedParts struct {
	once    sync.Once
	err     error
	ctrd    *containerdrun.Daemon
	reg     *testenv.Registry
	busybox string
}

var shared sharedParts

func (s *sharedParts) stop() {
	if s.ctrd != nil {
		_ = s.ctrd.Stop()
	}
	if s.reg != nil {
		_ = s.reg.Stop()
	}
}

func (s *sharedParts) get(t testing.TB) *sharedParts {
	t.Helper()
	testenv.RequireRoot(t)
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-registry", "iptables", "ip"} {
		testenv.RequireBinary(t, b)
	}
	for _, p := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback", images.DefaultBusybox} {
		testenv.RequireFile(t, p)
	}
	s.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "berth-ctrd-")
		if err != nil {
			s.err = err
			return
		}
		if s.ctrd, s.err = containerdrun.Start(ctx, dir, nil); s.err != nil {
			return
		}
		rdir, err := os.MkdirTemp("", "berth-registry-")
		if err != nil {
			s.err = err
			return
		}
		if s.reg, s.err = testenv.StartRegistry(ctx, rdir, nil); s.err != nil {
			return
		}
		img, err := images.Busybox(images.DefaultBusybox)
		if err != nil {
			s.err = err
			return
		}
		s.busybox = s.reg.Host + "/library/busybox:test"
		s.err = images.Push(ctx, img, s.busybox, false)
	})
	if s.err != nil {
		t.Fatalf("shared test parts: %v", s.err)
	}
	return s
}

var nodeSeq atomic.Int32

// node is one agent under test with everything it owns.
type node struct {
	t     testing.TB
	agent *nodeagent.Agent
	cfg   nodeagent.Config
	parts *sharedParts
}

type nodeOpts struct {
	noAgent       bool // the test starts the agent itself
	clock         clock.WithTicker
	allowHostPath bool
	configs       nodeagent.ConfigSource
	// ctrd is the node's own containerd (default: the shared one).
	ctrd *containerdrun.Daemon
}

// newNode starts an agent as its own node: namespace, run and log dirs,
// CNI network, bridge and subnet. Cleanup drains it and removes the bridge
// and iptables chains the CNI plugins leave behind.
func newNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	parts := shared.get(t)
	n := int(nodeSeq.Add(1))
	name := fmt.Sprintf("bt%d-%d", os.Getpid()%10000, n)
	dir := t.TempDir()
	ctrd := parts.ctrd
	if o.ctrd != nil {
		ctrd = o.ctrd
	}
	cfg := nodeagent.Config{
		ContainerdAddress: ctrd.Address,
		RuncRoot:          ctrd.RuncRoot,
		Namespace:         name,
		NodeName:          name,
		RunDir:            filepath.Join(dir, "run"),
		LogDir:            filepath.Join(dir, "log"),
		CNIConfPath:       filepath.Join(dir, "cni", name+".conflist"),
		NetworkName:       name,
		Bridge:            name,
		PodSubnet:         fmt.Sprintf("198.18.%d.0/24", 100+n%150),
		PauseBinary:       pauseBinary,
		AllowHostPath:     o.allowHostPath,
		Configs:           o.configs,
		Clock:             o.clock,
		ResyncInterval:    time.Second,
		Logger:            slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	nd := &node{t: t, cfg: cfg, parts: parts}
	if !o.noAgent {
		nd.start()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if nd.agent != nil {
			if err := nd.agent.Drain(ctx); err != nil {
				t.Errorf("drain: %v", err)
			}
			nd.agent.Close()
		}
		cleanNetwork(t, cfg.Bridge, cfg.PodSubnet)
		cleanCgroups(t, cfg.Namespace)
	})
	return nd
}

func (nd *node) start() {
	nd.t.Helper()
	a, err := nodeagent.New(context.Background(), nd.cfg)
	if err != nil {
		nd.t.Fatal(err)
	}
	nd.agent = a
}

// cleanNetwork removes what CNI DEL leaves: the bridge and the iptables
// chains of the plugins, for this network only.
func cleanNetwork(t testing.TB, bridge, subnet string) {
	_ = exec.Command("ip", "link", "del", bridge).Run()
	out, _ := exec.Command("iptables-save", "-t", "nat").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "-A POSTROUTING") && strings.Contains(line, subnet) {
			args := strings.Fields(strings.Replace(line, "-A", "-D", 1))
			_ = exec.Command("iptables", append([]string{"-t", "nat"}, args...)...).Run()
		}
	}
}

// cleanCgroups removes the parent cgroups containerd made for the
// namespace (runc removes only each container's own).
func cleanCgroups(t testing.TB, namespace string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", namespace))
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// pod builds a pod as manifest.Load would return it: defaulted.
func (nd *node) pod(name string, spec corev1.PodSpec) *corev1.Pod {
	grace := int64(1)
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = &grace
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if cs[i].Image == "" {
				cs[i].Image = nd.parts.busybox
			}
			if cs[i].ImagePullPolicy == "" {
				cs[i].ImagePullPolicy = corev1.PullIfNotPresent
			}
		}
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(fmt.Sprintf("%s-%s-%d", nd.cfg.NodeName, name, time.Now().UnixNano()))},
		Spec:       spec,
	}
}

func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Command: []string{"sh", "-c", script}}
}

// statusOf returns the pod's current status, or nil if the agent holds no
// such pod.
func (nd *node) statusOf(uid types.UID) *corev1.Pod {
	for _, p := range nd.agent.Status() {
		if p.UID == uid {
			return &p
		}
	}
	return nil
}

// waitFor polls the agent until cond holds for the pod, failing after
// timeout with the last status seen. It waits on real events (containers
// starting), not on logic a fake clock could drive.
func (nd *node) waitFor(uid types.UID, timeout time.Duration, what string, cond func(p *corev1.Pod) bool) *corev1.Pod {
	nd.t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		if last = nd.statusOf(uid); last != nil && cond(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	nd.t.Fatalf("pod %s: timed out waiting for %s; last status: %s", uid, what, describe(last))
	return nil
}

func describe(p *corev1.Pod) string {
	if p == nil {
		return "<no pod>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s reason=%q msg=%q ip=%s", p.Status.Phase, p.Status.Reason, p.Status.Message, p.Status.PodIP)
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "\n  %s restarts=%d ", cs.Name, cs.RestartCount)
		switch {
		case cs.State.Running != nil:
			b.WriteString("running")
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, "waiting %s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, "terminated %s code=%d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return b.String()
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

func containerStatus(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

func (nd *node) exec(p *corev1.Pod, container string, cmd ...string) string {
	nd.t.Helper()
	out, errOut, code := nd.execCode(p, container, cmd...)
	if code != 0 {
		nd.t.Fatalf("exec %v in %s: exit %d: %s%s", cmd, container, code, out, errOut)
	}
	return string(out)
}

var _ = resource.MustParse

func newFakeClock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(time.Now()) }
