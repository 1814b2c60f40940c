package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/internal/testenv"
)

func idle(name string) corev1.Container {
	return sh(name, `trap 'exit 0' TERM; while true; do sleep 1; done`)
}

// The WAR-and-Tomcat pattern: an init container puts an artifact into the
// shared volume; the app finds it on its first start.
func TestInitContainerPreparesVolume(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	initC := sh("fetch", `echo artifact-v1 > /deploy/app.war`)
	initC.VolumeMounts = []corev1.VolumeMount{{Name: "deploy", MountPath: "/deploy"}}
	initC2 := sh("check", `test -f /deploy/app.war && echo second > /deploy/second`)
	initC2.VolumeMounts = initC.VolumeMounts
	app := sh("server", `cat /deploy/app.war /deploy/second > /proc/1/fd/1; test -f /deploy/app.war || exit 3; trap 'exit 0' TERM; while true; do sleep 1; done`)
	app.VolumeMounts = []corev1.VolumeMount{{Name: "deploy", MountPath: "/deploy"}}
	pod := nd.pod("war", corev1.PodSpec{Volumes: []corev1.Volume{emptyDir("deploy")}, InitContainers: []corev1.Container{initC, initC2}, Containers: []corev1.Container{app}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	for _, name := range []string{"fetch", "check"} {
		cs := containerStatus(st, name)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || cs.State.Terminated.Reason != "Completed" {
			t.Errorf("init container %s: %s", name, describe(st))
		}
	}
	if cs := containerStatus(st, "server"); cs.RestartCount != 0 {
		t.Fatalf("server restarted %d times: the artifact was not there on its first start", cs.RestartCount)
	}
	if got := nd.exec(st, "server", "cat", "/deploy/app.war"); strings.TrimSpace(got) != "artifact-v1" {
		t.Fatalf("artifact = %q", got)
	}
	init1 := containerStatus(st, "fetch").State.Terminated
	init2 := containerStatus(st, "check").State.Terminated
	if init2.StartedAt.Before(&init1.FinishedAt) {
		t.Errorf("second init container started %v, before the first finished %v", init2.StartedAt, init1.FinishedAt)
	}
	var initCond bool
	for _, c := range st.Status.Conditions {
		if c.Type == corev1.PodInitialized && c.Status == corev1.ConditionTrue {
			initCond = true
		}
	}
	if !initCond {
		t.Errorf("Initialized condition not true: %+v", st.Status.Conditions)
	}
}

// Log sidecar: the app appends lines to a file on the shared volume, a
// native sidecar prints them. The sidecar runs before the app starts and
// stops after it.
func TestLogSidecar(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	always := corev1.ContainerRestartPolicyAlways
	side := sh("logger", `touch /logs/app.log; tail -f /logs/app.log & trap 'sleep 1.5; kill %1; echo sidecar-stopping; exit 0' TERM; while true; do sleep 0.2; done`)
	side.RestartPolicy = &always
	side.VolumeMounts = []corev1.VolumeMount{{Name: "logs", MountPath: "/logs"}}
	app := sh("app", `i=0; trap 'echo app-stopping >> /logs/app.log; exit 0' TERM; while true; do i=$((i+1)); echo line-$i >> /logs/app.log; sleep 0.2; done`)
	app.VolumeMounts = side.VolumeMounts
	grace := int64(5)
	pod := nd.pod("logs", corev1.PodSpec{
		Volumes:                       []corev1.Volume{emptyDir("logs")},
		InitContainers:                []corev1.Container{side},
		Containers:                    []corev1.Container{app},
		TerminationGracePeriodSeconds: &grace,
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	sideSt, appSt := containerStatus(st, "logger"), containerStatus(st, "app")
	if sideSt.State.Running == nil {
		t.Fatalf("sidecar not running: %s", describe(st))
	}
	if appSt.State.Running.StartedAt.Before(&sideSt.State.Running.StartedAt) {
		t.Fatalf("app started %v before the sidecar %v", appSt.State.Running.StartedAt, sideSt.State.Running.StartedAt)
	}
	logPath := nd.agent.LogPath(pod.Namespace, pod.Name, string(pod.UID), "logger", 0)
	waitFile(t, logPath, "line-3")

	// Stop the pod: the app must be gone before the sidecar stops, so the
	// sidecar prints the app's last line.
	nd.agent.Sync(nil)
	deadline := time.Now().Add(30 * time.Second)
	var out []byte
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(logPath)
		if err != nil {
			break // torn down: the log dir is gone
		}
		out = b
		time.Sleep(20 * time.Millisecond)
	}
	s := string(out)
	ia, is := strings.Index(s, "app-stopping"), strings.Index(s, "sidecar-stopping")
	if ia < 0 || is < 0 || ia > is {
		t.Fatalf("want the app's last line before the sidecar stops; sidecar log:\n%s", s)
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s never held %q; it holds:\n%s", path, want, b)
}

// killMain SIGKILLs the container's main process from the host.
func (nd *node) killMain(containerID string) {
	nd.t.Helper()
	cl, err := containerd.New(nd.cfg.ContainerdAddress)
	if err != nil {
		nd.t.Fatal(err)
	}
	defer cl.Close()
	ctx := namespaces.WithNamespace(context.Background(), nd.cfg.Namespace)
	c, err := cl.LoadContainer(ctx, strings.TrimPrefix(containerID, "containerd://"))
	if err != nil {
		nd.t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		nd.t.Fatal(err)
	}
	if err := syscall.Kill(int(task.Pid()), syscall.SIGKILL); err != nil {
		nd.t.Fatal(err)
	}
}

// Kill an app container's process: it comes back, restartCount goes up,
// and the back-off doubles (driven by a fake clock).
func TestRestartBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	nd := newNode(t, nodeOpts{clock: clk})
	zero := int64(0)
	pod := nd.pod("crashy", corev1.PodSpec{Containers: []corev1.Container{idle("app")}, TerminationGracePeriodSeconds: &zero})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)

	restarts := func(n int32) func(p *corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cs := containerStatus(p, "app")
			return cs.RestartCount == n && cs.State.Running != nil
		}
	}
	backingOff := func(d string) func(p *corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			w := containerStatus(p, "app").State.Waiting
			return w != nil && w.Reason == "CrashLoopBackOff" && strings.Contains(w.Message, "back-off "+d+" ")
		}
	}
	// The first restart is immediate, as the kubelet does it.
	nd.killMain(containerStatus(st, "app").ContainerID)
	st = nd.waitFor(pod.UID, 30*time.Second, "first restart", restarts(1))
	if lt := containerStatus(st, "app").LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 {
		t.Fatalf("last termination not recorded as exit 137: %s", describe(st))
	}
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		nd.killMain(containerStatus(st, "app").ContainerID)
		nd.waitFor(pod.UID, 30*time.Second, "back-off "+wait.String(), backingOff(wait.String()))
		clk.Step(wait - time.Second)
		if p := nd.statusOf(pod.UID); containerStatus(p, "app").State.Running != nil {
			t.Fatalf("restarted before its back-off of %s ended", wait)
		}
		clk.Step(time.Second)
		st = nd.waitFor(pod.UID, 30*time.Second, fmt.Sprintf("restart %d", i+2), restarts(int32(i+2)))
	}
}

func TestNeverRestartFailedPod(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	pod := nd.pod("once", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{sh("job", "echo working; exit 1")}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := containerStatus(st, "job").State.Terminated
	if term == nil || term.ExitCode != 1 || term.Reason != "Error" {
		t.Fatalf("want terminated with exit 1: %s", describe(st))
	}
	if containerStatus(st, "job").RestartCount != 0 {
		t.Fatal("restartPolicy Never restarted the container")
	}
	b, err := os.ReadFile(nd.agent.LogPath(pod.Namespace, pod.Name, string(pod.UID), "job", 0))
	if err != nil || !strings.Contains(string(b), "working") {
		t.Fatalf("log: %q, %v", b, err)
	}
}

func TestMemoryLimitOOMKilled(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	hog := sh("hog", "exec dd if=/dev/zero of=/dev/null bs=64M count=1")
	hog.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}
	pod := nd.pod("hog", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{hog}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := containerStatus(st, "hog").State.Terminated
	if term == nil || term.Reason != "OOMKilled" {
		t.Fatalf("want OOMKilled: %s", describe(st))
	}
}

func TestMissingImageLeavesOthersAlone(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	bad := idle("app")
	bad.Image = nd.parts.reg.Host + "/library/does-not-exist:1"
	badPod := nd.pod("bad", corev1.PodSpec{Containers: []corev1.Container{bad}})
	good := nd.pod("good", corev1.PodSpec{Containers: []corev1.Container{idle("app")}})
	nd.agent.Sync([]*corev1.Pod{badPod, good})
	nd.waitFor(good.UID, 60*time.Second, "running", running)
	st := nd.waitFor(badPod.UID, 60*time.Second, "ErrImagePull", func(p *corev1.Pod) bool {
		w := containerStatus(p, "app").State.Waiting
		return w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff")
	})
	if st.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", st.Status.Phase)
	}
	if p := nd.statusOf(good.UID); !running(p) {
		t.Fatalf("the good pod suffered: %s", describe(p))
	}
}

func TestHostPathNeedsPermission(t *testing.T) {
	tests := []struct {
		name  string
		allow bool
		want  corev1.PodPhase
	}{
		{name: "refused by default", allow: false, want: corev1.PodFailed},
		{name: "allowed with --allow-host-path", allow: true, want: corev1.PodRunning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nd := newNode(t, nodeOpts{allowHostPath: tc.allow})
			hostDir := t.TempDir()
			if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("from-host"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := idle("app")
			c.VolumeMounts = []corev1.VolumeMount{{Name: "h", MountPath: "/host", ReadOnly: true}}
			pod := nd.pod("hp", corev1.PodSpec{
				Volumes:    []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}},
				Containers: []corev1.Container{c},
			})
			nd.agent.Sync([]*corev1.Pod{pod})
			st := nd.waitFor(pod.UID, 60*time.Second, string(tc.want), func(p *corev1.Pod) bool { return p.Status.Phase == tc.want })
			if !tc.allow {
				if st.Status.Reason != "HostPathNotAllowed" {
					t.Fatalf("reason %q, want HostPathNotAllowed", st.Status.Reason)
				}
				return
			}
			if got := nd.exec(st, "app", "cat", "/host/f"); got != "from-host" {
				t.Fatalf("hostPath content %q", got)
			}
		})
	}
}

func TestSubPath(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	writer := sh("writer", `mkdir -p /vol/a && echo in-a > /vol/a/file && ln -s / /vol/escape; trap 'exit 0' TERM; while true; do sleep 1; done`)
	writer.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/vol"}}
	reader := idle("reader")
	reader.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/sub", SubPath: "a"}}
	pod := nd.pod("sub", corev1.PodSpec{Volumes: []corev1.Volume{emptyDir("v")}, Containers: []corev1.Container{writer, reader}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	// The reader may have started before the writer wrote; the subPath
	// directory is shared either way.
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if out, _, code, err := nd.agent.Exec(t.Context(), string(pod.UID), "reader", []string{"cat", "/sub/file"}); err == nil && code == 0 {
			got = string(out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(got) != "in-a" {
		t.Fatalf("subPath content %q: %s", got, describe(st))
	}
}

// A native sidecar that exits is started again, whatever the pod's
// restart policy; the app keeps running.
func TestSidecarRestarts(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	always := corev1.ContainerRestartPolicyAlways
	side := idle("side")
	side.RestartPolicy = &always
	zero := int64(0)
	pod := nd.pod("side", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, InitContainers: []corev1.Container{side},
		Containers: []corev1.Container{idle("app")}, TerminationGracePeriodSeconds: &zero})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	nd.killMain(containerStatus(st, "side").ContainerID)
	st = nd.waitFor(pod.UID, 30*time.Second, "sidecar restarted", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "side")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if cs := containerStatus(st, "app"); cs.RestartCount != 0 || cs.State.Running == nil {
		t.Fatalf("the app suffered: %s", describe(st))
	}
}

// Leftovers of a crash that no pod owns (a pod directory, an IP lease, a
// log directory) are removed by the garbage collector.
func TestGarbageCollection(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	keep := nd.pod("keep", corev1.PodSpec{Containers: []corev1.Container{idle("app")}})
	nd.agent.Sync([]*corev1.Pod{keep})
	nd.waitFor(keep.UID, 60*time.Second, "running", running)

	ghostUID := "ghost-0000"
	leftovers := map[string]string{
		filepath.Join(nd.cfg.RunDir, "pods", ghostUID, "pod.json"):               `{"namespace":"default","name":"ghost","uid":"ghost-0000"}`,
		filepath.Join(nd.cfg.RunDir, "ipam", nd.cfg.NetworkName, "198.18.250.9"): "pdeadbeefdeadbeef\r\neth0",
		filepath.Join(nd.cfg.LogDir, "default_ghost_"+ghostUID, "app", "0.log"):  "old output\n",
	}
	for p, content := range leftovers {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := nd.agent.CollectGarbage(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		for p := range leftovers {
			if _, err := os.Stat(p); err == nil {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left after GC: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
		_ = nd.agent.CollectGarbage()
	}
	p := nd.statusOf(keep.UID)
	if p == nil || !running(p) {
		t.Fatalf("GC touched a wanted pod: %s", describe(p))
	}
	if _, err := os.Stat(filepath.Join(nd.cfg.RunDir, "ipam", nd.cfg.NetworkName, p.Status.PodIP)); err != nil {
		t.Fatalf("GC removed the wanted pod's lease: %v", err)
	}
}

// CPU and memory requests and limits land in the container's cgroup as
// the kubelet sets them.
func TestCgroupLimits(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	c := idle("app")
	c.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	pod := nd.pod("limited", corev1.PodSpec{Containers: []corev1.Container{c}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	id := strings.TrimPrefix(containerStatus(st, "app").ContainerID, "containerd://")
	tests := []struct {
		file, want string
	}{
		{file: "cpu/cpu.cfs_quota_us", want: "25000"},
		{file: "cpu/cpu.cfs_period_us", want: "100000"},
		{file: "cpu/cpu.shares", want: "102"},
		{file: "memory/memory.limit_in_bytes", want: "67108864"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			dir, base := filepath.Split(tc.file)
			p := filepath.Join("/sys/fs/cgroup", dir, nd.cfg.Namespace, id, base)
			b, err := os.ReadFile(p)
			if err != nil {
				testenv.Missing(t, "cgroup v1 file "+p+": "+err.Error())
			}
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Fatalf("%s = %s, want %s", p, got, tc.want)
			}
		})
	}
}

// An emptyDir with medium Memory is a tmpfs capped at its sizeLimit.
func TestMemoryEmptyDirSizeLimit(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	limit := resource.MustParse("8Mi")
	c := idle("app")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "mem", MountPath: "/mem"}}
	pod := nd.pod("tmpfs", corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "mem", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}}}},
		Containers: []corev1.Container{c},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	if out := nd.exec(st, "app", "sh", "-c", "grep ' /mem ' /proc/mounts"); !strings.Contains(out, "tmpfs") {
		t.Fatalf("/mem is not a tmpfs: %q", out)
	}
	nd.exec(st, "app", "dd", "if=/dev/zero", "of=/mem/small", "bs=1M", "count=4")
	_, _, code, err := nd.agent.Exec(t.Context(), string(pod.UID), "app", []string{"dd", "if=/dev/zero", "of=/mem/big", "bs=1M", "count=16"})
	if err != nil {
		t.Fatal(err)
	}
	if code == 0 {
		t.Fatal("wrote 20 MiB into an 8 MiB memory emptyDir")
	}
}
