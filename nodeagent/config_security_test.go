package nodeagent_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/nodeagent"
)

// execCode execs cmd in the container and returns its output and exit
// code; only a failure to exec at all fails the test.
func (nd *node) execCode(p *corev1.Pod, container string, cmd ...string) (stdout, stderr []byte, code int) {
	nd.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, code, err := nd.agent.Exec(ctx, string(p.UID), container, cmd)
	if err != nil {
		nd.t.Fatalf("exec %v in %s: %v", cmd, container, err)
	}
	return out, errOut, code
}

// run is execCode with stdout and stderr joined.
func (nd *node) run(p *corev1.Pod, container string, cmd ...string) (string, int) {
	nd.t.Helper()
	out, errOut, code := nd.execCode(p, container, cmd...)
	return string(out) + string(errOut), code
}

// eventually polls the container with cmd until its output, trimmed, is
// want; it fails after timeout with the last output.
func (nd *node) eventually(p *corev1.Pod, container, want string, timeout time.Duration, cmd ...string) {
	nd.t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for time.Now().Before(deadline) {
		got, _ = nd.run(p, container, cmd...)
		if strings.TrimSpace(got) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	nd.t.Fatalf("%v in %s: got %q, want %q", cmd, container, got, want)
}

func containerRunning(name string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return containerStatus(p, name).State.Running != nil }
}

// A pod reads a ConfigMap through env and a volume; the ConfigMap changes
// and the file changes in place, with the kubelet's ..data swap, while
// the container keeps running and its env keeps the value it started
// with.
func TestConfigMapEnvAndVolumeUpdateInPlace(t *testing.T) {
	store := nodeagent.NewConfigStore(api.BoundConfig{Kind: api.KindConfigMap, Namespace: "default", Name: "app",
		Data: map[string][]byte{"color": []byte("blue"), "size": []byte("L")}})
	nd := newNode(t, nodeOpts{configs: store})
	app := idle("app")
	app.Env = []corev1.EnvVar{{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Key: "color"}}}}
	app.EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}
	app.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app", ReadOnly: true}}
	pod := nd.pod("cm", corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}},
		Containers: []corev1.Container{app},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	id := containerStatus(st, "app").ContainerID

	if got := nd.exec(st, "app", "cat", "/etc/app/color"); got != "blue" {
		t.Fatalf("volume file = %q, want blue", got)
	}
	if got := nd.exec(st, "app", "sh", "-c", `echo "$COLOR $CFG_color $CFG_size"`); strings.TrimSpace(got) != "blue blue L" {
		t.Fatalf("env = %q, want %q", got, "blue blue L")
	}
	if got := nd.exec(st, "app", "readlink", "/etc/app/color"); strings.TrimSpace(got) != "..data/color" {
		t.Fatalf("color is not the kubelet's ..data link: %q", got)
	}
	before := strings.TrimSpace(nd.exec(st, "app", "readlink", "/etc/app/..data"))

	store.Set(api.BoundConfig{Kind: api.KindConfigMap, Namespace: "default", Name: "app",
		Data: map[string][]byte{"color": []byte("green"), "shape": []byte("round")}})
	nd.agent.ConfigsChanged()
	nd.eventually(st, "app", "green", 10*time.Second, "cat", "/etc/app/color")
	nd.eventually(st, "app", "round", 5*time.Second, "cat", "/etc/app/shape")
	if out, code := nd.run(st, "app", "cat", "/etc/app/size"); code == 0 {
		t.Fatalf("a removed key is still visible: %q", out)
	}
	if after := strings.TrimSpace(nd.exec(st, "app", "readlink", "/etc/app/..data")); after == before {
		t.Fatalf("..data still names %s: the update was not a new version", before)
	}
	if got := nd.exec(st, "app", "sh", "-c", `echo "$COLOR"`); strings.TrimSpace(got) != "blue" {
		t.Fatalf("env changed without a restart: %q", got)
	}
	st = nd.statusOf(pod.UID)
	if cs := containerStatus(st, "app"); cs.RestartCount != 0 || cs.ContainerID != id || cs.State.Running == nil {
		t.Fatalf("container restarted for a ConfigMap change: %s", describe(st))
	}

	// A pod whose volume names a ConfigMap not there yet waits, as the
	// kubelet's does, and starts once the data arrives.
	late := idle("late")
	late.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/late"}}
	latePod := nd.pod("late", corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}}}},
		Containers: []corev1.Container{late},
	})
	nd.agent.Sync([]*corev1.Pod{pod, latePod})
	time.Sleep(2 * time.Second) // two resync passes of this node
	if p := nd.statusOf(latePod.UID); p == nil || p.Status.Phase != corev1.PodPending || containerStatus(p, "late").State.Running != nil {
		t.Fatalf("pod with a missing ConfigMap volume: %s", describe(p))
	}
	store.Set(api.BoundConfig{Kind: api.KindConfigMap, Namespace: "default", Name: "late", Data: map[string][]byte{"k": []byte("v")}})
	nd.agent.ConfigsChanged()
	st = nd.waitFor(latePod.UID, 30*time.Second, "running", running)
	if got := nd.exec(st, "late", "cat", "/etc/late/k"); got != "v" {
		t.Fatalf("late volume file = %q", got)
	}
}

// A Secret reaches a container as a file and an env var; its volume is a
// tmpfs, never the node's disk. A pod naming a missing key waits with
// the kubelet's CreateContainerConfigError.
func TestSecretFileAndEnvOnTmpfs(t *testing.T) {
	store := nodeagent.NewConfigStore(api.BoundConfig{Kind: api.KindSecret, Namespace: "default", Name: "creds",
		Data: map[string][]byte{"password": []byte("hunter2-d2")}})
	nd := newNode(t, nodeOpts{configs: store})
	app := idle("app")
	app.Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}}}
	// Not marked readOnly: a secret volume is read-only all the same.
	app.VolumeMounts = []corev1.VolumeMount{{Name: "creds", MountPath: "/etc/creds"}}
	broken := idle("broken")
	broken.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}}}
	pod := nd.pod("secret", corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "creds", DefaultMode: ptr.To[int32](0o400)}}}},
		Containers: []corev1.Container{app, broken},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "app running, broken refused", func(p *corev1.Pod) bool {
		w := containerStatus(p, "broken").State.Waiting
		return containerStatus(p, "app").State.Running != nil && w != nil && w.Reason == "CreateContainerConfigError"
	})
	if w := containerStatus(st, "broken").State.Waiting; w.Message != "couldn't find key token in Secret default/creds" {
		t.Errorf("waiting message %q", w.Message)
	}
	if got := nd.exec(st, "app", "cat", "/etc/creds/password"); got != "hunter2-d2" {
		t.Fatalf("secret file = %q", got)
	}
	if got := nd.exec(st, "app", "sh", "-c", `echo "$PASSWORD"`); strings.TrimSpace(got) != "hunter2-d2" {
		t.Fatalf("secret env = %q", got)
	}
	if out, code := nd.run(st, "app", "touch", "/etc/creds/planted"); code == 0 {
		t.Fatalf("wrote into a secret volume: %q", out)
	}
	if got := nd.exec(st, "app", "stat", "-L", "-c", "%a", "/etc/creds/password"); strings.TrimSpace(got) != "400" {
		t.Fatalf("secret file mode %q, want 400", got)
	}
	if got := nd.exec(st, "app", "stat", "-f", "-c", "%T", "/etc/creds"); strings.TrimSpace(got) != "tmpfs" {
		t.Fatalf("secret volume in the container is on %q, want tmpfs", got)
	}
	host := filepath.Join(nd.cfg.RunDir, "pods", string(pod.UID), "volumes", "creds")
	var fs unix.Statfs_t
	if err := unix.Statfs(host, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("secret volume on the node (%s) is fs type %#x, not tmpfs", host, fs.Type)
	}
	var parent unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(host), &parent); err != nil {
		t.Fatal(err)
	}
	var hst, pst unix.Stat_t
	if err := unix.Stat(host, &hst); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Dir(host), &pst); err != nil {
		t.Fatal(err)
	}
	if hst.Dev == pst.Dev {
		t.Fatalf("secret volume %s is no mount of its own", host)
	}

	// The missing key arrives: the refused container starts with it, with
	// no back-off to wait out.
	store.Set(api.BoundConfig{Kind: api.KindSecret, Namespace: "default", Name: "creds",
		Data: map[string][]byte{"password": []byte("hunter2-d2"), "token": []byte("t0k3n")}})
	nd.agent.ConfigsChanged()
	st = nd.waitFor(pod.UID, 10*time.Second, "broken running", containerRunning("broken"))
	if got := nd.exec(st, "broken", "sh", "-c", `echo "$TOKEN"`); strings.TrimSpace(got) != "t0k3n" {
		t.Fatalf("token env = %q", got)
	}
}

// securityContext enforced by the kernel, one container per field.
func TestSecurityContextEnforced(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	nonRoot := idle("nonroot")
	nonRoot.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}
	user := idle("user")
	user.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)}
	user.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	ro := idle("ro")
	ro.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)}
	ro.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	noCaps := idle("nocaps")
	noCaps.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW", "CHOWN"}}}
	def := idle("default")
	priv := idle("priv")
	priv.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	confined := idle("confined")
	confined.SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	pod := nd.pod("sec", corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{
			FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{4000},
			Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "20000 30000"}},
		},
		Volumes:    []corev1.Volume{emptyDir("scratch")},
		Containers: []corev1.Container{nonRoot, user, ro, noCaps, def, confined, priv},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "all but nonroot running", func(p *corev1.Pod) bool {
		for _, n := range []string{"user", "ro", "nocaps", "default", "confined", "priv"} {
			if !containerRunning(n)(p) {
				return false
			}
		}
		w := containerStatus(p, "nonroot").State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError"
	})

	want := `container has runAsNonRoot and image will run as root (pod: "sec_default(` + string(pod.UID) + `)", container: nonroot)`
	if w := containerStatus(st, "nonroot").State.Waiting; w.Message != want {
		t.Errorf("runAsNonRoot message %q, want %q", w.Message, want)
	}

	id := nd.exec(st, "user", "id")
	for _, part := range []string{"uid=1000", "gid=3000", "2000", "4000"} {
		if !strings.Contains(id, part) {
			t.Errorf("id = %q: no %s", id, part)
		}
	}
	// fsGroup owns the emptyDir, so the non-root user may write there.
	if out, code := nd.run(st, "user", "sh", "-c", "touch /scratch/mine && stat -c %g /scratch/mine"); code != 0 || strings.TrimSpace(out) != "2000" {
		t.Errorf("fsGroup volume: exit %d, %q (want group 2000)", code, out)
	}

	if out, code := nd.run(st, "ro", "touch", "/written"); code == 0 {
		t.Errorf("write to a read-only root succeeded: %q", out)
	}
	if out, code := nd.run(st, "ro", "touch", "/scratch/ok"); code != 0 {
		t.Errorf("write to a volume under a read-only root failed: %q", out)
	}

	for _, tc := range []struct {
		container string
		cmd       []string
		wantOK    bool
	}{
		{container: "default", cmd: []string{"ping", "-c", "1", "-W", "2", "127.0.0.1"}, wantOK: true},
		{container: "nocaps", cmd: []string{"ping", "-c", "1", "-W", "2", "127.0.0.1"}, wantOK: false},
		{container: "default", cmd: []string{"sh", "-c", "touch /f && chown 1:1 /f"}, wantOK: true},
		{container: "nocaps", cmd: []string{"sh", "-c", "touch /f && chown 1:1 /f"}, wantOK: false},
		{container: "default", cmd: []string{"sh", "-c", "mkdir -p /m && mount -t tmpfs none /m"}, wantOK: false},
		{container: "priv", cmd: []string{"sh", "-c", "mkdir -p /m && mount -t tmpfs none /m"}, wantOK: true},
	} {
		if out, code := nd.run(st, tc.container, tc.cmd...); (code == 0) != tc.wantOK {
			t.Errorf("%s: %v: exit %d (want success %v): %q", tc.container, tc.cmd, code, tc.wantOK, out)
		}
	}

	status := nd.exec(st, "confined", "cat", "/proc/self/status")
	for _, line := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, line) {
			t.Errorf("confined container's status lacks %q", line)
		}
	}
	if status := nd.exec(st, "default", "cat", "/proc/self/status"); !strings.Contains(status, "NoNewPrivs:\t0") {
		t.Errorf("default container has no_new_privs set; Kubernetes leaves it off")
	}
	if got := nd.exec(st, "default", "cat", "/proc/sys/net/ipv4/ip_local_port_range"); strings.Join(strings.Fields(got), " ") != "20000 30000" {
		t.Errorf("sysctl = %q", got)
	}
}

// Termination messages: from the file, and with FallbackToLogsOnError from
// the log when a failed container wrote none.
func TestTerminationMessage(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	file := sh("file", `printf 'all done' > /dev/termination-log; exit 3`)
	custom := sh("custom", `printf 'custom path' > /tmp/msg; exit 0`)
	custom.TerminationMessagePath = "/tmp/msg"
	logs := sh("logs", `echo first; echo oops; exit 1`)
	logs.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	pod := nd.pod("term", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{file, custom, logs}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	for _, tc := range []struct{ container, want string }{
		{container: "file", want: "all done"},
		{container: "custom", want: "custom path"},
		{container: "logs", want: "first\noops\n"},
	} {
		term := containerStatus(st, tc.container).State.Terminated
		if term == nil || term.Message != tc.want {
			t.Errorf("%s: terminated %+v, want message %q", tc.container, term, tc.want)
		}
	}
}

// A disk-backed emptyDir over its sizeLimit gets the pod evicted, with the
// kubelet's reason and message.
func TestEmptyDirSizeLimitEvicts(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	limit := resource.MustParse("1Mi")
	app := sh("fill", `dd if=/dev/zero of=/data/fill bs=1024 count=2048 2>/dev/null; trap 'exit 0' TERM; while true; do sleep 1; done`)
	app.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	pod := nd.pod("fill", corev1.PodSpec{
		Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit}}}},
		Containers: []corev1.Container{app},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "evicted", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if st.Status.Reason != "Evicted" || st.Status.Message != `Usage of EmptyDir volume "data" exceeds the limit "1Mi". ` {
		t.Fatalf("status: %s", describe(st))
	}
	if cs := containerStatus(st, "fill"); cs.State.Terminated == nil {
		t.Fatalf("container of an evicted pod still runs: %s", describe(st))
	}
	var disruption bool
	for _, c := range st.Status.Conditions {
		disruption = disruption || (c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "TerminationByKubelet")
	}
	if !disruption {
		t.Fatalf("no DisruptionTarget condition: %+v", st.Status.Conditions)
	}
}
