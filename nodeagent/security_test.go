package nodeagent

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// specFor builds the OCI spec the security options give on top of
// containerd's default spec. Options that read the image (user, runAsNonRoot
// from the image) are covered by the integration tests.
func specFor(t *testing.T, pod *corev1.Pod, imageUser string) (*oci.Spec, error) {
	t.Helper()
	opts, err := securitySpecOpts(pod, &pod.Spec.Containers[0], imageUser)
	if err != nil {
		return nil, err
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, opts...)
}

func secPod(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u-9"},
		Spec:       corev1.PodSpec{SecurityContext: pod, Containers: []corev1.Container{{Name: "app", SecurityContext: c}}},
	}
}

func TestSecurityOptsSpec(t *testing.T) {
	tests := []struct {
		name    string
		pod     *corev1.PodSecurityContext
		c       *corev1.SecurityContext
		image   string // the image config's user
		check   func(t *testing.T, s *oci.Spec)
		wantErr string
	}{
		{
			name: "nothing set: containerd's default capabilities, no no_new_privs (Kubernetes' default)",
			check: func(t *testing.T, s *oci.Spec) {
				if s.Process.NoNewPrivileges {
					t.Error("no_new_privs set without allowPrivilegeEscalation: false")
				}
				for _, c := range []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"} {
					if !slices.Contains(s.Process.Capabilities.Bounding, c) {
						t.Errorf("default cap %s missing", c)
					}
				}
				if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
					t.Error("CAP_SYS_ADMIN in the default set")
				}
				if s.Linux.Seccomp != nil || s.Root.Readonly {
					t.Error("seccomp or read-only root without asking")
				}
			},
		},
		{
			name: "drop NET_RAW and CHOWN, add NET_ADMIN",
			c:    &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW", "CAP_CHOWN"}, Add: []corev1.Capability{"NET_ADMIN"}}},
			check: func(t *testing.T, s *oci.Spec) {
				for _, set := range [][]string{s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective, s.Process.Capabilities.Permitted} {
					if slices.Contains(set, "CAP_NET_RAW") || slices.Contains(set, "CAP_CHOWN") {
						t.Errorf("dropped cap still in %v", set)
					}
					if !slices.Contains(set, "CAP_NET_ADMIN") || !slices.Contains(set, "CAP_KILL") {
						t.Errorf("added or default cap missing from %v", set)
					}
				}
			},
		},
		{
			name: "drop ALL, add one",
			c:    &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}},
			check: func(t *testing.T, s *oci.Spec) {
				if got := s.Process.Capabilities.Bounding; len(got) != 1 || got[0] != "CAP_NET_BIND_SERVICE" {
					t.Errorf("bounding = %v, want only CAP_NET_BIND_SERVICE", got)
				}
			},
		},
		{
			name: "allowPrivilegeEscalation false sets no_new_privs",
			c:    &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)},
			check: func(t *testing.T, s *oci.Spec) {
				if !s.Process.NoNewPrivileges {
					t.Error("no_new_privs not set")
				}
			},
		},
		{
			name: "readOnlyRootFilesystem",
			c:    &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)},
			check: func(t *testing.T, s *oci.Spec) {
				if !s.Root.Readonly {
					t.Error("root not read-only")
				}
			},
		},
		{
			name: "pod RuntimeDefault seccomp, container Unconfined wins",
			pod:  &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			c:    &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			check: func(t *testing.T, s *oci.Spec) {
				if s.Linux.Seccomp != nil {
					t.Error("seccomp profile set for Unconfined")
				}
			},
		},
		{
			name: "pod RuntimeDefault seccomp is containerd's default profile",
			pod:  &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			check: func(t *testing.T, s *oci.Spec) {
				if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != "SCMP_ACT_ERRNO" || len(s.Linux.Seccomp.Syscalls) == 0 {
					t.Errorf("seccomp = %+v, want containerd's default profile", s.Linux.Seccomp)
				}
			},
		},
		{
			name: "privileged: all of the agent's capabilities, no masked paths, no seccomp",
			pod:  &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			c:    &corev1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(true)},
			check: func(t *testing.T, s *oci.Spec) {
				if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 || s.Linux.Seccomp != nil {
					t.Errorf("privileged spec still confined: masked %v, seccomp %v", s.Linux.MaskedPaths, s.Linux.Seccomp != nil)
				}
				if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
					t.Error("privileged without CAP_SYS_ADMIN")
				}
			},
		},
		{
			name: "fsGroup and supplementalGroups join the process's groups",
			pod:  &corev1.PodSecurityContext{FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{3000, 2000}},
			check: func(t *testing.T, s *oci.Spec) {
				for _, g := range []uint32{2000, 3000} {
					if !slices.Contains(s.Process.User.AdditionalGids, g) {
						t.Errorf("gid %d missing from %v", g, s.Process.User.AdditionalGids)
					}
				}
			},
		},
		{
			name:    "runAsNonRoot with runAsUser 0, the kubelet's message",
			pod:     &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			c:       &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
			wantErr: `container's runAsUser breaks non-root policy (pod: "web_shop(u-9)", container: app)`,
		},
		{
			name:    "runAsNonRoot with an image that runs as root",
			pod:     &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			image:   "0:0",
			wantErr: `container has runAsNonRoot and image will run as root (pod: "web_shop(u-9)", container: app)`,
		},
		{
			name:    "runAsNonRoot with an image naming its user",
			c:       &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)},
			image:   "nginx",
			wantErr: `container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root (pod: "web_shop(u-9)", container: app)`,
		},
		{
			name:  "runAsNonRoot with a numeric non-root image user",
			pod:   &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			image: "65532:65532",
			check: func(t *testing.T, s *oci.Spec) {},
		},
		{
			name:    "Localhost seccomp is refused",
			c:       &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}},
			wantErr: `seccompProfile type "Localhost" is not supported`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := specFor(t, secPod(tc.pod, tc.c), tc.image)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !isConfigError(err) {
					t.Fatalf("%v is not a CreateContainerConfigError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestCheckSysctls(t *testing.T) {
	tests := []struct {
		name    string
		sysctls []corev1.Sysctl
		wantErr string
	}{
		{name: "none"},
		{name: "safe ones", sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"}, {Name: "kernel.shm_rmid_forced", Value: "1"}}},
		{name: "slash form", sysctls: []corev1.Sysctl{{Name: "net/ipv4/tcp_syncookies", Value: "1"}}},
		{name: "unsafe", sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}, wantErr: `forbidden sysctl: "kernel.msgmax" not allowlisted`},
		{name: "node-wide", sysctls: []corev1.Sysctl{{Name: "vm.swappiness", Value: "1"}}, wantErr: `forbidden sysctl: "vm.swappiness"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSysctls(secPod(&corev1.PodSecurityContext{Sysctls: tc.sysctls}, nil))
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "p"}, sandboxSecurityOpts(secPod(&corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net/ipv4/tcp_syncookies", Value: "1"}}}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Sysctl["net.ipv4.tcp_syncookies"] != "1" {
		t.Fatalf("sandbox sysctls = %v", s.Linux.Sysctl)
	}
}
