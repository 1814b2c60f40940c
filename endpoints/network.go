package endpoints

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// NetworkConfig is the cluster-wide part of the network state.
type NetworkConfig struct {
	ServiceCIDR, ClusterDNS, ClusterDomain, ClusterCIDR string
}

// Network assembles what every agent's data path is made from: the
// Services (with their allocation applied), every Service's
// EndpointSlices from the pods, and the nodes' addresses and subnets.
// The caller sets ResourceVersion when the result differs from the last
// one it served (equal inputs give equal outputs).
func Network(cfg NetworkConfig, svcs []*corev1.Service, pods []*corev1.Pod, nodes []api.NodeNetwork) api.NetworkState {
	st := api.NetworkState{
		ServiceCIDR: cfg.ServiceCIDR, ClusterDNS: cfg.ClusterDNS,
		ClusterDomain: cfg.ClusterDomain, ClusterCIDR: cfg.ClusterCIDR,
		Services: []corev1.Service{}, Nodes: append([]api.NodeNetwork{}, nodes...),
	}
	sorted := append([]*corev1.Service(nil), svcs...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, s := range sorted {
		st.Services = append(st.Services, *s)
		st.EndpointSlices = append(st.EndpointSlices, ForService(s, pods)...)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	return st
}
