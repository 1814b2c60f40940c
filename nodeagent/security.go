package nodeagent

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"
	corev1 "k8s.io/api/core/v1"
)

// Pod-level reason of a pod refused for its sysctls, the kubelet's.
const reasonSysctlForbidden = "SysctlForbidden"

// safeSysctls are the namespaced sysctls the kubelet allows without
// --allowed-unsafe-sysctls (pkg/kubelet/sysctl/safe_sysctls.go).
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_rmem":                   true,
	"net.ipv4.tcp_wmem":                   true,
}

// sysctlName converts a '/'-separated sysctl name to the dotted form, as
// the kubelet does (a name using '/' may contain dots in its parts).
func sysctlName(n string) string {
	if !strings.Contains(n, "/") {
		return n
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/':
			return '.'
		case '.':
			return '/'
		}
		return r
	}, n)
}

// checkSysctls is the kubelet's sysctl admission: a pod naming a sysctl
// outside the safe set is refused.
func checkSysctls(pod *corev1.Pod) error {
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return nil
	}
	for _, s := range sc.Sysctls {
		if !safeSysctls[sysctlName(s.Name)] {
			return fmt.Errorf("forbidden sysctl: %q not allowlisted", s.Name)
		}
	}
	return nil
}

// sandboxSecurityOpts is the pod-level part of the pause container's
// spec: the pod's sysctls, set where the namespaces they belong to (net,
// ipc) are created, as containerd's CRI plugin sets them.
func sandboxSecurityOpts(pod *corev1.Pod) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		sc := pod.Spec.SecurityContext
		if sc == nil || len(sc.Sysctls) == 0 {
			return nil
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		for _, kv := range sc.Sysctls {
			s.Linux.Sysctl[sysctlName(kv.Name)] = kv.Value
		}
		return nil
	}
}

// effectiveSecurity merges the pod's securityContext into the
// container's: the container's fields win where both set them
// (securitycontext.DetermineEffectiveSecurityContext).
func effectiveSecurity(pod *corev1.Pod, c *corev1.Container) corev1.SecurityContext {
	var out corev1.SecurityContext
	if c.SecurityContext != nil {
		out = *c.SecurityContext.DeepCopy()
	}
	if ps := pod.Spec.SecurityContext; ps != nil {
		if out.RunAsUser == nil {
			out.RunAsUser = ps.RunAsUser
		}
		if out.RunAsGroup == nil {
			out.RunAsGroup = ps.RunAsGroup
		}
		if out.RunAsNonRoot == nil {
			out.RunAsNonRoot = ps.RunAsNonRoot
		}
		if out.SeccompProfile == nil {
			out.SeccompProfile = ps.SeccompProfile
		}
	}
	return out
}

// podFormat is the kubelet's format.Pod: name_namespace(uid).
func podFormat(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// securityOpts reads the image's user and returns the container's
// security options (securitySpecOpts); a runAsNonRoot refusal comes
// before anything is created.
func (a *Agent) securityOpts(s containerSpec, img containerd.Image) ([]oci.SpecOpts, error) {
	spec, err := img.Spec(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("read image config of %s: %w", img.Name(), err)
	}
	opts, err := securitySpecOpts(s.pod, s.c, spec.Config.User)
	if err != nil {
		return nil, err
	}
	return append(opts, readOnlyConfigMounts(s.pod, s.volumes)), nil
}

// readOnlyConfigMounts mounts configMap, secret, projected and downwardAPI
// volumes read-only whatever the volumeMount says, as the kubelet does:
// their content is the agent's to change.
func readOnlyConfigMounts(pod *corev1.Pod, volumes map[string]string) oci.SpecOpts {
	var dirs []string
	for i := range pod.Spec.Volumes {
		if v := &pod.Spec.Volumes[i]; isConfigVolume(v) && volumes[v.Name] != "" {
			dirs = append(dirs, volumes[v.Name])
		}
	}
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for i := range s.Mounts {
			m := &s.Mounts[i]
			for _, d := range dirs {
				if m.Source != d && !strings.HasPrefix(m.Source, d+"/") {
					continue
				}
				opts := m.Options[:0:0]
				for _, o := range m.Options {
					if o != "rw" && o != "ro" {
						opts = append(opts, o)
					}
				}
				m.Options = append(opts, "ro")
			}
		}
		return nil
	}
}

// securitySpecOpts turns the effective securityContext into OCI spec
// options on top of containerd's defaults (its default capability set,
// masked and read-only /proc paths), the way containerd's CRI plugin
// does. imageUser is the image config's user ("" for none). The options
// must follow oci.WithImageConfig, whose user they override.
func securitySpecOpts(pod *corev1.Pod, c *corev1.Container, imageUser string) ([]oci.SpecOpts, error) {
	sc := effectiveSecurity(pod, c)
	var opts []oci.SpecOpts

	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		if err := verifyNonRoot(pod, c, sc.RunAsUser, imageUser); err != nil {
			return nil, err
		}
	}
	if sc.RunAsUser != nil || sc.RunAsGroup != nil {
		opts = append(opts, withUser(sc.RunAsUser, sc.RunAsGroup, imageUser))
	}
	var groups []uint32
	if ps := pod.Spec.SecurityContext; ps != nil {
		if ps.FSGroup != nil {
			groups = append(groups, uint32(*ps.FSGroup))
		}
		for _, g := range ps.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
	}
	if len(groups) > 0 {
		opts = append(opts, withGroups(groups))
	}

	privileged := sc.Privileged != nil && *sc.Privileged
	if privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else if caps := sc.Capabilities; caps != nil {
		// ALL first, so that "add ALL, drop CHOWN" means all but CHOWN.
		if hasAll(caps.Add) {
			opts = append(opts, oci.WithAllCurrentCapabilities)
		}
		if hasAll(caps.Drop) {
			opts = append(opts, oci.WithCapabilities(nil))
		}
		opts = append(opts, oci.WithAddedCapabilities(capNames(caps.Add)), oci.WithDroppedCapabilities(capNames(caps.Drop)))
	}

	// Kubernetes sets no_new_privs only when asked to (containerd's
	// default spec sets it always).
	noNewPrivs := !privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.NoNewPrivileges = noNewPrivs
		return nil
	})

	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		opts = append(opts, oci.WithRootFSReadonly())
	}

	if !privileged && sc.SeccompProfile != nil {
		switch sc.SeccompProfile.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			opts = append(opts, seccomp.WithDefaultProfile())
		case corev1.SeccompProfileTypeUnconfined:
			opts = append(opts, oci.WithSeccompUnconfined)
		default:
			return nil, configErrorf("seccompProfile type %q is not supported (RuntimeDefault and Unconfined are)", sc.SeccompProfile.Type)
		}
	}
	if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
		return nil, configErrorf("procMount %q is not supported", *sc.ProcMount)
	}
	if sc.SELinuxOptions != nil || sc.AppArmorProfile != nil || sc.WindowsOptions != nil {
		return nil, configErrorf("seLinuxOptions, appArmorProfile and windowsOptions are not supported")
	}
	return opts, nil
}

func hasAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if strings.EqualFold(string(c), "ALL") {
			return true
		}
	}
	return false
}

// capNames gives Kubernetes capability names (NET_RAW) their kernel
// prefix (CAP_NET_RAW); ALL is handled apart.
func capNames(caps []corev1.Capability) []string {
	var out []string
	for _, c := range caps {
		n := strings.ToUpper(string(c))
		if n == "ALL" {
			continue
		}
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

// verifyNonRoot is the kubelet's verifyRunAsNonRoot: with runAsNonRoot, a
// container must run as a numeric non-zero user, from runAsUser or the
// image. Its messages are the kubelet's.
func verifyNonRoot(pod *corev1.Pod, c *corev1.Container, runAsUser *int64, imageUser string) error {
	if runAsUser != nil {
		if *runAsUser == 0 {
			return configErrorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podFormat(pod), c.Name)
		}
		return nil
	}
	// The image's "user:group": only the user part counts.
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		user = "0"
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return configErrorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, podFormat(pod), c.Name)
	case uid == 0:
		return configErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podFormat(pod), c.Name)
	}
	return nil
}

// withUser sets the process user from runAsUser/runAsGroup; a part left
// unset comes from the image's user, as the kubelet fills runAsUser from
// the image. The group of a user without runAsGroup is the user's in the
// image's /etc/passwd, else 0; the user's groups in /etc/group follow.
func withUser(uid, gid *int64, imageUser string) oci.SpecOpts {
	user, group, _ := strings.Cut(imageUser, ":")
	if uid != nil {
		user, group = strconv.FormatInt(*uid, 10), ""
	}
	if user == "" {
		user = "0"
	}
	if gid != nil {
		group = strconv.FormatInt(*gid, 10)
	}
	userstr := user
	if group != "" {
		userstr += ":" + group
	}
	return oci.Compose(oci.WithUser(userstr), oci.WithAdditionalGIDs(user))
}

// withGroups adds fsGroup and supplementalGroups to the process's groups.
func withGroups(gids []uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		have := map[uint32]bool{}
		for _, g := range s.Process.User.AdditionalGids {
			have[g] = true
		}
		for _, g := range gids {
			if !have[g] {
				have[g] = true
				s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, g)
			}
		}
		return nil
	}
}
