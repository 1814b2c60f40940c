package clusterdns

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The limits the kubelet applies (glibc's resolver).
const (
	maxNameservers = 3
	maxSearch      = 32
)

// ResolvConf returns a pod's /etc/resolv.conf for its dnsPolicy, given the
// node's own resolv.conf and the cluster DNS address. Loopback name
// servers of the host are left out: the host's stub resolver is not
// reachable from a pod's namespace. Without a cluster DNS address (zero),
// ClusterFirst falls back to Default, as the kubelet does without
// --cluster-dns.
func ResolvConf(pod *corev1.Pod, hostResolvConf []byte, clusterDNS netip.Addr, domain string) string {
	hostServers, hostSearch, hostOptions := parseResolvConf(hostResolvConf)
	var servers, search, options []string
	policy := pod.Spec.DNSPolicy
	if !clusterDNS.IsValid() && policy != corev1.DNSNone {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSNone:
	case corev1.DNSDefault:
		servers, search, options = hostServers, hostSearch, hostOptions
	default: // ClusterFirst, and "" before defaulting
		servers = []string{clusterDNS.String()}
		search = append([]string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}, hostSearch...)
		options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		servers = append(servers, dc.Nameservers...)
		search = append(search, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = append(options, opt)
		}
	}
	servers = unique(servers)
	if len(servers) > maxNameservers {
		servers = servers[:maxNameservers]
	}
	search = unique(search)
	if len(search) > maxSearch {
		search = search[:maxSearch]
	}
	options = mergeOptions(options)

	var b strings.Builder
	b.WriteString("# Managed by berth.\n")
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}

func parseResolvConf(b []byte) (servers, search, options []string) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = append(search, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	return servers, search, options
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions keeps one option per name, the last one written winning
// (so dnsConfig overrides ndots:5), in the order names first appear.
func mergeOptions(in []string) []string {
	val := map[string]string{}
	var order []string
	for _, o := range in {
		name, _, _ := strings.Cut(o, ":")
		if _, ok := val[name]; !ok {
			order = append(order, name)
		}
		val[name] = o
	}
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = val[n]
	}
	return out
}
