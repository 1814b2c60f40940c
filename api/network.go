package api

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Paths of the cluster network: agents watch what their data path needs,
// and confirm each version once it is live; users read Services and
// EndpointSlices where kubectl would.
const (
	PathAgentNetwork     = "/berth/v1/agent/network"         // GET: long-poll watch of the NetworkState
	PathAgentNetworkSeen = "/berth/v1/agent/network/applied" // POST: NetworkApplied
	PathServices         = "/api/v1/services"
	PathEndpointSlices   = "/apis/discovery.k8s.io/v1/endpointslices"
)

// NetworkState is everything a node's Service rules, cluster DNS and pod
// routes are made from. It is the same for every node; a watch with
// ?resourceVersion=N returns as soon as it differs from version N.
type NetworkState struct {
	ResourceVersion uint64 `json:"resourceVersion"`
	// ServiceCIDR is where ClusterIPs come from; ClusterDNS (inside it) is
	// the address every agent answers cluster DNS on.
	ServiceCIDR   string `json:"serviceCIDR"`
	ClusterDNS    string `json:"clusterDNS"`
	ClusterDomain string `json:"clusterDomain"`
	// ClusterCIDR holds every node's pod subnet.
	ClusterCIDR string `json:"clusterCIDR"`
	// Services carry their allocated clusterIP and nodePorts.
	Services       []corev1.Service            `json:"services"`
	EndpointSlices []discoveryv1.EndpointSlice `json:"endpointSlices"`
	Nodes          []NodeNetwork               `json:"nodes"`
}

// NodeNetwork is what one node tells the others: where it is and which
// pod subnet it holds.
type NodeNetwork struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PodCIDR string `json:"podCIDR"`
}

// NetworkApplied is an agent's confirmation that the NetworkState of
// ResourceVersion is live on the node (rules, DNS and routes). The server
// stops a pod's containers only once every node confirmed a version in
// which the pod is no longer a ready endpoint.
type NetworkApplied struct {
	ResourceVersion uint64 `json:"resourceVersion"`
}
