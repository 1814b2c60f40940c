package servicerules

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/knftables"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ptr[T any](v T) *T { return &v }

func service(ns, name, ip string, mod func(*corev1.ServiceSpec)) corev1.Service {
	s := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: ip,
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

type ep struct {
	ip                          string
	ready, serving, terminating bool
}

func slice(ns, svc, portName string, proto corev1.Protocol, port int32, eps ...ep) discoveryv1.EndpointSlice {
	s := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		Ports:      []discoveryv1.EndpointPort{{Name: ptr(portName), Protocol: ptr(proto), Port: ptr(port)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{
			Ready: ptr(e.ready), Serving: ptr(e.serving), Terminating: ptr(e.terminating)}})
	}
	return s
}

// goldenState has one of each case the rules distinguish.
func goldenState() State {
	return State{
		ClusterCIDR: netip.MustParsePrefix("198.18.0.0/16"),
		PodSubnet:   netip.MustParsePrefix("198.18.1.0/24"),
		Services: []corev1.Service{
			// two ready endpoints, one not ready (left out)
			service("default", "web", "198.19.0.10", nil),
			// NodePort, UDP and TCP, ClientIP affinity
			service("default", "dns", "198.19.0.53", func(s *corev1.ServiceSpec) {
				s.Type = corev1.ServiceTypeNodePort
				s.SessionAffinity = corev1.ServiceAffinityClientIP
				s.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
				s.Ports = []corev1.ServicePort{{Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053}}
			}),
			// no endpoints: rejected, on the NodePort too
			service("shop", "empty", "198.19.0.20", func(s *corev1.ServiceSpec) {
				s.Type = corev1.ServiceTypeNodePort
				s.Ports[0].NodePort = 30080
			}),
			// every pod terminating: the serving ones still get traffic
			service("shop", "draining", "198.19.0.30", nil),
			// headless: nothing
			service("shop", "db", "None", nil),
		},
		Slices: []discoveryv1.EndpointSlice{
			slice("default", "web", "http", corev1.ProtocolTCP, 8080,
				ep{ip: "198.18.1.3", ready: true, serving: true},
				ep{ip: "198.18.2.7", ready: true, serving: true},
				ep{ip: "198.18.1.9"}),
			slice("default", "dns", "udp", corev1.ProtocolUDP, 5353, ep{ip: "198.18.1.4", ready: true, serving: true}),
			slice("shop", "draining", "http", corev1.ProtocolTCP, 8080,
				ep{ip: "198.18.1.5", serving: true, terminating: true},
				ep{ip: "198.18.1.6", terminating: true}),
			slice("shop", "db", "http", corev1.ProtocolTCP, 5432, ep{ip: "198.18.1.8", ready: true, serving: true}),
		},
	}
}

func TestRulesGolden(t *testing.T) {
	fake := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	tx := fake.NewTransaction()
	Rules(tx, goldenState())
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatalf("the ruleset does not apply: %v", err)
	}
	got := fake.Dump()
	const golden = "testdata/rules.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("ruleset differs from %s (go test ./nodeagent/servicerules -run TestRulesGolden -update to accept):\n%s", golden, got)
	}
	// A second rebuild of the same state yields the same table.
	tx = fake.NewTransaction()
	Rules(tx, goldenState())
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if again := fake.Dump(); again != got {
		t.Errorf("rebuilding the same state changed the table:\n%s", again)
	}
}
