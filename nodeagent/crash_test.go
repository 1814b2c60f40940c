package nodeagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"

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

	nd.start()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() {
		runDone <- nd.agent.Run(ctx, &nodeagent.DirSource{Dir: dir, NodeName: nd.cfg.NodeName, Interval: 200 * time.Millisecond})
	}()
	t.Cleanup(func() { cancel(); <-runDone })

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
