package nodeagent_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitStepping waits for cond like waitFor, stepping the fake clock one
// second per poll so probe periods pass; the probes themselves run for
// real in the containers.
func (nd *node) waitStepping(clk *clocktesting.FakeClock, uid types.UID, what string, cond func(p *corev1.Pod) bool) *corev1.Pod {
	nd.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		if last = nd.statusOf(uid); last != nil && cond(last) {
			return last
		}
		clk.Step(time.Second)
		time.Sleep(100 * time.Millisecond)
	}
	nd.t.Fatalf("pod %s: timed out waiting for %s; last status: %s", uid, what, describe(last))
	return nil
}

// Readiness gates Ready; a failing liveness probe restarts the container.
func TestProbes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	nd := newNode(t, nodeOpts{clock: clk})
	zero := int64(0)
	app := idle("app")
	app.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 5,
	}
	app.LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "! test -f /tmp/dead"}}},
		PeriodSeconds: 1, FailureThreshold: 2, SuccessThreshold: 1, TimeoutSeconds: 5,
	}
	web := corev1.Container{Name: "web", Command: []string{"httpd", "-f", "-p", "8080", "-h", "/"},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/etc/hostname", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 5,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 5,
		},
	}
	pod := nd.pod("probed", corev1.PodSpec{Containers: []corev1.Container{app, web}, TerminationGracePeriodSeconds: &zero})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	if containerStatus(st, "app").Ready {
		t.Fatal("app is Ready before its readiness probe passed")
	}
	nd.waitStepping(clk, pod.UID, "web ready by HTTP probe", func(p *corev1.Pod) bool { return containerStatus(p, "web").Ready })
	nd.exec(st, "app", "touch", "/tmp/ready")
	st = nd.waitStepping(clk, pod.UID, "pod Ready", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	})
	nd.exec(st, "app", "touch", "/tmp/dead")
	st = nd.waitStepping(clk, pod.UID, "liveness restart", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "app")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if containerStatus(st, "app").Ready {
		t.Fatal("restarted app is Ready before its readiness probe passed again")
	}
	if containerStatus(st, "web").RestartCount != 0 {
		t.Fatal("the healthy container was restarted")
	}
}
