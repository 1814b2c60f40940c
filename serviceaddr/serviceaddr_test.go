package serviceaddr

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/manifest"
)

func svc(name string, mod func(*corev1.ServiceSpec)) manifest.Object {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if mod != nil {
		mod(&s.Spec)
	}
	return manifest.Object{Kind: manifest.KindService, Namespace: "default", Name: name, File: name + ".yaml", Line: 1, Service: s}
}

func nodePort(np int32) func(*corev1.ServiceSpec) {
	return func(s *corev1.ServiceSpec) {
		s.Type = corev1.ServiceTypeNodePort
		s.Ports[0].NodePort = np
	}
}

func clusterIP(ip string) func(*corev1.ServiceSpec) {
	return func(s *corev1.ServiceSpec) { s.ClusterIP = ip }
}

func newAllocator(t *testing.T, cidr string) *Allocator {
	t.Helper()
	a, err := New(netip.MustParsePrefix(cidr))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name    string
		prev    Table
		objs    []manifest.Object
		want    Table  // checked when not nil
		wantErr string // substring
	}{
		{
			name: "a written clusterIP and nodePort are honoured",
			objs: []manifest.Object{svc("web", func(s *corev1.ServiceSpec) { clusterIP("198.19.0.7")(s); nodePort(30080)(s) })},
			want: Table{"default/web": {ClusterIP: "198.19.0.7", NodePorts: map[string]int32{"80/TCP": 30080}}},
		},
		{
			name: "a held address is kept",
			prev: Table{"default/web": {ClusterIP: "198.19.3.4", NodePorts: map[string]int32{"80/TCP": 31111}}},
			objs: []manifest.Object{svc("web", nodePort(0))},
			want: Table{"default/web": {ClusterIP: "198.19.3.4", NodePorts: map[string]int32{"80/TCP": 31111}}},
		},
		{
			name: "a deleted Service frees its address for a written one",
			prev: Table{"default/old": {ClusterIP: "198.19.0.7"}},
			objs: []manifest.Object{svc("web", clusterIP("198.19.0.7"))},
			want: Table{"default/web": {ClusterIP: "198.19.0.7"}},
		},
		{
			name: "headless gets no address, ClusterIP no node port",
			objs: []manifest.Object{svc("db", clusterIP("None"))},
			want: Table{"default/db": {}},
		},
		{
			name:    "two Services writing one clusterIP clash",
			objs:    []manifest.Object{svc("a", clusterIP("198.19.0.7")), svc("b", clusterIP("198.19.0.7"))},
			wantErr: "b.yaml:1: spec.clusterIP: 198.19.0.7 is already allocated to Service default/a (a.yaml:1)",
		},
		{
			name:    "a written clusterIP held by another Service clashes",
			prev:    Table{"default/a": {ClusterIP: "198.19.0.7"}},
			objs:    []manifest.Object{svc("a", nil), svc("b", clusterIP("198.19.0.7"))},
			wantErr: "b.yaml:1: spec.clusterIP: 198.19.0.7 is already allocated to Service default/a (a.yaml:1)",
		},
		{
			name:    "two Services writing one nodePort clash",
			objs:    []manifest.Object{svc("a", nodePort(30080)), svc("b", nodePort(30080))},
			wantErr: "b.yaml:1: spec.ports[0].nodePort: port 30080 is already allocated to Service default/a (a.yaml:1)",
		},
		{
			name:    "a written nodePort held by another Service clashes",
			prev:    Table{"default/a": {NodePorts: map[string]int32{"80/TCP": 30080}}},
			objs:    []manifest.Object{svc("a", nodePort(0)), svc("b", nodePort(30080))},
			wantErr: "port 30080 is already allocated to Service default/a (a.yaml:1)",
		},
		{
			name:    "the cluster DNS address is reserved",
			objs:    []manifest.Object{svc("a", clusterIP("198.19.0.10"))},
			wantErr: "a.yaml:1: spec.clusterIP: Invalid value: \"198.19.0.10\": the cluster DNS address is reserved",
		},
		{
			name:    "a clusterIP outside the range",
			objs:    []manifest.Object{svc("a", clusterIP("10.0.0.1"))},
			wantErr: "a.yaml:1: spec.clusterIP: Invalid value: \"10.0.0.1\": provided IP is not in the valid range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := newAllocator(t, "198.19.0.0/16").Assign(tt.prev, tt.objs)
			if tt.wantErr != "" {
				if !strings.Contains(errs.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestAssignIsStable checks that addresses survive a restart (the Table is
// all the state), a reordering of files and of ports, and other Services
// coming and going.
func TestAssignIsStable(t *testing.T) {
	a := newAllocator(t, "198.19.0.0/16")
	objs := []manifest.Object{svc("a", nodePort(0)), svc("b", nil), svc("c", nil)}
	first, errs := a.Assign(nil, objs)
	if errs != nil {
		t.Fatal(errs)
	}
	// Same Services in another order, from a fresh allocator: equal.
	again, _ := newAllocator(t, "198.19.0.0/16").Assign(nil, []manifest.Object{objs[2], objs[0], objs[1]})
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("order changed the allocation: %v vs %v", first, again)
	}
	// b deleted, d added, a gains a port in front: a and c keep theirs.
	a2 := svc("a", nodePort(0))
	a2.Service.Spec.Ports = append([]corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}, a2.Service.Spec.Ports...)
	next, errs := a.Assign(first, []manifest.Object{a2, svc("c", nil), svc("d", nil)})
	if errs != nil {
		t.Fatal(errs)
	}
	if next["default/a"].ClusterIP != first["default/a"].ClusterIP || next["default/a"].NodePorts["80/TCP"] != first["default/a"].NodePorts["80/TCP"] {
		t.Errorf("a moved: %v -> %v", first["default/a"], next["default/a"])
	}
	if !reflect.DeepEqual(next["default/c"], first["default/c"]) {
		t.Errorf("c moved: %v -> %v", first["default/c"], next["default/c"])
	}
	if _, ok := next["default/b"]; ok {
		t.Error("deleted b is still allocated")
	}
	if next["default/a"].NodePorts["53/UDP"] == 0 {
		t.Error("a's new port got no node port")
	}
}

func TestAssignFillsASmallRange(t *testing.T) {
	a := newAllocator(t, "198.19.0.0/28") // 14 usable addresses, one of them for DNS
	var objs []manifest.Object
	for i := 0; i < 13; i++ {
		objs = append(objs, svc(fmt.Sprintf("s%02d", i), nil))
	}
	got, errs := a.Assign(nil, objs)
	if errs != nil {
		t.Fatal(errs)
	}
	seen := map[string]bool{a.ClusterDNS().String(): true}
	for _, as := range got {
		if seen[as.ClusterIP] {
			t.Fatalf("%s given twice (or the DNS address given)", as.ClusterIP)
		}
		seen[as.ClusterIP] = true
	}
	_, errs = a.Assign(got, append(objs, svc("c", nil)))
	if !strings.Contains(errs.Error(), "c.yaml:1: spec.clusterIP: no free address left") {
		t.Fatalf("want an exhausted-range error for c, got %v", errs)
	}
}

func TestApply(t *testing.T) {
	o := svc("web", nodePort(0))
	got := Apply(o.Service, Assignment{ClusterIP: "198.19.0.9", NodePorts: map[string]int32{"80/TCP": 30001}})
	if got.Spec.ClusterIP != "198.19.0.9" || got.Spec.Ports[0].NodePort != 30001 || o.Service.Spec.ClusterIP != "" {
		t.Fatalf("Apply: %+v (original %+v)", got.Spec, o.Service.Spec)
	}
}
