package manifest

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file validates the pod-spec fields that refer to ConfigMaps,
// Secrets and the downward API, DNS and securityContext, following
// Kubernetes' pkg/apis/core/validation and wording.

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// Downward API paths Kubernetes accepts in env and in volumes.
var (
	envFieldPaths    = sets.New("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
	volumeFieldPaths = sets.New("metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid")
	resourceFields   = sets.New("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")
)

// annotationAppArmorPrefix is the beta AppArmor annotation berth refuses:
// it does not enforce AppArmor profiles and must not pretend to.
const annotationAppArmorPrefix = "container.apparmor.security.beta.kubernetes.io/"

// safeSysctls is the kubelet's safe set (pkg/kubelet/sysctl/safe_sysctls.go):
// namespaced, and unable to affect other pods or the node.
var safeSysctls = sets.New(
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
)

// capabilities are the Linux capability names (without CAP_).
var capabilities = sets.New(
	"AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
	"DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
	"LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG",
	"SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE",
	"SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
)

func validateAnnotationsSupported(ann map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, annotationAppArmorPrefix) {
			errs = append(errs, field.Forbidden(p.Key(k), "not supported by berth: AppArmor profiles are not enforced, and berth refuses what it does not enforce; remove the annotation"))
		}
		if strings.HasPrefix(k, "seccomp.security.alpha.kubernetes.io/") || strings.HasPrefix(k, "container.seccomp.security.alpha.kubernetes.io/") {
			errs = append(errs, field.Forbidden(p.Key(k), "not supported by berth: use securityContext.seccompProfile"))
		}
	}
	return errs
}

// validatePodSpecExtras checks the pod-level fields beyond containers and
// volumes: service account, DNS and the pod securityContext.
func validatePodSpecExtras(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.ServiceAccountName != "" {
		for _, msg := range apivalidation.ValidateServiceAccountName(s.ServiceAccountName, false) {
			errs = append(errs, field.Invalid(p.Child("serviceAccountName"), s.ServiceAccountName, msg))
		}
	}
	if s.DeprecatedServiceAccount != "" {
		for _, msg := range apivalidation.ValidateServiceAccountName(s.DeprecatedServiceAccount, false) {
			errs = append(errs, field.Invalid(p.Child("serviceAccount"), s.DeprecatedServiceAccount, msg))
		}
	}
	switch s.DNSPolicy {
	case "", corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone:
	case corev1.DNSClusterFirstWithHostNet:
		errs = append(errs, field.Forbidden(p.Child("dnsPolicy"), "not supported by berth: ClusterFirstWithHostNet is for hostNetwork pods, and berth has no hostNetwork"))
	default:
		errs = append(errs, field.NotSupported(p.Child("dnsPolicy"), s.DNSPolicy, []string{string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone)}))
	}
	errs = append(errs, validateDNSConfig(s.DNSConfig, s.DNSPolicy, p.Child("dnsConfig"))...)
	if sc := s.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		errs = append(errs, validateIDs(sc.RunAsUser, sc.RunAsGroup, sp)...)
		if sc.FSGroup != nil {
			for _, msg := range validation.IsValidGroupID(*sc.FSGroup) {
				errs = append(errs, field.Invalid(sp.Child("fsGroup"), *sc.FSGroup, msg))
			}
		}
		for i, g := range sc.SupplementalGroups {
			for _, msg := range validation.IsValidGroupID(g) {
				errs = append(errs, field.Invalid(sp.Child("supplementalGroups").Index(i), g, msg))
			}
		}
		errs = append(errs, validateSeccomp(sc.SeccompProfile, sp.Child("seccompProfile"))...)
		seen := map[string]bool{}
		for i, sy := range sc.Sysctls {
			yp := sp.Child("sysctls").Index(i)
			name := sysctlDots(sy.Name)
			switch {
			case sy.Name == "":
				errs = append(errs, field.Required(yp.Child("name"), ""))
			case !safeSysctls.Has(name):
				errs = append(errs, field.Forbidden(yp.Child("name"), fmt.Sprintf("not supported by berth: %q is not one of the kubelet's safe sysctls (%s)", sy.Name, strings.Join(sets.List(safeSysctls), ", "))))
			case seen[name]:
				errs = append(errs, field.Duplicate(yp.Child("name"), sy.Name))
			}
			seen[name] = true
		}
	}
	return errs
}

// sysctlDots turns the slash form (net/ipv4/tcp_syncookies) into the dot
// form, as the kubelet does.
func sysctlDots(name string) string {
	if !strings.Contains(name, "/") {
		return name
	}
	return strings.NewReplacer("/", ".", ".", "/").Replace(name)
}

func validateDNSConfig(c *corev1.PodDNSConfig, policy corev1.DNSPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if policy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(p, fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone))}
		}
		if len(c.Nameservers) == 0 {
			errs = append(errs, field.Required(p.Child("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
		}
	}
	if c == nil {
		return errs
	}
	if len(c.Nameservers) > 3 {
		errs = append(errs, field.Invalid(p.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, field.Invalid(p.Child("nameservers").Index(i), ns, "must be valid IP address"))
		}
	}
	if len(c.Searches) > 32 {
		errs = append(errs, field.Invalid(p.Child("searches"), c.Searches, "must not have more than 32 search paths"))
	}
	if n := len(strings.Join(c.Searches, " ")); n > 2048 {
		errs = append(errs, field.Invalid(p.Child("searches"), c.Searches, "must not have more than 2048 characters (including spaces) in the search list"))
	}
	for i, s := range c.Searches {
		if s == "." {
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")) {
			errs = append(errs, field.Invalid(p.Child("searches").Index(i), s, msg))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(p.Child("options").Index(i).Child("name"), "must not be empty"))
		}
	}
	return errs
}

func validateIDs(user, group *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if user != nil {
		for _, msg := range validation.IsValidUserID(*user) {
			errs = append(errs, field.Invalid(p.Child("runAsUser"), *user, msg))
		}
	}
	if group != nil {
		for _, msg := range validation.IsValidGroupID(*group) {
			errs = append(errs, field.Invalid(p.Child("runAsGroup"), *group, msg))
		}
	}
	return errs
}

func validateSeccomp(s *corev1.SeccompProfile, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	switch s.Type {
	case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
		if s.LocalhostProfile != nil {
			errs = append(errs, field.Invalid(p.Child("localhostProfile"), *s.LocalhostProfile, "can only be set when seccomp type is Localhost"))
		}
	case corev1.SeccompProfileTypeLocalhost:
		errs = append(errs, field.Forbidden(p.Child("type"), "not supported by berth: Localhost profiles would have to be installed on every node; use RuntimeDefault or Unconfined"))
	case "":
		errs = append(errs, field.Required(p.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{string(corev1.SeccompProfileTypeRuntimeDefault), string(corev1.SeccompProfileTypeUnconfined)}))
	}
	return errs
}

func validateContainerSecurity(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	errs := validateIDs(sc.RunAsUser, sc.RunAsGroup, p)
	errs = append(errs, validateSeccomp(sc.SeccompProfile, p.Child("seccompProfile"))...)
	sysAdmin := false
	if c := sc.Capabilities; c != nil {
		for _, list := range []struct {
			name string
			caps []corev1.Capability
		}{{"add", c.Add}, {"drop", c.Drop}} {
			for i, cp := range list.caps {
				name := strings.TrimPrefix(strings.ToUpper(string(cp)), "CAP_")
				if list.name == "add" && name == "SYS_ADMIN" {
					sysAdmin = true
				}
				if name != "ALL" && !capabilities.Has(name) {
					errs = append(errs, field.Invalid(p.Child("capabilities", list.name).Index(i), cp, "not a Linux capability"))
				}
			}
		}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(p, "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sysAdmin {
			errs = append(errs, field.Invalid(p, "", "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
		}
	}
	return errs
}

// validateEnvSources checks env[].valueFrom and envFrom.
func validateEnvSources(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		vp := p.Child("env").Index(i).Child("valueFrom")
		vf := e.ValueFrom
		n := 0
		if vf.FieldRef != nil {
			n++
			errs = append(errs, validateFieldRef(vf.FieldRef, envFieldPaths, vp.Child("fieldRef"))...)
		}
		if vf.ResourceFieldRef != nil {
			n++
			errs = append(errs, validateResourceFieldRef(vf.ResourceFieldRef, false, vp.Child("resourceFieldRef"))...)
		}
		if r := vf.ConfigMapKeyRef; r != nil {
			n++
			errs = append(errs, validateKeySelector(r.Name, r.Key, vp.Child("configMapKeyRef"))...)
		}
		if r := vf.SecretKeyRef; r != nil {
			n++
			errs = append(errs, validateKeySelector(r.Name, r.Key, vp.Child("secretKeyRef"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case e.Value != "":
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		case n > 1:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
		}
	}
	for i, ef := range c.EnvFrom {
		ep := p.Child("envFrom").Index(i)
		if ef.Prefix != "" {
			for _, msg := range validation.IsEnvVarName(ef.Prefix) {
				errs = append(errs, field.Invalid(ep.Child("prefix"), ef.Prefix, msg))
			}
		}
		n := 0
		if r := ef.ConfigMapRef; r != nil {
			n++
			errs = append(errs, validateObjectName(r.Name, ep.Child("configMapRef", "name"))...)
		}
		if r := ef.SecretRef; r != nil {
			n++
			errs = append(errs, validateObjectName(r.Name, ep.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(ep, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(ep, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateObjectName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

func validateKeySelector(name, key string, p *field.Path) field.ErrorList {
	errs := validateObjectName(name, p.Child("name"))
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(p.Child("key"), key, msg))
		}
	}
	return errs
}

func validateFieldRef(f *corev1.ObjectFieldSelector, allowed sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.APIVersion != "" && f.APIVersion != "v1" {
		errs = append(errs, field.NotSupported(p.Child("apiVersion"), f.APIVersion, []string{"v1"}))
	}
	if f.FieldPath == "" {
		return append(errs, field.Required(p.Child("fieldPath"), ""))
	}
	fp := f.FieldPath
	// metadata.labels['key'] and metadata.annotations['key'] name one entry.
	if base, sub, ok := strings.Cut(fp, "['"); ok && strings.HasSuffix(sub, "']") {
		key := strings.TrimSuffix(sub, "']")
		switch base {
		case "metadata.labels":
			for _, msg := range validation.IsQualifiedName(key) {
				errs = append(errs, field.Invalid(p.Child("fieldPath"), fp, msg))
			}
			return errs
		case "metadata.annotations":
			for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
				errs = append(errs, field.Invalid(p.Child("fieldPath"), fp, msg))
			}
			return errs
		}
	}
	if !allowed.Has(fp) {
		errs = append(errs, field.NotSupported(p.Child("fieldPath"), fp, sets.List(allowed)))
	}
	return errs
}

func validateResourceFieldRef(r *corev1.ResourceFieldSelector, volume bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if volume && r.ContainerName == "" {
		errs = append(errs, field.Required(p.Child("containerName"), ""))
	}
	switch {
	case r.Resource == "":
		errs = append(errs, field.Required(p.Child("resource"), ""))
	case !resourceFields.Has(r.Resource):
		errs = append(errs, field.NotSupported(p.Child("resource"), r.Resource, sets.List(resourceFields)))
	default:
		if !r.Divisor.IsZero() && !validDivisor(r.Resource, r.Divisor) {
			errs = append(errs, field.Invalid(p.Child("divisor"), r.Divisor.String(), divisorMessage(r.Resource)))
		}
	}
	return errs
}

func validDivisor(res string, d resource.Quantity) bool {
	var ok []string
	if strings.HasSuffix(res, "cpu") {
		ok = []string{"1m", "1"}
	} else {
		ok = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
	}
	for _, s := range ok {
		if d.Cmp(resource.MustParse(s)) == 0 {
			return true
		}
	}
	return false
}

func divisorMessage(res string) string {
	if strings.HasSuffix(res, "cpu") {
		return "only divisor's values 1m and 1 are supported with the cpu resource"
	}
	return "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"
}

// validateConfigVolume checks configMap, secret, downwardAPI and projected
// volume sources. It returns how many volume types v sets among these.
func validateConfigVolume(v *corev1.VolumeSource, p *field.Path) (int, field.ErrorList) {
	var errs field.ErrorList
	n := 0
	// A configMap and a secret volume have the same shape but for the
	// name of the field that names the object.
	objectVolume := func(name string, namePath, vp *field.Path, mode *int32, items []corev1.KeyToPath) {
		n++
		errs = append(errs, validateObjectName(name, namePath)...)
		errs = append(errs, validateMode(mode, vp.Child("defaultMode"))...)
		errs = append(errs, validateItems(items, vp.Child("items"), nil)...)
	}
	if c := v.ConfigMap; c != nil {
		objectVolume(c.Name, p.Child("configMap", "name"), p.Child("configMap"), c.DefaultMode, c.Items)
	}
	if s := v.Secret; s != nil {
		objectVolume(s.SecretName, p.Child("secret", "secretName"), p.Child("secret"), s.DefaultMode, s.Items)
	}
	if d := v.DownwardAPI; d != nil {
		n++
		dp := p.Child("downwardAPI")
		errs = append(errs, validateMode(d.DefaultMode, dp.Child("defaultMode"))...)
		errs = append(errs, validateDownwardFiles(d.Items, dp.Child("items"), nil)...)
	}
	if pr := v.Projected; pr != nil {
		n++
		pp := p.Child("projected")
		errs = append(errs, validateMode(pr.DefaultMode, pp.Child("defaultMode"))...)
		paths := sets.New[string]()
		for i, src := range pr.Sources {
			sp := pp.Child("sources").Index(i)
			k := 0
			if c := src.ConfigMap; c != nil {
				k++
				errs = append(errs, validateObjectName(c.Name, sp.Child("configMap", "name"))...)
				errs = append(errs, validateItems(c.Items, sp.Child("configMap", "items"), paths)...)
			}
			if s := src.Secret; s != nil {
				k++
				errs = append(errs, validateObjectName(s.Name, sp.Child("secret", "name"))...)
				errs = append(errs, validateItems(s.Items, sp.Child("secret", "items"), paths)...)
			}
			if d := src.DownwardAPI; d != nil {
				k++
				errs = append(errs, validateDownwardFiles(d.Items, sp.Child("downwardAPI", "items"), paths)...)
			}
			if src.ServiceAccountToken != nil || src.ClusterTrustBundle != nil || src.PodCertificate != nil {
				k++ // refused by name as unsupported fields
			}
			if k != 1 {
				errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
			}
		}
	}
	return n, errs
}

func validateMode(m *int32, p *field.Path) field.ErrorList {
	if m != nil && (*m > 0o777 || *m < 0) {
		return field.ErrorList{field.Invalid(p, *m, fileModeErrorMsg)}
	}
	return nil
}

// validateLocalPath is Kubernetes' validateLocalNonReservedPath: a file
// name inside the volume.
func validateLocalPath(t string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(t) {
		errs = append(errs, field.Invalid(p, t, "must be a relative path"))
	}
	if hasDotDot(t) {
		errs = append(errs, field.Invalid(p, t, "must not contain '..'"))
	}
	if strings.HasPrefix(t, "..") && !strings.HasPrefix(t, "../") {
		errs = append(errs, field.Invalid(p, t, "must not start with '..'"))
	}
	return errs
}

func validateItems(items []corev1.KeyToPath, p *field.Path, paths sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		errs = append(errs, validateFile(it.Path, it.Mode, ip, paths)...)
	}
	return errs
}

// validateFile checks the path and mode of one file of a volume; paths,
// when not nil, holds the paths already taken in a projected volume.
func validateFile(t string, mode *int32, p *field.Path, paths sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	if t == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	} else {
		errs = append(errs, validateLocalPath(t, p.Child("path"))...)
		errs = append(errs, checkPathUnique(paths, t, p.Child("path"))...)
	}
	return append(errs, validateMode(mode, p.Child("mode"))...)
}

func checkPathUnique(paths sets.Set[string], t string, p *field.Path) field.ErrorList {
	if paths == nil {
		return nil
	}
	if paths.Has(t) {
		return field.ErrorList{field.Invalid(p, t, "conflicting duplicate paths")}
	}
	paths.Insert(t)
	return nil
}

func validateDownwardFiles(items []corev1.DownwardAPIVolumeFile, p *field.Path, paths sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		errs = append(errs, validateFile(it.Path, it.Mode, ip, paths)...)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil:
			errs = append(errs, validateFieldRef(it.FieldRef, volumeFieldPaths, ip.Child("fieldRef"))...)
		case it.ResourceFieldRef != nil:
			errs = append(errs, validateResourceFieldRef(it.ResourceFieldRef, true, ip.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(ip, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func validateTermination(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t := c.TerminationMessagePath; t != "" && !path.IsAbs(t) {
		errs = append(errs, field.Invalid(p.Child("terminationMessagePath"), t, "must be an absolute path"))
	}
	switch c.TerminationMessagePolicy {
	case "", corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	default:
		errs = append(errs, field.NotSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, []string{string(corev1.TerminationMessageReadFile), string(corev1.TerminationMessageFallbackToLogsOnError)}))
	}
	if pr := c.ReadinessProbe; pr != nil && pr.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("readinessProbe", "terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}
