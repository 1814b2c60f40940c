package nodeagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/images"
)

// criNet is the CNI network of the CRI daemon: its own bridge (the
// helper-prefixed "hbcri0") and subnet, so it never meets an agent's.
const (
	criBridge = "hbcri0"
	criSubnet = "198.19.219.0/24"
)

// criRuntime is containerd with its CRI plugin, driven over the CRI API
// as the kubelet drives it.
type criRuntime struct {
	address string
	rt      runtimeapi.RuntimeServiceClient
	img     runtimeapi.ImageServiceClient
	busybox string
	logDir  string
}

// newCRI starts a second private containerd with the CRI plugin on, a CNI
// network list of the same plugins the agent uses (bridge, host-local,
// portmap; the plugin adds loopback itself) and the agent's own pause and
// busybox images imported into the "k8s.io" namespace, since nothing can
// be pulled here.
func newCRI(b testing.TB) *criRuntime {
	dir, err := os.MkdirTemp("", "hbcri-")
	if err != nil {
		b.Fatal(err)
	}
	confDir := filepath.Join(dir, "net.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		b.Fatal(err)
	}
	conf, _ := json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "hbcri",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": criBridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type": "host-local", "ranges": [][]map[string]string{{{"subnet": criSubnet}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}}, "dataDir": filepath.Join(dir, "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	})
	if err := os.WriteFile(filepath.Join(confDir, "10-hbcri.conflist"), conf, 0o644); err != nil {
		b.Fatal(err)
	}
	const pauseRef, busyboxRef = "localhost/berth/pause:cri", "localhost/berth/busybox:cri"
	ctrd, err := containerdrun.Start(context.Background(), filepath.Join(dir, "d"), nil,
		containerdrun.CRI{SandboxImage: pauseRef, BinDir: "/usr/lib/cni", ConfDir: confDir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := ctrd.Stop(); err != nil {
			b.Errorf("stop CRI containerd: %v", err)
		}
		cleanNetwork(b, criBridge, criSubnet)
		cleanCgroups(b, "k8s.io")
		os.RemoveAll(dir)
	})

	pause, err := images.Pause(pauseBinary)
	if err != nil {
		b.Fatal(err)
	}
	busybox, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := containerd.New(ctrd.Address)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), "k8s.io")
	for ref, img := range map[string]v1.Image{pauseRef: pause, busyboxRef: busybox} {
		var buf bytes.Buffer
		if err := images.WriteArchive(&buf, img, ref); err != nil {
			b.Fatal(err)
		}
		imported, err := cl.Import(ctx, &buf)
		if err != nil {
			b.Fatal(err)
		}
		for _, i := range imported {
			if err := containerd.NewImage(cl, i).Unpack(ctx, "overlayfs"); err != nil {
				b.Fatal(err)
			}
		}
	}
	conn, err := grpc.NewClient("unix://"+ctrd.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return &criRuntime{
		address: ctrd.Address,
		rt:      runtimeapi.NewRuntimeServiceClient(conn),
		img:     runtimeapi.NewImageServiceClient(conn),
		busybox: busyboxRef,
		logDir:  filepath.Join(dir, "logs"),
	}
}

// start runs one pod the kubelet's way: RunPodSandbox, the sandbox's
// status (the kubelet reads its IP), then for every container, side by
// side, ImageStatus, CreateContainer and StartContainer; it ends when
// ListContainers reports them all running.
func (c *criRuntime) start(ctx context.Context, name string) (string, error) {
	uid := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	nsOpts := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	sbCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Uid: uid, Namespace: "default"},
		Hostname:     name,
		LogDirectory: filepath.Join(c.logDir, "default_"+name+"_"+uid),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: nsOpts}},
	}
	run, err := c.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sbCfg})
	if err != nil {
		return "", fmt.Errorf("RunPodSandbox: %w", err)
	}
	id := run.PodSandboxId
	if _, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id}); err != nil {
		return id, fmt.Errorf("PodSandboxStatus: %w", err)
	}
	names := []string{"a", "b"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, cn := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startContainer(ctx, id, sbCfg, cn, nsOpts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return id, err
		}
	}
	for {
		list, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: id}})
		if err != nil {
			return id, fmt.Errorf("ListContainers: %w", err)
		}
		n := 0
		for _, ct := range list.Containers {
			if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
				n++
			}
		}
		if n == len(names) {
			return id, nil
		}
		if err := ctx.Err(); err != nil {
			return id, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *criRuntime) startContainer(ctx context.Context, podID string, sbCfg *runtimeapi.PodSandboxConfig, name string, nsOpts *runtimeapi.NamespaceOption) error {
	spec := &runtimeapi.ImageSpec{Image: c.busybox}
	st, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		return fmt.Errorf("ImageStatus: %w", err)
	}
	if st.Image == nil {
		return fmt.Errorf("ImageStatus: %s is not present", c.busybox)
	}
	cr, err := c.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  podID,
		SandboxConfig: sbCfg,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: st.Image.Id},
			Command:  []string{"sleep", "3600"},
			LogPath:  name + "/0.log",
			Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: nsOpts}},
		},
	})
	if err != nil {
		return fmt.Errorf("CreateContainer %s: %w", name, err)
	}
	if _, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		return fmt.Errorf("StartContainer %s: %w", name, err)
	}
	return nil
}

// stop tears a pod down the kubelet's way: StopContainer for each (grace
// 0, side by side), StopPodSandbox, RemovePodSandbox.
func (c *criRuntime) stop(ctx context.Context, podID string) error {
	list, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: podID}})
	if err != nil {
		return fmt.Errorf("ListContainers: %w", err)
	}
	errs := make([]error, len(list.Containers))
	var wg sync.WaitGroup
	for i, ct := range list.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ct.Id, Timeout: 0})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("StopContainer: %w", err)
		}
	}
	if _, err := c.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		return fmt.Errorf("StopPodSandbox: %w", err)
	}
	if _, err := c.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		return fmt.Errorf("RemovePodSandbox: %w", err)
	}
	return nil
}

// BenchmarkCRICompare measures what users would otherwise run: the same
// pod (pause + 2 busybox, images present) made by berth's agent, by
// containerd's CRI plugin driven as the kubelet drives it, and by the
// containerd client plus libcni called directly (the floor berth builds
// on). One pod at a time (each created, then torn down, the three paths
// interleaved so they share the machine's load), then 10 at once. The end
// point is the same for all: the runtime reports every container running.
// Per-pod memory is the shim plus the pause and log processes under it.
func BenchmarkCRICompare(b *testing.B) {
	const pairs, batches, batch = 20, 3, 10
	for i := 0; i < b.N; i++ {
		// As `berth agent` runs by default: the agent writes the logs.
		nd := newNode(b, nodeOpts{})
		cri := newCRI(b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		steps := recordSteps(nd)

		berthStart := func(p *corev1.Pod) time.Duration {
			t0 := time.Now()
			nd.agent.Sync([]*corev1.Pod{p})
			nd.waitRunningFast(b, string(p.UID))
			return time.Since(t0)
		}
		berthStop := func(p *corev1.Pod) time.Duration {
			t0 := time.Now()
			nd.agent.Sync(nil)
			nd.waitGoneFast(b, string(p.UID))
			return time.Since(t0)
		}
		timed := func(f func() error) time.Duration {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		}
		// Warm up each path once: images unpacked, bridges made.
		warm := benchPod(nd, "warm")
		berthStart(warm)
		berthStop(warm)
		id, err := cri.start(ctx, "warm")
		if err != nil {
			b.Fatal(err)
		}
		if err := cri.stop(ctx, id); err != nil {
			b.Fatal(err)
		}
		fl := newFloor(b, nd) // uses the images the agent made present
		fl.stop(fl.start(1000))
		// The raw floor is reported when it works here; it is not what is
		// compared, so its failure costs only its rows.
		rf, err := newRuncFloor(b)
		rawStep := func(f func() error) time.Duration {
			if rf == nil {
				return 0
			}
			t0 := time.Now()
			if err := f(); err != nil {
				b.Logf("raw runc floor left out: %v", err)
				rf = nil
				return 0
			}
			return time.Since(t0)
		}
		if err != nil {
			b.Logf("raw runc floor left out: %v", err)
			rf = nil
		}
		var rp *runcPod
		rawStep(func() (err error) { rp, err = rf.start(1000); return err })
		rawStep(func() error { return rf.stop(rp) })
		steps.reset()

		var bUp, bDown, cUp, cDown, fUp, fDown, rUp, rDown []time.Duration
		for j := 0; j < pairs; j++ {
			p := benchPod(nd, fmt.Sprintf("one-%d", j))
			bUp = append(bUp, berthStart(p))
			var id string
			cUp = append(cUp, timed(func() (err error) { id, err = cri.start(ctx, fmt.Sprintf("one-%d", j)); return err }))
			var fp *floorPod
			fUp = append(fUp, timed(func() error { fp = fl.start(j); return nil }))
			bDown = append(bDown, berthStop(p))
			cDown = append(cDown, timed(func() error { return cri.stop(ctx, id) }))
			fDown = append(fDown, timed(func() error { fl.stop(fp); return nil }))
			var rp *runcPod
			if d := rawStep(func() (err error) { rp, err = rf.start(j); return err }); d > 0 {
				rUp = append(rUp, d)
			}
			if d := rawStep(func() error { return rf.stop(rp) }); d > 0 {
				rDown = append(rDown, d)
			}
		}

		steps.stop()

		var bPar, cPar []time.Duration
		var bMem, cMem podMemory
		for k := 0; k < batches; k++ {
			var pods []*corev1.Pod
			for j := 0; j < batch; j++ {
				pods = append(pods, benchPod(nd, fmt.Sprintf("par-%d-%d", k, j)))
			}
			t0 := time.Now()
			nd.agent.Sync(pods)
			bPar = append(bPar, nd.waitAllRunning(b, pods, t0)...)
			var wg sync.WaitGroup
			var mu sync.Mutex
			if k == 0 {
				bMem = measurePodMemory(b, nd.parts.ctrd.Address, batch)
			}
			nd.agent.Sync(nil)
			for _, p := range pods {
				nd.waitGoneFast(b, string(p.UID))
			}

			ids := make([]string, batch)
			errs := make([]error, batch)
			t0 = time.Now()
			for j := 0; j < batch; j++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ids[j], errs[j] = cri.start(ctx, fmt.Sprintf("par-%d-%d", k, j))
					mu.Lock()
					cPar = append(cPar, time.Since(t0))
					mu.Unlock()
				}()
			}
			wg.Wait()
			if k == 0 {
				cMem = measurePodMemory(b, cri.address, batch)
			}
			for j := 0; j < batch; j++ {
				if errs[j] != nil {
					b.Fatal(errs[j])
				}
				wg.Add(1)
				go func() { defer wg.Done(); errs[j] = cri.stop(ctx, ids[j]) }()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		cancel()
		fl.close()

		report := func(d []time.Duration, name string) {
			b.ReportMetric(percentile(d, 0.5), name+"-p50-ms")
			b.ReportMetric(percentile(d, 0.9), name+"-p90-ms")
			b.ReportMetric(percentile(d, 0.99), name+"-p99-ms")
		}
		report(bUp, "berth-create")
		report(cUp, "cri-create")
		report(fUp, "ctrd-direct-create")
		b.ReportMetric(percentile(bUp, 0.5)/percentile(cUp, 0.5), "create-p50/cri")
		b.ReportMetric(percentile(bUp, 0.99)/percentile(cUp, 0.99), "create-p99/cri")
		b.ReportMetric(medianRatio(bUp, cUp), "create-pair-ratio-p50")
		if len(rUp) == pairs && len(rDown) == pairs {
			report(rUp, "raw-runc-cni-create")
			report(rDown, "raw-runc-cni-teardown")
		}
		report(bDown, "berth-teardown")
		report(cDown, "cri-teardown")
		report(fDown, "ctrd-direct-teardown")
		b.ReportMetric(percentile(bDown, 0.5)/percentile(cDown, 0.5), "teardown-p50/cri")
		b.ReportMetric(medianRatio(bDown, cDown), "teardown-pair-ratio-p50")
		report(bPar, "berth-10at-once")
		report(cPar, "cri-10at-once")
		b.ReportMetric(percentile(bPar, 0.5)/percentile(bUp, 0.5), "berth-10at-once/one")
		b.ReportMetric(percentile(cPar, 0.5)/percentile(cUp, 0.5), "cri-10at-once/one")
		bMem.report(b, "berth")
		cMem.report(b, "cri")
		steps.report(b)
	}
}

// medianRatio is the median over pairs of a[i]/b[i]: each pair ran back
// to back, so the ratio cancels most of the machine's drift.
func medianRatio(a, b []time.Duration) float64 {
	r := make([]time.Duration, len(a))
	for i := range a {
		// As a duration in µs so percentile can sort it: ratio × 1000.
		r[i] = time.Duration(float64(a[i])/float64(b[i])*1000) * time.Microsecond
	}
	return percentile(r, 0.5)
}

// waitAllRunning polls Status (one poller, every 2 ms, so the measuring
// costs the agent little CPU) until every pod runs, and returns each one's
// time from t0 to when it was first seen running.
func (nd *node) waitAllRunning(b testing.TB, pods []*corev1.Pod, t0 time.Time) []time.Duration {
	seen := map[string]time.Duration{}
	deadline := time.Now().Add(2 * time.Minute)
	for len(seen) < len(pods) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d pods run after 2 minutes", len(seen), len(pods))
		}
		for _, p := range nd.agent.Status() {
			if _, ok := seen[string(p.UID)]; !ok && running(&p) {
				seen[string(p.UID)] = time.Since(t0)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	var out []time.Duration
	for _, d := range seen {
		out = append(out, d)
	}
	return out
}
