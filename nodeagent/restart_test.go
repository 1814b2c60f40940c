package nodeagent_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// userView is what a user reads of a pod that a restart of its agent must
// not change: the agent adopts the pod, it does not start it again.
type userView struct {
	uid       string
	ip        string
	startTime time.Time
	// by container name
	restarts  map[string]int32
	startedAt map[string]time.Time
	ids       map[string]string
}

func viewOf(p *corev1.Pod) userView {
	v := userView{uid: string(p.UID), ip: p.Status.PodIP, restarts: map[string]int32{}, startedAt: map[string]time.Time{}, ids: map[string]string{}}
	if p.Status.StartTime != nil {
		v.startTime = p.Status.StartTime.Time
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		v.restarts[cs.Name] = cs.RestartCount
		v.ids[cs.Name] = cs.ContainerID
		switch {
		case cs.State.Running != nil:
			v.startedAt[cs.Name] = cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			v.startedAt[cs.Name] = cs.State.Terminated.StartedAt.Time
		}
	}
	return v
}

// An agent that stops and starts again reports its pods exactly as
// before: the same UID, IP, restart counts, container IDs, and the very
// same status.startTime and startedAt (to the nanosecond the first agent
// held, not to the second the API rounds to), for a finished init
// container and running app containers alike.
func TestRestartChangesNothingUsersSee(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	pod := nd.pod("steady", corev1.PodSpec{
		InitContainers: []corev1.Container{sh("prepare", "true")},
		Containers:     []corev1.Container{idle("app"), idle("helper")},
	})
	nd.agent.Sync([]*corev1.Pod{pod})
	before := viewOf(nd.waitFor(pod.UID, 60*time.Second, "running", running))

	if err := nd.agent.Close(); err != nil {
		t.Fatal(err)
	}
	nd.start()
	nd.agent.Sync([]*corev1.Pod{pod})
	after := viewOf(nd.waitFor(pod.UID, 60*time.Second, "running", running))

	if after.uid != before.uid || after.ip != before.ip {
		t.Errorf("pod is %s at %s after the restart, was %s at %s", after.uid, after.ip, before.uid, before.ip)
	}
	if !after.startTime.Equal(before.startTime) {
		t.Errorf("status.startTime %s after the restart, was %s (moved %s)", after.startTime.Format(time.RFC3339Nano), before.startTime.Format(time.RFC3339Nano), after.startTime.Sub(before.startTime))
	}
	for _, name := range []string{"prepare", "app", "helper"} {
		if after.restarts[name] != before.restarts[name] {
			t.Errorf("%s: restartCount %d after the restart, was %d", name, after.restarts[name], before.restarts[name])
		}
		if after.ids[name] != before.ids[name] {
			t.Errorf("%s: container %s after the restart, was %s", name, after.ids[name], before.ids[name])
		}
		if b, a := before.startedAt[name], after.startedAt[name]; b.IsZero() || !a.Equal(b) {
			t.Errorf("%s: startedAt %s after the restart, was %s (moved %s)", name, a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano), a.Sub(b))
		}
	}
}
