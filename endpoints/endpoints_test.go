package endpoints

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type podOpt func(*corev1.Pod)

func ready(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}
func deleting(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
func labelled(k, v string) podOpt {
	return func(p *corev1.Pod) { p.Labels = map[string]string{k: v} }
}
func namedPort(name string, n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: name, ContainerPort: n})
	}
}
func noIP(p *corev1.Pod)      { p.Status.PodIP = "" }
func succeeded(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }
func inNamespace(ns string) podOpt {
	return func(p *corev1.Pod) { p.Namespace = ns }
}
func hostname(h, sub string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = h, sub }
}

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func service(mod func(*corev1.ServiceSpec)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

// endpointView is what a test checks of one endpoint.
type endpointView struct {
	IP          string
	Ready       bool
	Serving     bool
	Terminating bool
	Hostname    string
	Ports       string
}

func flatten(t *testing.T, svc *corev1.Service, pods []*corev1.Pod) []endpointView {
	t.Helper()
	var out []endpointView
	for _, s := range ForService(svc, pods) {
		if s.Labels["kubernetes.io/service-name"] != svc.Name {
			t.Errorf("slice %s lacks the service-name label", s.Name)
		}
		for _, e := range s.Endpoints {
			v := endpointView{IP: e.Addresses[0], Ready: *e.Conditions.Ready, Serving: *e.Conditions.Serving, Terminating: *e.Conditions.Terminating, Ports: portsKey(s.Ports)}
			if e.Hostname != nil {
				v.Hostname = *e.Hostname
			}
			out = append(out, v)
		}
	}
	return out
}

func TestForService(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []endpointView
	}{
		{
			name: "ready and not-ready pods",
			svc:  service(nil),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready), pod("b", "198.18.1.3")},
			want: []endpointView{
				{IP: "198.18.1.2", Ready: true, Serving: true, Ports: "http/TCP/8080"},
				{IP: "198.18.1.3", Ports: "http/TCP/8080"},
			},
		},
		{
			name: "a terminating pod is not ready but still serving",
			svc:  service(nil),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready, deleting)},
			want: []endpointView{{IP: "198.18.1.2", Serving: true, Terminating: true, Ports: "http/TCP/8080"}},
		},
		{
			name: "publishNotReadyAddresses makes every pod ready",
			svc:  service(func(s *corev1.ServiceSpec) { s.PublishNotReadyAddresses = true }),
			pods: []*corev1.Pod{pod("a", "198.18.1.2")},
			want: []endpointView{{IP: "198.18.1.2", Ready: true, Ports: "http/TCP/8080"}},
		},
		{
			name: "pods without an IP, finished, of another namespace or not selected are left out",
			svc:  service(nil),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready, noIP), pod("b", "198.18.1.3", ready, succeeded), pod("c", "198.18.1.4", ready, inNamespace("other")), pod("d", "198.18.1.5", ready, labelled("app", "db"))},
		},
		{
			name: "a named targetPort resolves per pod into separate slices",
			svc: service(func(s *corev1.ServiceSpec) {
				s.Ports[0].TargetPort = intstr.FromString("web")
			}),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready, namedPort("web", 8080)), pod("b", "198.18.1.3", ready, namedPort("web", 9090)), pod("c", "198.18.1.4", ready)},
			want: []endpointView{
				// slices are ordered by name, a hash of their ports
				{IP: "198.18.1.2", Ready: true, Serving: true, Ports: "http/TCP/8080"},
				{IP: "198.18.1.3", Ready: true, Serving: true, Ports: "http/TCP/9090"},
				{IP: "198.18.1.4", Ready: true, Serving: true, Ports: ""},
			},
		},
		{
			name: "hostname only under the Service its subdomain names",
			svc:  service(func(s *corev1.ServiceSpec) { s.ClusterIP = corev1.ClusterIPNone }),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready, hostname("db-0", "web")), pod("b", "198.18.1.3", ready, hostname("db-1", "other"))},
			want: []endpointView{
				{IP: "198.18.1.2", Ready: true, Serving: true, Hostname: "db-0", Ports: "http/TCP/8080"},
				{IP: "198.18.1.3", Ready: true, Serving: true, Ports: "http/TCP/8080"},
			},
		},
		{
			name: "a Service without a selector has no endpoints",
			svc:  service(func(s *corev1.ServiceSpec) { s.Selector = nil }),
			pods: []*corev1.Pod{pod("a", "198.18.1.2", ready)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flatten(t, tt.svc, tt.pods)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("endpoints:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestForServiceIsDeterministic(t *testing.T) {
	svc := service(nil)
	a := []*corev1.Pod{pod("a", "198.18.1.2", ready), pod("b", "198.18.1.3", ready)}
	b := []*corev1.Pod{a[1], a[0]}
	if !reflect.DeepEqual(ForService(svc, a), ForService(svc, b)) {
		t.Fatal("the order of pods changed the slices")
	}
}
