package podstatus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/nodeagent/restart"
)

var (
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(time.Minute)
)

type podOpt func(*corev1.Pod)

func withPolicy(p corev1.RestartPolicy) podOpt {
	return func(pod *corev1.Pod) { pod.Spec.RestartPolicy = p }
}

func withInit(names ...string) podOpt {
	return func(pod *corev1.Pod) {
		for _, n := range names {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: n, Image: "img/" + n})
		}
	}
}

func withSidecar(names ...string) podOpt {
	return func(pod *corev1.Pod) {
		always := corev1.ContainerRestartPolicyAlways
		for _, n := range names {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: n, Image: "img/" + n, RestartPolicy: &always})
		}
	}
}

func withGates(types ...corev1.PodConditionType) podOpt {
	return func(pod *corev1.Pod) {
		for _, t := range types {
			pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: t})
		}
	}
}

func deleting() podOpt {
	return func(pod *corev1.Pod) {
		ts := metav1.NewTime(t0)
		pod.DeletionTimestamp = &ts
	}
}

func newPod(apps []string, opts ...podOpt) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"}}
	for _, n := range apps {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: n, Image: "img/" + n})
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func running(name string) Container {
	return Container{Name: name, State: StateRunning, StartedAt: t0, Started: true, Ready: true, ContainerID: "containerd://" + name}
}

func exited(name string, code int32) Container {
	return Container{Name: name, State: StateExited, ExitCode: code, StartedAt: t0, FinishedAt: t0.Add(time.Second), ContainerID: "containerd://" + name}
}

// summary renders the parts of a status the tests assert on, one line
// per container and condition, so a failure shows the whole picture.
func summary(s corev1.PodStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s", s.Phase)
	if s.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", s.Reason)
	}
	state := func(st corev1.ContainerState) string {
		switch {
		case st.Running != nil:
			return "running"
		case st.Terminated != nil:
			return fmt.Sprintf("terminated(%s,%d)", st.Terminated.Reason, st.Terminated.ExitCode)
		case st.Waiting != nil:
			return fmt.Sprintf("waiting(%s)", st.Waiting.Reason)
		}
		return "-"
	}
	cs := func(prefix string, list []corev1.ContainerStatus) {
		for _, c := range list {
			started := "nil"
			if c.Started != nil {
				started = fmt.Sprint(*c.Started)
			}
			fmt.Fprintf(&b, "\n%s %s %s last=%s restarts=%d ready=%v started=%s", prefix, c.Name, state(c.State), state(c.LastTerminationState), c.RestartCount, c.Ready, started)
		}
	}
	cs("init", s.InitContainerStatuses)
	cs("app", s.ContainerStatuses)
	for _, c := range s.Conditions {
		fmt.Fprintf(&b, "\ncond %s=%s", c.Type, c.Status)
		if c.Reason != "" {
			fmt.Fprintf(&b, " %s", c.Reason)
		}
		if c.Message != "" {
			fmt.Fprintf(&b, " %q", c.Message)
		}
	}
	return b.String()
}

func lines(ls ...string) string { return strings.Join(ls, "\n") }

func TestGenerate(t *testing.T) {
	crashLoop := &Waiting{Reason: ReasonCrashLoopBackOff, Message: "back-off 10s restarting failed container"}
	tests := []struct {
		name string
		pod  *corev1.Pod
		prev *corev1.PodStatus
		obs  Observation
		want string
	}{
		{
			name: "new pod without init containers waits in ContainerCreating",
			pod:  newPod([]string{"b", "a"}),
			want: lines(
				"phase=Pending",
				"app a waiting(ContainerCreating) last=- restarts=0 ready=false started=false",
				"app b waiting(ContainerCreating) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [b a]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [b a]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "new pod with an init container waits in PodInitializing",
			pod:  newPod([]string{"app"}, withInit("setup")),
			obs:  Observation{SandboxReady: true},
			want: lines(
				"phase=Pending",
				"init setup waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"app app waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				`cond Initialized=False ContainersNotInitialized "containers with incomplete status: [setup]"`,
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "init container running keeps the pod pending",
			pod:  newPod([]string{"app"}, withInit("setup")),
			obs:  Observation{SandboxReady: true, Containers: []Container{running("setup")}},
			want: lines(
				"phase=Pending",
				"init setup running last=- restarts=0 ready=false started=true",
				"app app waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				`cond Initialized=False ContainersNotInitialized "containers with incomplete status: [setup]"`,
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "init done and app running and ready",
			pod:  newPod([]string{"app"}, withInit("setup")),
			obs:  Observation{SandboxReady: true, Containers: []Container{exited("setup", 0), running("app")}},
			want: lines(
				"phase=Running",
				"init setup terminated(Completed,0) last=- restarts=0 ready=true started=false",
				"app app running last=- restarts=0 ready=true started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=True",
				"cond ContainersReady=True",
				"cond PodScheduled=True",
			),
		},
		{
			name: "running app whose readiness probe fails is not ready",
			pod:  newPod([]string{"app"}),
			obs: Observation{SandboxReady: true, Containers: []Container{
				{Name: "app", State: StateRunning, StartedAt: t0, Started: true, Ready: false},
			}},
			want: lines(
				"phase=Running",
				"app app running last=- restarts=0 ready=false started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "running app before its startup probe passes is neither started nor ready",
			pod:  newPod([]string{"app"}),
			obs: Observation{SandboxReady: true, Containers: []Container{
				{Name: "app", State: StateRunning, StartedAt: t0, Started: false, Ready: true},
			}},
			want: lines(
				"phase=Running",
				"app app running last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "failed init container under Never fails the pod",
			pod:  newPod([]string{"app"}, withInit("setup"), withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{SandboxReady: true, Containers: []Container{exited("setup", 3)}},
			want: lines(
				"phase=Failed",
				"init setup terminated(Error,3) last=- restarts=0 ready=false started=false",
				"app app waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				`cond Initialized=False ContainersNotInitialized "containers with incomplete status: [setup]"`,
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "failed init container under Always backs off and the pod stays pending",
			pod:  newPod([]string{"app"}, withInit("setup")),
			obs: Observation{SandboxReady: true, Containers: []Container{
				func() Container { c := exited("setup", 3); c.RestartCount = 2; c.StartFailure = crashLoop; return c }(),
			}},
			want: lines(
				"phase=Pending",
				"init setup waiting(CrashLoopBackOff) last=terminated(Error,3) restarts=2 ready=false started=false",
				"app app waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				`cond Initialized=False ContainersNotInitialized "containers with incomplete status: [setup]"`,
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "app exits 1 under Never: Failed with the exit code",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{SandboxReady: true, Containers: []Container{exited("app", 1)}},
			want: lines(
				"phase=Failed",
				"app app terminated(Error,1) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "app exits 0 under OnFailure: Succeeded",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{SandboxReady: false, Containers: []Container{exited("app", 0)}},
			want: lines(
				"phase=Succeeded",
				"app app terminated(Completed,0) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True PodCompleted",
				"cond Ready=False PodCompleted",
				"cond ContainersReady=False PodCompleted",
				"cond PodScheduled=True",
			),
		},
		{
			name: "app crash-looping under OnFailure: Running, waiting with the last exit",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyOnFailure)),
			obs: Observation{SandboxReady: true, Containers: []Container{
				func() Container { c := exited("app", 1); c.RestartCount = 4; c.StartFailure = crashLoop; return c }(),
			}},
			want: lines(
				"phase=Running",
				"app app waiting(CrashLoopBackOff) last=terminated(Error,1) restarts=4 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "restarted app shows the previous attempt as lastState",
			pod:  newPod([]string{"app"}),
			obs: Observation{SandboxReady: true, Containers: []Container{
				func() Container {
					c := running("app")
					c.RestartCount = 1
					c.Previous = &Termination{ExitCode: 137, Reason: ReasonOOMKilled, StartedAt: t0, FinishedAt: t0}
					return c
				}(),
			}},
			want: lines(
				"phase=Running",
				"app app running last=terminated(OOMKilled,137) restarts=1 ready=true started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=True",
				"cond ContainersReady=True",
				"cond PodScheduled=True",
			),
		},
		{
			name: "app exited 0 under Always is on its way back: Running",
			pod:  newPod([]string{"app"}),
			obs:  Observation{SandboxReady: true, Containers: []Container{exited("app", 0)}},
			want: lines(
				"phase=Running",
				"app app terminated(Completed,0) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "OOM kill keeps its reason",
			pod:  newPod([]string{"hog"}, withPolicy(corev1.RestartPolicyNever)),
			obs: Observation{SandboxReady: true, Containers: []Container{
				func() Container { c := exited("hog", 137); c.Reason = ReasonOOMKilled; return c }(),
			}},
			want: lines(
				"phase=Failed",
				"app hog terminated(OOMKilled,137) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "image pull failure shows as the waiting reason while others run",
			pod:  newPod([]string{"good", "missing"}),
			obs: Observation{SandboxReady: true, Containers: []Container{
				running("good"),
				{Name: "missing", State: StateNone, StartFailure: &Waiting{Reason: ReasonErrImagePull, Message: "not found"}},
			}},
			want: lines(
				"phase=Pending",
				"app good running last=- restarts=0 ready=true started=true",
				"app missing waiting(ErrImagePull) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [missing]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [missing]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "sidecar running and started, app running",
			pod:  newPod([]string{"app"}, withSidecar("logs")),
			obs:  Observation{SandboxReady: true, Containers: []Container{running("logs"), running("app")}},
			want: lines(
				"phase=Running",
				"init logs running last=- restarts=0 ready=true started=true",
				"app app running last=- restarts=0 ready=true started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=True",
				"cond ContainersReady=True",
				"cond PodScheduled=True",
			),
		},
		{
			name: "sidecar running but not started holds initialization",
			pod:  newPod([]string{"app"}, withSidecar("logs")),
			obs: Observation{SandboxReady: true, Containers: []Container{
				{Name: "logs", State: StateRunning, StartedAt: t0},
			}},
			want: lines(
				"phase=Pending",
				"init logs running last=- restarts=0 ready=false started=false",
				"app app waiting(PodInitializing) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				`cond Initialized=False ContainersNotInitialized "containers with incomplete status: [logs]"`,
				`cond Ready=False ContainersNotReady "containers with unready status: [logs app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [logs app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "apps done under Never with the sidecar still running: Running until it stops",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{SandboxReady: true, Containers: []Container{running("logs"), exited("app", 0)}},
			want: lines(
				"phase=Running",
				"init logs running last=- restarts=0 ready=true started=true",
				"app app terminated(Completed,0) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "apps done under Never, sidecar stopped by the runtime: Succeeded",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{Terminal: true, Containers: []Container{exited("logs", 143), exited("app", 0)}},
			want: lines(
				"phase=Succeeded",
				"init logs terminated(Error,143) last=- restarts=0 ready=false started=false",
				"app app terminated(Completed,0) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True PodCompleted",
				"cond Ready=False PodCompleted",
				"cond ContainersReady=False PodCompleted",
				"cond PodScheduled=True",
			),
		},
		{
			name: "app failed under OnFailure is restarted even with a sidecar",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{SandboxReady: true, Containers: []Container{running("logs"), exited("app", 2)}},
			want: lines(
				"phase=Running",
				"init logs running last=- restarts=0 ready=true started=true",
				"app app terminated(Error,2) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "terminal pod with a failed app and a stopped sidecar: Failed",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{Terminal: true, Containers: []Container{exited("logs", 0), exited("app", 2)}},
			want: lines(
				"phase=Failed",
				"init logs terminated(Completed,0) last=- restarts=0 ready=false started=false",
				"app app terminated(Error,2) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "crash-looping sidecar under Never shows its back-off",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyNever)),
			obs: Observation{SandboxReady: true, Containers: []Container{
				func() Container { c := exited("logs", 1); c.StartFailure = crashLoop; c.RestartCount = 3; return c }(),
				running("app"),
			}},
			want: lines(
				"phase=Running",
				"init logs waiting(CrashLoopBackOff) last=terminated(Error,1) restarts=3 ready=false started=false",
				"app app running last=- restarts=0 ready=true started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [logs]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [logs]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "a terminal phase reported before stays",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever)),
			prev: &corev1.PodStatus{Phase: corev1.PodSucceeded, Reason: "Done"},
			obs:  Observation{},
			want: lines(
				"phase=Succeeded reason=Done",
				"app app waiting(ContainerCreating) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True PodCompleted",
				"cond Ready=False PodCompleted",
				"cond ContainersReady=False PodCompleted",
				"cond PodScheduled=True",
			),
		},
		{
			name: "a previously terminated status sticks while the runtime shows nothing",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever)),
			prev: &corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 4, Reason: "Error"}}},
			}},
			obs: Observation{},
			want: lines(
				"phase=Failed",
				"app app terminated(Error,4) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "a container seen running that vanished counts as a restart, not a new start",
			pod:  newPod([]string{"app"}),
			prev: &corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
			obs: Observation{SandboxReady: true},
			want: lines(
				"phase=Running",
				"app app waiting(ContainerCreating) last=terminated(ContainerStatusUnknown,137) restarts=3 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "vanished container of a pod being deleted keeps its restart count",
			pod:  newPod([]string{"app"}, deleting()),
			prev: &corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
			obs: Observation{Terminal: true},
			want: lines(
				"phase=Failed",
				"app app waiting(ContainerCreating) last=terminated(ContainerStatusUnknown,137) restarts=2 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "unknown state of a container seen running reads as terminated",
			pod:  newPod([]string{"app"}),
			prev: &corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
			obs: Observation{SandboxReady: true, Containers: []Container{{Name: "app", State: StateUnknown, RestartCount: 1}}},
			want: lines(
				"phase=Running",
				"app app terminated(ContainerStatusUnknown,137) last=- restarts=2 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "created but not started is waiting",
			pod:  newPod([]string{"app"}),
			obs:  Observation{SandboxReady: true, Containers: []Container{{Name: "app", State: StateCreated}}},
			want: lines(
				"phase=Pending",
				"app app waiting() last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ContainersNotReady "containers with unready status: [app]"`,
				`cond ContainersReady=False ContainersNotReady "containers with unready status: [app]"`,
				"cond PodScheduled=True",
			),
		},
		{
			name: "a pod being deleted shows no start failure",
			pod:  newPod([]string{"app"}, deleting()),
			obs: Observation{Terminal: true, Containers: []Container{
				func() Container { c := exited("app", 1); c.StartFailure = crashLoop; return c }(),
			}},
			want: lines(
				"phase=Failed",
				"app app terminated(Error,1) last=- restarts=0 ready=false started=false",
				"cond PodReadyToStartContainers=False",
				"cond Initialized=True",
				"cond Ready=False PodFailed",
				"cond ContainersReady=False PodFailed",
				"cond PodScheduled=True",
			),
		},
		{
			name: "readiness gate not reported holds Ready",
			pod:  newPod([]string{"app"}, withGates("example.com/lb")),
			obs:  Observation{SandboxReady: true, Containers: []Container{running("app")}},
			want: lines(
				"phase=Running",
				"app app running last=- restarts=0 ready=true started=true",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				`cond Ready=False ReadinessGatesNotReady "corresponding condition of pod readiness gate \"example.com/lb\" does not exist."`,
				"cond ContainersReady=True",
				"cond PodScheduled=True",
			),
		},
		{
			name: "readiness gate reported true passes through and allows Ready",
			pod:  newPod([]string{"app"}, withGates("example.com/lb")),
			prev: &corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}}},
			obs:  Observation{SandboxReady: true, Containers: []Container{running("app")}},
			want: lines(
				"phase=Running",
				"app app running last=- restarts=0 ready=true started=true",
				"cond example.com/lb=True",
				"cond PodReadyToStartContainers=True",
				"cond Initialized=True",
				"cond Ready=True",
				"cond ContainersReady=True",
				"cond PodScheduled=True",
			),
		},
		{
			name: "rejected pod fails before anything runs",
			pod:  newPod([]string{"app"}),
			obs:  Observation{Rejected: &Rejection{Reason: "HostPathNotAllowed", Message: "volume data: hostPath volumes are off on this agent"}},
			want: "phase=Failed reason=HostPathNotAllowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Generate(tt.pod, tt.prev, tt.obs, now)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if s := summary(got); s != tt.want {
				t.Errorf("status:\n%s\nwant:\n%s", s, tt.want)
			}
		})
	}
}

func TestGenerateDetails(t *testing.T) {
	pod := newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever))
	obs := Observation{
		SandboxReady: true,
		PodIPs:       []string{"198.18.0.5"},
		HostIPs:      []string{"127.0.0.1"},
		Containers: []Container{{
			Name: "app", State: StateExited, ExitCode: 2, Message: "boom",
			StartedAt: t0, FinishedAt: t0.Add(3 * time.Second),
			ContainerID: "containerd://abc", ImageID: "reg/app@sha256:1",
		}},
	}
	got, err := Generate(pod, nil, obs, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "pod IP", got: got.PodIP, want: "198.18.0.5"},
		{name: "pod IPs", got: len(got.PodIPs), want: 1},
		{name: "host IP", got: got.HostIP, want: "127.0.0.1"},
		{name: "start time is now for a new pod", got: got.StartTime.Time, want: now},
		{name: "QoS", got: got.QOSClass, want: corev1.PodQOSBestEffort},
		{name: "image from the spec", got: got.ContainerStatuses[0].Image, want: "img/app"},
		{name: "image ID", got: got.ContainerStatuses[0].ImageID, want: "reg/app@sha256:1"},
		{name: "container ID", got: got.ContainerStatuses[0].ContainerID, want: "containerd://abc"},
		{name: "message", got: got.ContainerStatuses[0].State.Terminated.Message, want: "boom"},
		{name: "started at", got: got.ContainerStatuses[0].State.Terminated.StartedAt.Time, want: t0},
		{name: "finished at", got: got.ContainerStatuses[0].State.Terminated.FinishedAt.Time, want: t0.Add(3 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestConditionTransitionTimes(t *testing.T) {
	pod := newPod([]string{"app"})
	before := t0.Add(-time.Hour)
	prev := &corev1.PodStatus{
		StartTime: &metav1.Time{Time: before},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(before)},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(before)},
		},
	}
	got, err := Generate(pod, prev, Observation{SandboxReady: true, Containers: []Container{running("app")}}, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  corev1.PodConditionType
		want time.Time
	}{
		{name: "changed status takes now", typ: corev1.PodReady, want: now},
		{name: "unchanged status keeps its time", typ: corev1.PodInitialized, want: before},
		{name: "new condition takes now", typ: corev1.ContainersReady, want: now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(got.Conditions, func(c corev1.PodCondition) bool { return c.Type == tt.typ })
			if i < 0 {
				t.Fatalf("no %s condition", tt.typ)
			}
			if lt := got.Conditions[i].LastTransitionTime.Time; !lt.Equal(tt.want) {
				t.Errorf("%s transition = %v, want %v", tt.typ, lt, tt.want)
			}
		})
	}
	if !got.StartTime.Time.Equal(before) {
		t.Errorf("StartTime = %v, want the previous %v", got.StartTime.Time, before)
	}
}

func TestGenerateRejectsBadObservations(t *testing.T) {
	pod := newPod([]string{"app"}, withSidecar("logs"))
	tests := []struct {
		name string
		obs  Observation
	}{
		{name: "duplicate container", obs: Observation{Containers: []Container{running("app"), running("app")}}},
		{name: "kind disagrees with spec", obs: Observation{Containers: []Container{{Name: "logs", Kind: restart.KindApp, State: StateRunning}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(pod, nil, tt.obs, now); !errors.Is(err, ErrObservation) {
				t.Fatalf("Generate error = %v, want ErrObservation", err)
			}
			if _, err := Finished(pod, tt.obs); !errors.Is(err, ErrObservation) {
				t.Fatalf("Finished error = %v, want ErrObservation", err)
			}
		})
	}
}

func TestGenerateIgnoresUnknownContainers(t *testing.T) {
	pod := newPod([]string{"app"})
	got, err := Generate(pod, nil, Observation{Containers: []Container{running("pause"), running("app")}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ContainerStatuses) != 1 || got.Phase != corev1.PodRunning {
		t.Fatalf("got %s", summary(got))
	}
}

func TestFinished(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		obs  Observation
		want bool
	}{
		{
			name: "nothing started yet",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever)),
			want: false,
		},
		{
			name: "app running",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{Containers: []Container{running("app")}},
			want: false,
		},
		{
			name: "app done under Never with the sidecar running",
			pod:  newPod([]string{"app"}, withSidecar("logs"), withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{Containers: []Container{running("logs"), exited("app", 0)}},
			want: true,
		},
		{
			name: "one app done, another running",
			pod:  newPod([]string{"a", "b"}, withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{Containers: []Container{exited("a", 0), running("b")}},
			want: false,
		},
		{
			name: "app failed under OnFailure restarts",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{Containers: []Container{exited("app", 1)}},
			want: false,
		},
		{
			name: "app succeeded under OnFailure",
			pod:  newPod([]string{"app"}, withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{Containers: []Container{exited("app", 0)}},
			want: true,
		},
		{
			name: "Always never finishes",
			pod:  newPod([]string{"app"}),
			obs:  Observation{Containers: []Container{exited("app", 0)}},
			want: false,
		},
		{
			name: "init failed under Never",
			pod:  newPod([]string{"app"}, withInit("setup"), withPolicy(corev1.RestartPolicyNever)),
			obs:  Observation{Containers: []Container{exited("setup", 1)}},
			want: true,
		},
		{
			name: "init failed under OnFailure retries",
			pod:  newPod([]string{"app"}, withInit("setup"), withPolicy(corev1.RestartPolicyOnFailure)),
			obs:  Observation{Containers: []Container{exited("setup", 1)}},
			want: false,
		},
		{
			name: "deleted pod",
			pod:  newPod([]string{"app"}, deleting()),
			obs:  Observation{Containers: []Container{running("app")}},
			want: true,
		},
		{
			name: "rejected pod",
			pod:  newPod([]string{"app"}),
			obs:  Observation{Rejected: &Rejection{Reason: "X"}},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Finished(tt.pod, tt.obs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Finished = %v, want %v", got, tt.want)
			}
		})
	}
}
