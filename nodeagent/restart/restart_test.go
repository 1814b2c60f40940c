package restart

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestShouldRestart(t *testing.T) {
	tests := []struct {
		name     string
		policy   corev1.RestartPolicy
		kind     Kind
		exitCode int32
		want     bool
	}{
		{name: "app always success", policy: corev1.RestartPolicyAlways, kind: KindApp, exitCode: 0, want: true},
		{name: "app always failure", policy: corev1.RestartPolicyAlways, kind: KindApp, exitCode: 1, want: true},
		{name: "app default policy is always", policy: "", kind: KindApp, exitCode: 0, want: true},
		{name: "app onfailure success", policy: corev1.RestartPolicyOnFailure, kind: KindApp, exitCode: 0, want: false},
		{name: "app onfailure failure", policy: corev1.RestartPolicyOnFailure, kind: KindApp, exitCode: 137, want: true},
		{name: "app never failure", policy: corev1.RestartPolicyNever, kind: KindApp, exitCode: 1, want: false},
		{name: "app never success", policy: corev1.RestartPolicyNever, kind: KindApp, exitCode: 0, want: false},
		{name: "init always success", policy: corev1.RestartPolicyAlways, kind: KindInit, exitCode: 0, want: false},
		{name: "init always failure", policy: corev1.RestartPolicyAlways, kind: KindInit, exitCode: 2, want: true},
		{name: "init onfailure failure", policy: corev1.RestartPolicyOnFailure, kind: KindInit, exitCode: 2, want: true},
		{name: "init never failure", policy: corev1.RestartPolicyNever, kind: KindInit, exitCode: 2, want: false},
		{name: "sidecar never success", policy: corev1.RestartPolicyNever, kind: KindSidecar, exitCode: 0, want: true},
		{name: "sidecar never failure", policy: corev1.RestartPolicyNever, kind: KindSidecar, exitCode: 1, want: true},
		{name: "sidecar onfailure success", policy: corev1.RestartPolicyOnFailure, kind: KindSidecar, exitCode: 0, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldRestart(tt.policy, tt.kind, tt.exitCode); got != tt.want {
				t.Errorf("ShouldRestart(%q, %v, %d) = %v, want %v", tt.policy, tt.kind, tt.exitCode, got, tt.want)
			}
		})
	}
}

func TestRestartsOnLivenessFailure(t *testing.T) {
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		kind   Kind
		want   bool
	}{
		{name: "app always", policy: corev1.RestartPolicyAlways, kind: KindApp, want: true},
		{name: "app onfailure", policy: corev1.RestartPolicyOnFailure, kind: KindApp, want: true},
		{name: "app never", policy: corev1.RestartPolicyNever, kind: KindApp, want: false},
		{name: "sidecar never", policy: corev1.RestartPolicyNever, kind: KindSidecar, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RestartsOnLivenessFailure(tt.policy, tt.kind); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "setup"},
			{Name: "logs", RestartPolicy: &always},
		},
		Containers: []corev1.Container{{Name: "web"}},
	}
	tests := []struct {
		name      string
		container string
		want      Kind
		wantFound bool
	}{
		{name: "regular init", container: "setup", want: KindInit, wantFound: true},
		{name: "sidecar", container: "logs", want: KindSidecar, wantFound: true},
		{name: "app", container: "web", want: KindApp, wantFound: true},
		{name: "absent", container: "nope", want: KindUnspecified, wantFound: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := KindOf(spec, tt.container)
			if got != tt.want || found != tt.wantFound {
				t.Errorf("KindOf(%q) = %v, %v; want %v, %v", tt.container, got, found, tt.want, tt.wantFound)
			}
		})
	}
}
