package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/nodeagent"
)

func hostDir(name, path string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}}
}

func execHook(script string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", script}}}
}

func eventsOf(events []api.Event, reason string) []api.Event {
	var out []api.Event
	for _, e := range events {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return strings.TrimSpace(string(b))
}

// preStop runs before SIGTERM: each container's TERM trap records whether
// its hook's file was already there. A failing hook is reported and the
// container still gets SIGTERM, not only SIGKILL.
func TestPreStopRunsBeforeSIGTERM(t *testing.T) {
	nd := newNode(t, nodeOpts{allowHostPath: true})
	out := t.TempDir()
	// The trap answers SIGTERM within the sleep's second; a container
	// that only got SIGKILL leaves no term file.
	trap := func(name string) string {
		return `trap 'if test -f /out/` + name + `.prestop; then echo after-prestop > /out/` + name + `.term; else echo no-prestop > /out/` + name + `.term; fi; exit 0' TERM; while true; do sleep 1; done`
	}
	app := sh("app", trap("app"))
	app.Lifecycle = &corev1.Lifecycle{PreStop: execHook(`echo ran > /out/app.prestop`)}
	bad := sh("bad", trap("bad"))
	bad.Lifecycle = &corev1.Lifecycle{PreStop: execHook(`echo failing >&2; exit 4`)}
	for _, c := range []*corev1.Container{&app, &bad} {
		c.VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	}
	grace := int64(8)
	pod := nd.pod("prestop", corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Volumes: []corev1.Volume{hostDir("out", out)}, Containers: []corev1.Container{app, bad}})
	nd.agent.Sync([]*corev1.Pod{pod})
	nd.waitFor(pod.UID, 60*time.Second, "running", running)
	if _, err := os.Stat(filepath.Join(out, "app.prestop")); err == nil {
		t.Fatal("the preStop hook ran while the pod was wanted")
	}
	nd.agent.TakeEvents()

	nd.agent.Sync(nil)
	deadline := time.Now().Add(60 * time.Second)
	for nd.statusOf(pod.UID) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("pod not torn down: %s", describe(nd.statusOf(pod.UID)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := readTrim(t, filepath.Join(out, "app.term")); got != "after-prestop" {
		t.Errorf("app's SIGTERM trap found %q; want after-prestop (the hook's file there before the signal)", got)
	}
	if got := readTrim(t, filepath.Join(out, "bad.term")); got != "no-prestop" {
		t.Errorf("bad's SIGTERM trap found %q; want no-prestop (SIGTERM sent after its hook failed)", got)
	}
	failed := eventsOf(nd.agent.TakeEvents(), nodeagent.EventFailedPreStopHook)
	if len(failed) != 1 || !strings.Contains(failed[0].Message, "bad") || failed[0].Type != corev1.EventTypeWarning || failed[0].Name != "prestop" {
		t.Fatalf("FailedPreStopHook events %+v; want one Warning about container bad of pod prestop", failed)
	}
}

// postStart completes before the container is reported running, and a
// failing postStart kills the attempt, which the restart policy restarts:
// the hook fails on the first attempt and passes on the second.
func TestPostStartBeforeRunningAndFailureRestarts(t *testing.T) {
	nd := newNode(t, nodeOpts{allowHostPath: true})
	out := t.TempDir()
	app := sh("app", `trap 'exit 0' TERM; while true; do sleep 1; done`)
	app.VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	app.Lifecycle = &corev1.Lifecycle{PostStart: execHook(`sleep 2; if test -f /out/failed-once; then date > /out/poststart; exit 0; fi; touch /out/failed-once; exit 7`)}
	// after comes later in the spec: it starts once app's hook returned
	// (here: failed, having left its mark), not beside it.
	after := sh("after", `if test -f /out/failed-once; then echo after-hook > /out/after; else echo during-hook > /out/after; fi; trap 'exit 0' TERM; while true; do sleep 1; done`)
	after.VolumeMounts = app.VolumeMounts
	pod := nd.pod("poststart", corev1.PodSpec{Volumes: []corev1.Volume{hostDir("out", out)}, Containers: []corev1.Container{app, after}})
	nd.agent.Sync([]*corev1.Pod{pod})

	deadline := time.Now().Add(60 * time.Second)
	var cs corev1.ContainerStatus
	for {
		if time.Now().After(deadline) {
			t.Fatalf("app never ran: %s", describe(nd.statusOf(pod.UID)))
		}
		p := nd.statusOf(pod.UID)
		if p != nil {
			cs = containerStatus(p, "app")
		}
		if cs.State.Running != nil {
			// The first sight of a running app: its postStart hook must
			// have finished, and only the second attempt's can have.
			if _, err := os.Stat(filepath.Join(out, "poststart")); err != nil {
				t.Fatalf("app reported running before its postStart hook finished: %s", describe(p))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cs.RestartCount != 1 {
		t.Errorf("app running with restartCount %d; want 1 (the failed hook's attempt killed and restarted)", cs.RestartCount)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil {
		t.Errorf("no last termination for the attempt whose hook failed: %+v", cs)
	}
	if got := readTrim(t, filepath.Join(out, "after")); got != "after-hook" {
		t.Errorf("the container after app started %s; want after-hook (held back until app's postStart returned)", got)
	}
	failed := eventsOf(nd.agent.TakeEvents(), nodeagent.EventFailedPostStartHook)
	if len(failed) != 1 || !strings.Contains(failed[0].Message, "app") || failed[0].Type != corev1.EventTypeWarning {
		t.Fatalf("FailedPostStartHook events %+v; want one Warning about container app", failed)
	}
}
