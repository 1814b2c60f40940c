package endpoints

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ManagedBy is the value of discoveryv1.LabelManagedBy on berth's slices.
const ManagedBy = "berth.dev/endpoints"

// ForService returns the EndpointSlices of svc given every pod the cluster
// knows (pods of other namespaces are ignored). The result is sorted by
// slice name, and each slice's endpoints by address, so equal inputs give
// equal outputs.
func ForService(svc *corev1.Service, pods []*corev1.Pod) []discoveryv1.EndpointSlice {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	groups := map[string]*discoveryv1.EndpointSlice{}
	for _, pod := range pods {
		if pod.Namespace != svc.Namespace || !sel.Matches(labels.Set(pod.Labels)) || !isCandidate(pod) {
			continue
		}
		ports := portsFor(svc, pod)
		key := portsKey(ports)
		s, ok := groups[key]
		if !ok {
			s = newSlice(svc, key, ports)
			groups[key] = s
		}
		s.Endpoints = append(s.Endpoints, endpointFor(svc, pod))
	}
	out := make([]discoveryv1.EndpointSlice, 0, len(groups))
	for _, s := range groups {
		sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].Addresses[0] < s.Endpoints[j].Addresses[0] })
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// isCandidate reports whether a pod can be an endpoint at all: it has an
// address and has not finished (Kubernetes' ShouldPodBeInEndpoints).
func isCandidate(pod *corev1.Pod) bool {
	if pod.Status.PodIP == "" {
		return false
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return true
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func endpointFor(svc *corev1.Service, pod *corev1.Pod) discoveryv1.Endpoint {
	serving := IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: []string{pod.Status.PodIP},
		Conditions: discoveryv1.EndpointConditions{
			Ready:       &ready,
			Serving:     &serving,
			Terminating: &terminating,
		},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	// A pod gets a DNS name under a Service only when its subdomain names
	// that Service (the headless-Service rule of Kubernetes' DNS spec).
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// portsFor resolves every Service port for one pod. A named targetPort
// the pod does not declare leaves that port out for this pod, as
// Kubernetes does.
func portsFor(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		num, ok := FindPort(pod, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &num})
	}
	return out
}

// FindPort resolves a Service port's targetPort against a pod: a number is
// used as is (0 means the Service port), a name is looked up among the
// ports of the pod's containers with the same protocol.
func FindPort(pod *corev1.Pod, sp corev1.ServicePort) (int32, bool) {
	switch sp.TargetPort.Type {
	case intstr.String:
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				cproto := cp.Protocol
				if cproto == "" {
					cproto = corev1.ProtocolTCP
				}
				if cp.Name == sp.TargetPort.StrVal && cproto == proto {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	default:
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, true
		}
		return sp.TargetPort.IntVal, true
	}
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port)
	}
	return strings.Join(parts, ",")
}

// newSlice names a slice after its Service and a hash of its ports, so
// the same ports give the same name on every sync.
func newSlice(svc *corev1.Service, key string, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	sum := sha256.Sum256([]byte(key))
	return &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace,
			Name:      svc.Name + "-" + hex.EncodeToString(sum[:])[:5],
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   ManagedBy,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
}
