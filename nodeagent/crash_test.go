package nodeagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/nodeagent"
)

// agentEnv carries a Config to the agent child process.
const agentEnv = "BERTH_TEST_AGENT"

// runChildAgent is the body of the child process: a real agent reading
// static pods from a directory, until it is killed.
func runChildAgent(spec string) int {
	var child struct {
		Config nodeagent.Config
		Dir    string
	}
	if err := json.Unmarshal([]byte(spec), &child); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	a, err := nodeagent.New(context.Background(), child.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	src := &nodeagent.DirSource{Dir: child.Dir, NodeName: child.Config.NodeName, Interval: 200 * time.Millisecond}
	if err := a.Run(context.Background(), src); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func writePodManifest(t testing.TB, dir, name, image string) {
	t.Helper()
	y := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`, name, image)
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
}

// observed is what containerd shows of one pod: its IP and the PID of
// every running task, by container ID.
type observed struct {
	ip   string
	pids map[string]uint32
}

func (nd *node) observe(t testing.TB) map[string]*observed {
	t.Helper()
	cl, err := containerd.New(nd.cfg.ContainerdAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)
	cs, err := cl.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*observed{}
	for _, c := range cs {
		labels, _ := c.Labels(ctx)
		name := labels[nodeagent.LabelPodName]
		if out[name] == nil {
			out[name] = &observed{pids: map[string]uint32{}}
		}
		if ip := labels[nodeagent.LabelIP]; ip != "" {
			out[name].ip = ip
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
			out[name].pids[c.ID()] = task.Pid()
		}
	}
	return out
}

// An agent killed with SIGKILL while 5 pods run, then restarted: no
// container restarts, same IPs; a pod removed from the directory while it
// was down is gone after it returns.
func TestAgentSIGKILLAdoption(t *testing.T) {
	nd := newNode(t, nodeOpts{noAgent: true})
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		writePodManifest(t, dir, fmt.Sprintf("p%d", i), nd.parts.busybox)
	}
	cfg := nd.cfg
	cfg.Logger, cfg.Clock = nil, nil
	spec, _ := json.Marshal(map[string]any{"Config": cfg, "Dir": dir})
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), agentEnv+"="+string(spec))
	var childLog bytes.Buffer
	child.Stdout, child.Stderr = &childLog, &childLog
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	childDone := make(chan struct{})
	go func() { _ = child.Wait(); close(childDone) }()
	defer func() {
		_ = child.Process.Kill()
		<-childDone
		if t.Failed() {
			t.Logf("child agent log:\n%s", childLog.String())
		}
	}()

	// Wait until containerd shows 5 pods with pause and app running.
	var before map[string]*observed
	deadline := time.Now().Add(90 * time.Second)
	for {
		before = nd.observe(t)
		ready := 0
		for _, o := range before {
			if len(o.pids) == 2 && o.ip != "" {
				ready++
			}
		}
		if ready == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child agent did not start 5 pods; containerd shows %d ready", ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	killedAt := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-childDone
	if err := os.Remove(filepath.Join(dir, "p5.yaml")); err != nil {
		t.Fatal(err)
	}

	nd.runStatic(dir)

	deadline = time.Now().Add(60 * time.Second)
	sawPending := false
	for {
		st := nd.agent.Status()
		for _, p := range st {
			// Every pod ran before the kill: while it is adopted its phase
			// is unknown (empty, not reported), never Pending.
			if p.Status.Phase == corev1.PodPending && !sawPending {
				sawPending = true
				t.Errorf("%s reported Pending while it was adopted (it was running)", p.Name)
			}
		}
		after := nd.observe(t)
		ok := len(st) == 4 && after["p5"] == nil
		for _, p := range st {
			ok = ok && running(&p)
		}
		if ok {
			for _, p := range st {
				if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 {
					t.Errorf("%s: restartCount %d after adoption", p.Name, cs.RestartCount)
				}
				if p.Status.StartTime == nil || !p.Status.StartTime.Time.Before(killedAt) {
					t.Errorf("%s: startTime %v after adoption: want the time the first agent started it, before %v", p.Name, p.Status.StartTime, killedAt)
				}
				if p.Status.PodIP != before[p.Name].ip {
					t.Errorf("%s: IP %s after adoption, was %s", p.Name, p.Status.PodIP, before[p.Name].ip)
				}
				for id, pid := range before[p.Name].pids {
					if after[p.Name].pids[id] != pid {
						t.Errorf("%s: task %s has PID %d, was %d: it was restarted", p.Name, id, after[p.Name].pids[id], pid)
					}
				}
			}
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range st {
				b.WriteString(p.Name + ": " + describe(&p) + "\n")
			}
			t.Fatalf("after restart: want p1..p4 running and p5 gone; agent holds:\n%scontainerd holds p5: %v", b.String(), after["p5"] != nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(nd.cfg.RunDir, "pods")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(nd.cfg.RunDir, "pods"))
	if len(entries) != 4 {
		t.Errorf("run dir holds %d pod dirs, want 4", len(entries))
	}

}

// A sandbox whose pause process dies is replaced: its containers are
// stopped, a new sandbox gets the pod back to running, and the old
// network namespace is gone.
func TestDeadSandboxReplaced(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	zero := int64(0)
	pod := nd.pod("phoenix", corev1.PodSpec{Containers: []corev1.Container{idle("app")}, TerminationGracePeriodSeconds: &zero})
	nd.agent.Sync([]*corev1.Pod{pod})
	nd.waitFor(pod.UID, 60*time.Second, "running", running)
	netnsDir := filepath.Join(nd.cfg.RunDir, "pods", string(pod.UID), "netns")
	before, _ := os.ReadDir(netnsDir)
	if len(before) != 1 {
		t.Fatalf("want one pinned netns, have %d", len(before))
	}

	// Kill the pause process from the host.
	cl, err := containerd.New(nd.cfg.ContainerdAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)
	cs, err := cl.Containers(ctx, fmt.Sprintf("labels.%q==%q,labels.%q==sandbox", nodeagent.LabelPodUID, pod.UID, nodeagent.LabelRole))
	if err != nil || len(cs) != 1 {
		t.Fatalf("sandbox container: %v (%d found)", err, len(cs))
	}
	task, err := cs[0].Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(task.Pid()), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := nd.waitFor(pod.UID, 60*time.Second, "running in a new sandbox", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	after, _ := os.ReadDir(netnsDir)
	if len(after) != 1 || after[0].Name() == before[0].Name() {
		t.Fatalf("netns before %v, after %v: want exactly one, a new one", before, after)
	}
	if st.Status.PodIP == "" {
		t.Fatal("no IP in the new sandbox")
	}
}

// runStatic starts a new agent on the node reading static pods from dir;
// it runs until the test ends.
func (nd *node) runStatic(dir string) {
	nd.start()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() {
		runDone <- nd.agent.Run(ctx, &nodeagent.DirSource{Dir: dir, NodeName: nd.cfg.NodeName, Interval: 200 * time.Millisecond})
	}()
	nd.t.Cleanup(func() { cancel(); <-runDone })
}

// lineWatch is a containerd log writer that closes seen once a line holds
// want.
type lineWatch struct {
	mu   sync.Mutex
	want string
	buf  []byte
	seen chan struct{}
}

func (l *lineWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if l.want != "" && bytes.Contains(l.buf, []byte(l.want)) {
		close(l.seen)
		l.want = ""
	}
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineWatch) expect(s string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.want, l.seen = s, make(chan struct{})
	return l.seen
}

// shimOf is the PID of the containerd shim serving container id.
func shimOf(t testing.TB, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if !strings.Contains(args[0], "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-id" && args[i+1] == id {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				return pid
			}
		}
	}
	t.Fatalf("no shim serves %s", id)
	return 0
}

// Chaos seed 401449 found this: an agent SIGKILLed on a loaded node came
// back while the pause container's shim was too slow to answer containerd
// within its state timeout. containerd then answers with an unknown process
// of PID 0 instead of an error; the agent adopted the sandbox with PID 0
// and every container it started after that failed for ever ("namespace
// path: lstat /proc/0/ns/ipc"). The shim is frozen here until containerd
// has given up on it once, while the new agent adopts the pod; the pod's
// crashing container must still be restarted.
func TestAdoptionSurvivesSlowShim(t *testing.T) {
	logs := &lineWatch{}
	ctrd := ownContainerd(t, logs)
	nd := newNode(t, nodeOpts{noAgent: true, ctrd: ctrd})
	dir := t.TempDir()
	y := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", "sleep 2; exit 1"]
`, nd.parts.busybox)
	if err := os.WriteFile(filepath.Join(dir, "slow.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	child := testBinaryAgent(nd, dir)
	var childLog bytes.Buffer
	child.Stdout, child.Stderr = &childLog, &childLog
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = child.Process.Kill()
		_ = child.Wait()
		if t.Failed() {
			t.Logf("child agent log:\n%s", childLog.String())
		}
	}()
	var sandboxID string
	deadline := time.Now().Add(90 * time.Second)
	for sandboxID == "" {
		if o := nd.observe(t)["slow"]; o != nil && o.ip != "" {
			for id := range o.pids {
				if !strings.Contains(id, "-") {
					sandboxID = id
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the child agent did not start the pod")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	shim := shimOf(t, sandboxID)
	gaveUp := logs.expect("get state for " + sandboxID)
	if err := syscall.Kill(shim, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(shim, syscall.SIGCONT)
		}
	}
	defer thaw()
	nd.runStatic(dir)
	select {
	case <-gaveUp:
	case <-time.After(30 * time.Second):
		t.Fatal("containerd never timed out on the frozen shim")
	}
	thaw()

	var uid types.UID
	for deadline := time.Now().Add(30 * time.Second); uid == ""; time.Sleep(50 * time.Millisecond) {
		for _, p := range nd.agent.Status() {
			uid = p.UID
		}
		if time.Now().After(deadline) {
			t.Fatal("the new agent never reported the pod")
		}
	}
	before := int32(-1)
	nd.waitFor(uid, 90*time.Second, "the crashing container restarted after adoption", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		if before < 0 && p.Status.Phase != "" {
			before = cs.RestartCount
		}
		return before >= 0 && cs.RestartCount > before && cs.State.Running != nil
	})
}
