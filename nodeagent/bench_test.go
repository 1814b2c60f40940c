package nodeagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/netns"
	"github.com/containernetworking/cni/libcni"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

const benchPods = 50

func benchPod(nd *node, name string) *corev1.Pod {
	zero := int64(0)
	return nd.pod(name, corev1.PodSpec{
		TerminationGracePeriodSeconds: &zero,
		Containers: []corev1.Container{
			{Name: "a", Command: []string{"sleep", "3600"}},
			{Name: "b", Command: []string{"sleep", "3600"}},
		},
	})
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i].Microseconds()) / 1000
}

// waitRunning polls Status until the pod's containers all run and returns
// when it saw that. Polling every 2ms bounds the measuring error.
func (nd *node) waitRunningFast(b testing.TB, uid string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, p := range nd.agent.Status() {
			if string(p.UID) == uid && running(&p) {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("pod %s did not run within 2 minutes", uid)
}

func (nd *node) waitGoneFast(b testing.TB, uid string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		found := false
		for _, p := range nd.agent.Status() {
			found = found || string(p.UID) == uid
		}
		if !found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("pod %s not torn down within 2 minutes", uid)
}

// BenchmarkAgentPods starts 50 pods (pause + 2 busybox containers, images
// present) one after another and then 10 at a time, tears them down, and
// does the same with a minimal program calling the containerd client and
// libcni directly (the floor). It reports start latency (request to all
// containers running) p50/p99, tear-down p50, the floor's, and the agent's
// RSS with 50 pods running, measured on a separate agent process (the
// test binary run as an agent; its anonymous part is the agent's own
// memory, the rest is mapped program text).
func BenchmarkAgentPods(b *testing.B) {
	for i := 0; i < b.N; i++ {
		nd := newNode(b, nodeOpts{noAgent: true})
		rss, anon := measureChildRSS(b, nd)
		nd.start()
		// Let the agent remove the child's pods before measuring.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := nd.agent.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()

		// Warm up: images unpacked, bridge made.
		warm := benchPod(nd, "warm")
		nd.agent.Sync([]*corev1.Pod{warm})
		nd.waitRunningFast(b, string(warm.UID))
		nd.agent.Sync(nil)
		nd.waitGoneFast(b, string(warm.UID))

		// One after another, each berth pod followed by a floor pod, so
		// both see the same machine load (it is shared and noisy).
		fl := newFloor(b, nd)
		var floorPods []*floorPod
		var floorUp, floorDown []time.Duration
		var pods []*corev1.Pod
		var seq, down []time.Duration
		for j := 0; j < benchPods; j++ {
			p := benchPod(nd, fmt.Sprintf("seq-%d", j))
			pods = append(pods, p)
			t0 := time.Now()
			nd.agent.Sync(pods)
			nd.waitRunningFast(b, string(p.UID))
			seq = append(seq, time.Since(t0))

			t0 = time.Now()
			floorPods = append(floorPods, fl.start(j))
			floorUp = append(floorUp, time.Since(t0))
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heapMB := float64(ms.HeapInuse+ms.StackInuse) / (1 << 20)
		for len(pods) > 0 {
			p := pods[len(pods)-1]
			pods = pods[:len(pods)-1]
			t0 := time.Now()
			nd.agent.Sync(pods)
			nd.waitGoneFast(b, string(p.UID))
			down = append(down, time.Since(t0))

			fp := floorPods[len(floorPods)-1]
			floorPods = floorPods[:len(floorPods)-1]
			t0 = time.Now()
			fl.stop(fp)
			floorDown = append(floorDown, time.Since(t0))
		}
		fl.close()

		// Ten at a time: each pod's latency from the Sync that asked for it.
		var par []time.Duration
		for batch := 0; batch < benchPods/10; batch++ {
			var batchPods []*corev1.Pod
			for j := 0; j < 10; j++ {
				batchPods = append(batchPods, benchPod(nd, fmt.Sprintf("par-%d-%d", batch, j)))
			}
			pods = append(pods, batchPods...)
			t0 := time.Now()
			nd.agent.Sync(pods)
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, p := range batchPods {
				wg.Add(1)
				go func(uid string) {
					defer wg.Done()
					nd.waitRunningFast(b, uid)
					mu.Lock()
					par = append(par, time.Since(t0))
					mu.Unlock()
				}(string(p.UID))
			}
			wg.Wait()
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
		if err := nd.agent.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()

		b.ReportMetric(percentile(seq, 0.5), "seq-p50-ms")
		b.ReportMetric(percentile(seq, 0.99), "seq-p99-ms")
		b.ReportMetric(percentile(par, 0.5), "par10-p50-ms")
		b.ReportMetric(percentile(par, 0.99), "par10-p99-ms")
		b.ReportMetric(percentile(down, 0.5), "teardown-p50-ms")
		b.ReportMetric(percentile(floorUp, 0.5), "floor-p50-ms")
		b.ReportMetric(percentile(floorUp, 0.99), "floor-p99-ms")
		b.ReportMetric(percentile(floorDown, 0.5), "floor-teardown-p50-ms")
		b.ReportMetric(percentile(seq, 0.5)/percentile(floorUp, 0.5), "p50/floor")
		b.ReportMetric(rss, "agent-rss-MB")
		b.ReportMetric(anon, "agent-anon-MB")
		b.ReportMetric(heapMB, "inproc-heap-MB")
	}
}

// measureChildRSS runs this test binary as an agent on 50 static pods and
// measures it (measureAgentRSS).
func measureChildRSS(b testing.TB, nd *node) (rss, anon float64) {
	dir := staticPods(b, nd)
	return measureAgentRSS(b, nd, testBinaryAgent(nd, dir))
}

// staticPods writes 50 pod manifests (pause + 2 busybox) into a new
// directory for an agent process to run.
func staticPods(b testing.TB, nd *node) string {
	dir := b.TempDir()
	for j := 0; j < benchPods; j++ {
		y := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: rss-%d
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: a, image: %q, command: [sleep, "3600"]}
  - {name: b, image: %q, command: [sleep, "3600"]}
`, j, nd.parts.busybox, nd.parts.busybox)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("rss-%d.yaml", j)), []byte(y), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// testBinaryAgent runs this test binary as an agent of nd's config on the
// static pods in dir.
func testBinaryAgent(nd *node, dir string) *exec.Cmd {
	cfg := nd.cfg
	cfg.Logger, cfg.Clock = nil, nil
	spec, _ := json.Marshal(map[string]any{"Config": cfg, "Dir": dir})
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	child.Env = append(os.Environ(), agentEnv+"="+string(spec))
	return child
}

// measureAgentRSS starts child, an agent process running 50 pods, and
// reads its resident set (all, and anonymous) once containerd shows all
// 150 tasks running. The child is then SIGKILLed; its pods stay for the
// caller to remove.
func measureAgentRSS(b testing.TB, nd *node, child *exec.Cmd) (rss, anon float64) {
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = child.Process.Signal(syscall.SIGKILL); _ = child.Wait() }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		obs := nd.observe(b)
		n := 0
		for _, o := range obs {
			n += len(o.pids)
		}
		if n == 3*benchPods {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("child agent runs %d of %d tasks", n, 3*benchPods)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Let the child settle (status publication, GC) before reading.
	time.Sleep(2 * time.Second)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", child.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]float64{}
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			fields[strings.TrimSuffix(f[0], ":")] = float64(kb) / 1024
		}
	}
	return fields["Rss"], fields["Anonymous"]
}

// floorPod is a pod made the minimal way: no labels, records, logs,
// volumes or status, just the calls that make it run.
type floorPod struct {
	id    string
	ns    *netns.NetNS
	conts []containerd.Container
	tasks []containerd.Task
}

// floor makes pods the minimal way; start and stop each do one pod.
type floor struct {
	start func(i int) *floorPod
	stop  func(fp *floorPod)
	close func()
}

func newFloor(b testing.TB, nd *node) *floor {
	cl, err := containerd.New(nd.cfg.ContainerdAddress)
	if err != nil {
		b.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)
	var pause containerd.Image
	imgs, err := cl.ListImages(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, img := range imgs {
		if strings.HasPrefix(img.Name(), "localhost/berth/pause:") {
			pause = img
		}
	}
	busybox, err := cl.GetImage(ctx, nd.parts.busybox)
	if err != nil || pause == nil {
		b.Fatalf("floor needs the agent's images: pause %v, busybox %v", pause != nil, err)
	}
	conf, err := os.ReadFile(nd.cfg.CNIConfPath)
	if err != nil {
		b.Fatal(err)
	}
	list, err := libcni.NetworkConfFromBytes(conf)
	if err != nil {
		b.Fatal(err)
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{"/usr/lib/cni"}, filepath.Join(b.TempDir(), "cache"), nil)
	nsDir := filepath.Join(b.TempDir(), "netns")
	runtimeOpt := containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{Root: nd.cfg.RuncRoot})

	start := func(i int) *floorPod {
		fp := &floorPod{id: fmt.Sprintf("floor-%d", i)}
		var err error
		if fp.ns, err = netns.NewNetNS(nsDir); err != nil {
			b.Fatal(err)
		}
		if _, err := cni.AddNetworkList(ctx, list, &libcni.RuntimeConf{ContainerID: fp.id, NetNS: fp.ns.GetPath(), IfName: "eth0"}); err != nil {
			b.Fatal(err)
		}
		c, err := cl.NewContainer(ctx, fp.id, containerd.WithImage(pause), containerd.WithNewSnapshot(fp.id, pause), runtimeOpt,
			containerd.WithNewSpec(oci.WithImageConfig(pause),
				oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fp.ns.GetPath()}),
				oci.WithAnnotations(map[string]string{"io.kubernetes.cri.sandbox-id": fp.id, "io.kubernetes.cri.container-type": "sandbox"})))
		if err != nil {
			b.Fatal(err)
		}
		t, err := c.NewTask(ctx, cio.NullIO)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.Start(ctx); err != nil {
			b.Fatal(err)
		}
		fp.conts, fp.tasks = append(fp.conts, c), append(fp.tasks, t)
		pid := t.Pid()
		for _, name := range []string{"a", "b"} {
			id := fp.id + "-" + name
			c, err := cl.NewContainer(ctx, id, containerd.WithImage(busybox), containerd.WithNewSnapshot(id, busybox), runtimeOpt,
				containerd.WithNewSpec(oci.WithImageConfig(busybox), oci.WithProcessArgs("sleep", "3600"),
					oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fp.ns.GetPath()}),
					oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: fmt.Sprintf("/proc/%d/ns/ipc", pid)}),
					oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", pid)}),
					oci.WithAnnotations(map[string]string{"io.kubernetes.cri.sandbox-id": fp.id, "io.kubernetes.cri.container-type": "container"})))
			if err != nil {
				b.Fatal(err)
			}
			t, err := c.NewTask(ctx, cio.NullIO)
			if err != nil {
				b.Fatal(err)
			}
			if err := t.Start(ctx); err != nil {
				b.Fatal(err)
			}
			fp.conts, fp.tasks = append(fp.conts, c), append(fp.tasks, t)
		}
		return fp
	}
	stop := func(fp *floorPod) {
		for i := len(fp.tasks) - 1; i >= 0; i-- {
			if _, err := fp.tasks[i].Delete(ctx, containerd.WithProcessKill); err != nil {
				b.Fatal(err)
			}
			if err := fp.conts[i].Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
				b.Fatal(err)
			}
		}
		if err := cni.DelNetworkList(ctx, list, &libcni.RuntimeConf{ContainerID: fp.id, NetNS: fp.ns.GetPath(), IfName: "eth0"}); err != nil {
			b.Fatal(err)
		}
		if err := fp.ns.Remove(); err != nil {
			b.Fatal(err)
		}
	}
	return &floor{start: start, stop: stop, close: func() { cl.Close() }}
}
