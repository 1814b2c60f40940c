//go:build !berth_agent

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/berth-dev/berth/api/client"
	"io"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// servicePorts is kubectl's PORT(S) column: 80/TCP, or 80:30080/TCP for a
// node port.
func servicePorts(s *corev1.Service) string {
	var parts []string
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			parts = append(parts, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		} else {
			parts = append(parts, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
	}
	return orNone(strings.Join(parts, ","))
}

func serviceTable(svcs []corev1.Service, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}}
	if wide {
		t.header = append(t.header, "SELECTOR")
	}
	for i := range svcs {
		s := &svcs[i]
		r := []string{s.Name, string(s.Spec.Type), orNone(s.Spec.ClusterIP), "<none>", servicePorts(s), age(s.CreationTimestamp, now)}
		if wide {
			r = append(r, orNone(labels.Set(s.Spec.Selector).String()))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, s.Namespace)
	}
	return t
}

// readyAddresses lists a Service's ready ip:port pairs across its slices,
// sorted, as `kubectl get endpoints` shows them.
func readyAddresses(slices []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				if len(s.Ports) == 0 {
					out = append(out, a)
				}
				for _, p := range s.Ports {
					if p.Port != nil {
						out = append(out, fmt.Sprintf("%s:%d", a, *p.Port))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// endpointsColumn is kubectl's ENDPOINTS: the first three, then "+ N more...".
func endpointsColumn(addrs []string) string {
	if len(addrs) == 0 {
		return "<none>"
	}
	if len(addrs) > 3 {
		return strings.Join(addrs[:3], ",") + fmt.Sprintf(" + %d more...", len(addrs)-3)
	}
	return strings.Join(addrs, ",")
}

// endpointsTable is `kubectl get endpoints`: one row per Service, from its
// EndpointSlices (grouped by the kubernetes.io/service-name label).
func endpointsTable(svcs []corev1.Service, slices []discoveryv1.EndpointSlice, now time.Time) table {
	by := map[string][]discoveryv1.EndpointSlice{}
	for _, s := range slices {
		k := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
		by[k] = append(by[k], s)
	}
	t := table{header: []string{"NAME", "ENDPOINTS", "AGE"}}
	for i := range svcs {
		s := &svcs[i]
		t.rows = append(t.rows, []string{s.Name, endpointsColumn(readyAddresses(by[s.Namespace+"/"+s.Name])), age(s.CreationTimestamp, now)})
		t.namespaces = append(t.namespaces, s.Namespace)
	}
	return t
}

// describeService prints `kubectl describe service`.
func describeService(w io.Writer, s *corev1.Service, slices []discoveryv1.EndpointSlice) {
	field := func(k, v string) { fmt.Fprintf(w, "%-19s%s\n", k+":", v) }
	field("Name", s.Name)
	field("Namespace", s.Namespace)
	field("Labels", orNone(labels.Set(s.Labels).String()))
	field("Selector", orNone(labels.Set(s.Spec.Selector).String()))
	field("Type", string(s.Spec.Type))
	field("IP", orNone(s.Spec.ClusterIP))
	addrs := readyAddresses(slices)
	for _, p := range s.Spec.Ports {
		name := p.Name
		if name == "" {
			name = "<unset>"
		}
		field("Port", fmt.Sprintf("%s  %d/%s", name, p.Port, p.Protocol))
		field("TargetPort", fmt.Sprintf("%s/%s", p.TargetPort.String(), p.Protocol))
		if p.NodePort != 0 {
			field("NodePort", fmt.Sprintf("%s  %d/%s", name, p.NodePort, p.Protocol))
		}
		field("Endpoints", endpointsForPort(slices, p.Name))
	}
	if len(s.Spec.Ports) == 0 {
		field("Endpoints", endpointsColumn(addrs))
	}
	field("Session Affinity", string(s.Spec.SessionAffinity))
	if len(s.Spec.Selector) == 0 {
		fmt.Fprintln(w, "Note:              no selector: berth has no manually written Endpoints yet, so this Service has no endpoints")
	}
}

func endpointsForPort(slices []discoveryv1.EndpointSlice, port string) string {
	var out []string
	for _, s := range slices {
		for _, p := range s.Ports {
			if p.Name == nil || *p.Name != port || p.Port == nil {
				continue
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					continue
				}
				for _, a := range e.Addresses {
					out = append(out, fmt.Sprintf("%s:%d", a, *p.Port))
				}
			}
		}
	}
	sort.Strings(out)
	return endpointsColumn(out)
}

// endpointsView is what `get endpoints` shows: Services and their slices.
type endpointsView struct {
	services []corev1.Service
	slices   []discoveryv1.EndpointSlice
}

// MarshalJSON gives -o json/yaml the slices, the objects berth keeps.
func (v *endpointsView) MarshalJSON() ([]byte, error) {
	return json.Marshal(&discoveryv1.EndpointSliceList{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSliceList"}, Items: v.slices})
}

func fetchEndpoints(ctx context.Context, c *client.Client, ns, name string) (any, int, error) {
	var svcs []corev1.Service
	if name != "" {
		svc, err := c.Service(ctx, ns, name)
		if err != nil {
			return nil, 0, err
		}
		svcs = []corev1.Service{*svc}
	} else {
		l, err := c.Services(ctx, ns)
		if err != nil {
			return nil, 0, err
		}
		svcs = l.Items
	}
	sl, err := c.EndpointSlices(ctx, ns, name)
	if err != nil {
		return nil, 0, err
	}
	return &endpointsView{services: svcs, slices: sl.Items}, len(svcs), nil
}
