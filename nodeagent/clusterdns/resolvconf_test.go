package clusterdns

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolvConf(t *testing.T) {
	host := []byte("nameserver 127.0.0.53\nnameserver 198.18.0.1\nsearch corp.example\noptions edns0\n")
	dnsIP := netip.MustParseAddr("198.19.0.10")
	tests := []struct {
		name   string
		policy corev1.DNSPolicy
		config *corev1.PodDNSConfig
		want   string
	}{
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst, want: "# Managed by berth.\nnameserver 198.19.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{name: "empty policy is ClusterFirst", want: "# Managed by berth.\nnameserver 198.19.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{name: "Default is the host's without loopback", policy: corev1.DNSDefault, want: "# Managed by berth.\nnameserver 198.18.0.1\nsearch corp.example\noptions edns0\n"},
		{name: "None is only dnsConfig", policy: corev1.DNSNone, config: &corev1.PodDNSConfig{Nameservers: []string{"198.18.9.9"}, Searches: []string{"x.y"}},
			want: "# Managed by berth.\nnameserver 198.18.9.9\nsearch x.y\n"},
		{name: "dnsConfig merges into ClusterFirst, its options win", policy: corev1.DNSClusterFirst,
			config: &corev1.PodDNSConfig{Nameservers: []string{"198.18.9.9"}, Searches: []string{"cluster.local", "extra"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "rotate"}}},
			want:   "# Managed by berth.\nnameserver 198.19.0.10\nnameserver 198.18.9.9\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example extra\noptions ndots:2 rotate\n"},
	}
	noDNS := "# Managed by berth.\nnameserver 198.18.0.1\nsearch corp.example\noptions edns0\n"
	t.Run("ClusterFirst without cluster DNS is Default", func(t *testing.T) {
		pod := &corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
		if got := ResolvConf(pod, host, netip.Addr{}, DefaultDomain); got != noDNS {
			t.Errorf("got\n%s", got)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: corev1.PodSpec{DNSPolicy: tt.policy, DNSConfig: tt.config}}
			if got := ResolvConf(pod, host, dnsIP, DefaultDomain); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
