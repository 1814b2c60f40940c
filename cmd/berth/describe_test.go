//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

// squash collapses runs of spaces so checks do not depend on alignment.
func squash(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		out = append(out, strings.Join(strings.Fields(line), " "))
	}
	return strings.Join(out, "\n")
}

func TestDescribe(t *testing.T) {
	s := newCLIServer(t)
	fillCluster(s)
	s.update(func(tx reconciler.Tx) error {
		for _, e := range []api.Event{
			{Time: t0.Add(-2 * time.Hour), Type: "Normal", Reason: "Scheduled", Kind: "Pod", Namespace: "default", Name: "web-0", Message: "Successfully assigned default/web-0 to node-1"},
			{Time: t0.Add(-2 * time.Hour), Type: "Normal", Reason: "Pulling", Kind: "Pod", Namespace: "default", Name: "web-0", Message: `Pulling image "busybox"`},
			{Time: t0.Add(-time.Hour), Type: "Normal", Reason: "Started", Kind: "Pod", Namespace: "default", Name: "web-0", Message: "Started container main"},
			{Time: t0.Add(-time.Minute), Type: "Warning", Reason: "BackOff", Kind: "Pod", Namespace: "default", Name: "crashy", Message: "Back-off restarting failed container main"},
			{Time: t0.Add(-time.Minute), Type: "Warning", Reason: "FailedScheduling", Kind: "Pod", Namespace: "ops", Name: "big", Message: "0/2 nodes are available: 2 Insufficient memory."},
			{Time: t0.Add(-30 * time.Second), Type: "Warning", Reason: "FailedScheduling", Kind: "Pod", Namespace: "ops", Name: "big", Message: "0/2 nodes are available: 2 Insufficient memory."},
		} {
			if err := tx.AddEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		res      resKind
		ns, obj  string
		contains []string
		absent   []string
	}{
		{
			name: "pod", res: resPods, ns: "default", obj: "web-0",
			contains: []string{
				"Name: web-0", "Namespace: default", "Node: node-1", "Status: Running", "IP: 198.18.0.7",
				"main:", "Image: busybox", "State: Running", "Last State: Terminated", "Reason: Error", "Exit Code: 1", "Restart Count: 1",
				"Type Reason Age From Message",
				"Normal Scheduled 120m berth Successfully assigned default/web-0 to node-1",
				`Normal Pulling 120m berth Pulling image "busybox"`,
				"Normal Started 60m berth Started container main",
			},
			absent: []string{"BackOff"},
		},
		{
			name: "unschedulable pod", res: resPods, ns: "ops", obj: "big",
			contains: []string{"Status: Pending", "PodScheduled False",
				"Warning FailedScheduling 30s (x2) berth 0/2 nodes are available: 2 Insufficient memory."},
		},
		{
			name: "node", res: resNodes, obj: "node-1",
			contains: []string{"Name: node-1", "PodCIDR: 198.18.0.0/24", "Ready True", "Non-terminated Pods: (2 in total)",
				"default web-0 0 0 120m", "cpu 0 (0%)", "Events:"},
		},
		{
			name: "deployment", res: resDeployments, ns: "default", obj: "web",
			contains: []string{"Name: web", "Selector: app=web", "Replicas: 3 desired | 3 updated | 3 total | 2 available | 0 unavailable",
				"StrategyType: RollingUpdate", "RollingUpdateStrategy: 25% max unavailable, 25% max surge", "Image: registry.local/busybox:1", "Events: <none>",
				"berth.dev/revision=0123456789abcdef", "deployment.kubernetes.io/revision=2"},
		},
		{
			name: "job", res: resJobs, ns: "default", obj: "migrate",
			contains: []string{"Name: migrate", "Completions: 2", "Duration: 90s", "Pods Statuses: 1 Active (0 Ready) / 1 Succeeded / 0 Failed"},
		},
		{
			name: "cronjob: next runs in its zone", res: resCronJobs, ns: "ops", obj: "backup",
			contains: []string{"Schedule: 30 2 * * *", "Time Zone: America/New_York", "Next Runs:",
				"Tue 2026-11-24 02:30 EST (in 21h)", "Wed 2026-11-25 02:30 EST", "Sat 2026-11-28 02:30 EST (in 4d21h)", "Last Schedule Time: <unset>"},
			absent: []string{"2026-11-29"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := runDescribe(context.Background(), s.admin(), &out, tc.res, tc.ns, tc.obj, t0, newYork); err != nil {
				t.Fatal(err)
			}
			got := squash(out.String())
			for _, want := range tc.contains {
				if !strings.Contains(got, want) {
					t.Errorf("missing %q in:\n%s", want, out.String())
				}
			}
			for _, bad := range tc.absent {
				if strings.Contains(got, bad) {
					t.Errorf("unexpected %q in:\n%s", bad, out.String())
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, _, err := s.run("describe", "job", "nope")
		if err == nil || err.Error() != `job "nope" not found` {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPodRequests(t *testing.T) {
	ctr := func(name, cpu, mem string) corev1.Container {
		return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
	}
	sidecar := ctr("log", "100m", "64Mi")
	sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	limitsOnly := corev1.Container{Name: "l", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("300m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}
	tests := []struct {
		name          string
		spec          corev1.PodSpec
		wantCPU, want string
	}{
		{name: "apps add up", spec: corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", "64Mi"), ctr("b", "150m", "64Mi")}},
			wantCPU: "250m", want: "128Mi"},
		{name: "a larger init container", spec: corev1.PodSpec{InitContainers: []corev1.Container{ctr("i", "1", "1Gi")},
			Containers: []corev1.Container{ctr("a", "100m", "64Mi")}}, wantCPU: "1", want: "1Gi"},
		// The init container runs beside the sidecar started before it.
		{name: "sidecar then init", spec: corev1.PodSpec{InitContainers: []corev1.Container{sidecar, ctr("i", "200m", "64Mi")},
			Containers: []corev1.Container{ctr("a", "100m", "64Mi")}}, wantCPU: "300m", want: "128Mi"},
		{name: "a limit stands for an unset request", spec: corev1.PodSpec{Containers: []corev1.Container{limitsOnly}},
			wantCPU: "300m", want: "128Mi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cpu, mem := podRequests(&corev1.Pod{Spec: tc.spec})
			if cpu.String() != tc.wantCPU || mem.String() != tc.want {
				t.Fatalf("got cpu %s memory %s, want %s and %s", cpu.String(), mem.String(), tc.wantCPU, tc.want)
			}
		})
	}
}
