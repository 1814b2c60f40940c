//go:build !berth_agent

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestServiceTables(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-5 * time.Minute))
	pi := func(v int32) *int32 { return &v }
	ps := func(v string) *string { return &v }
	pb := func(v bool) *bool { return &v }
	svcs := []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "backend", CreationTimestamp: created}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "198.19.4.2", Selector: map[string]string{"app": "backend"}, SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "frontend", CreationTimestamp: created}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "198.19.7.1", Selector: map[string]string{"app": "frontend"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}}}},
	}
	var eps []discoveryv1.Endpoint
	for _, ip := range []string{"198.18.1.2", "198.18.1.3", "198.18.2.2", "198.18.2.3"} {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: pb(true)}})
	}
	eps = append(eps, discoveryv1.Endpoint{Addresses: []string{"198.18.9.9"}, Conditions: discoveryv1.EndpointConditions{Ready: pb(false)}})
	slices := []discoveryv1.EndpointSlice{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "backend-x", Labels: map[string]string{discoveryv1.LabelServiceName: "backend"}},
		Ports:      []discoveryv1.EndpointPort{{Name: ps("http"), Port: pi(8080)}}, Endpoints: eps,
	}}

	var b bytes.Buffer
	serviceTable(svcs, false, now).print(&b)
	want := `NAME       TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE
backend    ClusterIP   198.19.4.2   <none>        80/TCP         5m
frontend   NodePort    198.19.7.1   <none>        80:30080/TCP   5m
`
	if b.String() != want {
		t.Errorf("get services:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	endpointsTable(svcs, slices, now).print(&b)
	want = `NAME       ENDPOINTS                                                     AGE
backend    198.18.1.2:8080,198.18.1.3:8080,198.18.2.2:8080 + 1 more...   5m
frontend   <none>                                                        5m
`
	if b.String() != want {
		t.Errorf("get endpoints:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	describeService(&b, &svcs[0], slices)
	for _, line := range []string{
		"Selector:          app=backend",
		"IP:                198.19.4.2",
		"Port:              http  80/TCP",
		"TargetPort:        web/TCP",
		"Endpoints:         198.18.1.2:8080,198.18.1.3:8080,198.18.2.2:8080 + 1 more...",
		"Session Affinity:  None",
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("describe lacks %q:\n%s", line, b.String())
		}
	}
}
