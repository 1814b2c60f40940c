package podstatus

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"pgregory.net/rapid"

	"github.com/berth-dev/berth/nodeagent/restart"
)

// genPod draws a pod with 0-2 init containers, 0-2 sidecars and 1-3 apps.
func genPod(t *rapid.T) *corev1.Pod {
	policy := rapid.SampledFrom([]corev1.RestartPolicy{"", corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}).Draw(t, "policy")
	var opts []podOpt
	opts = append(opts, withPolicy(policy))
	for i := range rapid.IntRange(0, 2).Draw(t, "inits") {
		if rapid.Bool().Draw(t, fmt.Sprintf("sidecar%d", i)) {
			opts = append(opts, withSidecar(fmt.Sprintf("side%d", i)))
		} else {
			opts = append(opts, withInit(fmt.Sprintf("init%d", i)))
		}
	}
	var apps []string
	for i := range rapid.IntRange(1, 3).Draw(t, "apps") {
		apps = append(apps, fmt.Sprintf("app%d", i))
	}
	return newPod(apps, opts...)
}

func genObservation(t *rapid.T, pod *corev1.Pod) Observation {
	obs := Observation{SandboxReady: rapid.Bool().Draw(t, "sandbox"), Terminal: rapid.Bool().Draw(t, "terminal")}
	names := []string{}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, n := range names {
		if !rapid.Bool().Draw(t, n+"-seen") {
			continue
		}
		c := Container{
			Name:         n,
			State:        State(rapid.IntRange(0, 4).Draw(t, n+"-state")),
			ExitCode:     rapid.SampledFrom([]int32{0, 1, 137}).Draw(t, n+"-exit"),
			RestartCount: int32(rapid.IntRange(0, 3).Draw(t, n+"-restarts")),
			Started:      rapid.Bool().Draw(t, n+"-started"),
			Ready:        rapid.Bool().Draw(t, n+"-ready"),
			StartedAt:    t0,
			FinishedAt:   t0.Add(time.Second),
		}
		if rapid.Bool().Draw(t, n+"-prev") {
			c.Previous = &Termination{ExitCode: 1, FinishedAt: t0}
		}
		if rapid.Bool().Draw(t, n+"-failure") {
			c.StartFailure = &Waiting{Reason: ReasonCrashLoopBackOff}
		}
		obs.Containers = append(obs.Containers, c)
	}
	return obs
}

func condition(s corev1.PodStatus, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// TestGenerateInvariants checks what must hold for any observation, fed
// in sequence as the runtime would: one status per container, a terminal
// phase never left, Ready only with every container running and ready.
func TestGenerateInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pod := genPod(t)
		var prev *corev1.PodStatus
		for step := range rapid.IntRange(1, 4).Draw(t, "steps") {
			obs := genObservation(t, pod)
			s, err := Generate(pod, prev, obs, t0.Add(time.Duration(step)*time.Minute))
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if len(s.InitContainerStatuses) != len(pod.Spec.InitContainers) || len(s.ContainerStatuses) != len(pod.Spec.Containers) {
				t.Fatalf("status count mismatch: %s", summary(s))
			}
			if prev != nil && terminal(prev.Phase) && s.Phase != prev.Phase {
				t.Fatalf("left terminal phase %s for %s", prev.Phase, s.Phase)
			}
			if condition(s, corev1.PodReady) == corev1.ConditionTrue {
				if condition(s, corev1.ContainersReady) != corev1.ConditionTrue {
					t.Fatalf("Ready without ContainersReady: %s", summary(s))
				}
				for _, c := range s.ContainerStatuses {
					if c.State.Running == nil || !c.Ready {
						t.Fatalf("Ready with container %s not running and ready: %s", c.Name, summary(s))
					}
				}
			}
			for _, c := range append(append([]corev1.ContainerStatus{}, s.InitContainerStatuses...), s.ContainerStatuses...) {
				n := 0
				for _, set := range []bool{c.State.Running != nil, c.State.Waiting != nil, c.State.Terminated != nil} {
					if set {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("container %s has %d states: %s", c.Name, n, summary(s))
				}
				if c.Started == nil {
					t.Fatalf("container %s has no started flag", c.Name)
				}
			}
			if s.Phase == corev1.PodSucceeded && prev == nil {
				for _, c := range s.ContainerStatuses {
					if c.State.Terminated == nil && c.LastTerminationState.Terminated == nil {
						t.Fatalf("Succeeded with app %s never terminated: %s", c.Name, summary(s))
					}
				}
			}
			if s.Phase == corev1.PodSucceeded && restart.EffectivePolicy(pod.Spec.RestartPolicy) == corev1.RestartPolicyAlways && !obs.Terminal && (prev == nil || !terminal(prev.Phase)) {
				t.Fatalf("Succeeded under Always without the pod being terminal: %s", summary(s))
			}
			prev = &s
		}
	})
}
