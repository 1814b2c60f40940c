package servicerules

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestStaleUDP(t *testing.T) {
	dnsSvc := service("default", "dns", "198.19.0.53", func(s *corev1.ServiceSpec) {
		s.Type = corev1.ServiceTypeNodePort
		s.Ports = []corev1.ServicePort{{Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053}}
	})
	web := service("default", "web", "198.19.0.10", nil)
	state := func(svcs []corev1.Service, ips ...string) State {
		var eps []ep
		for _, ip := range ips {
			eps = append(eps, ep{ip: ip, ready: true, serving: true})
		}
		return State{Services: svcs, Slices: []discoveryv1.EndpointSlice{
			slice("default", "dns", "udp", corev1.ProtocolUDP, 5353, eps...),
			slice("default", "web", "http", corev1.ProtocolTCP, 8080, eps...),
		}}
	}
	both := []corev1.Service{dnsSvc, web}
	tests := []struct {
		name     string
		old, new State
		want     []string
	}{
		{name: "nothing changed", old: state(both, "198.18.1.2"), new: state(both, "198.18.1.2")},
		{
			name: "an endpoint left: its flows to the ClusterIP and the node port go, TCP is untouched",
			old:  state(both, "198.18.1.2", "198.18.1.3"), new: state(both, "198.18.1.3"),
			want: []string{"udp 198.19.0.53:53 via 198.18.1.2", "udp invalid IP:30053 via 198.18.1.2"},
		},
		{
			name: "a Service got its first endpoint: every flow to it goes",
			old:  state(both), new: state(both, "198.18.1.2"),
			want: []string{"udp 198.19.0.53:53 via invalid IP", "udp invalid IP:30053 via invalid IP"},
		},
		{
			name: "a Service was deleted",
			old:  state(both, "198.18.1.2"), new: state([]corev1.Service{web}, "198.18.1.2"),
			want: []string{"udp 198.19.0.53:53 via 198.18.1.2", "udp invalid IP:30053 via 198.18.1.2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range staleUDP(servicePorts(tt.old), servicePorts(tt.new)) {
				got = append(got, f.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
