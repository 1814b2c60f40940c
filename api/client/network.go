package client

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-dev/berth/api"
)

// WatchNetwork returns the cluster network state as soon as it differs
// from version rv (0: at once), or the same state after the server's wait.
func (c *Client) WatchNetwork(ctx context.Context, rv uint64) (*api.NetworkState, error) {
	q := url.Values{}
	q.Set(api.ParamResourceVersion, strconv.FormatUint(rv, 10))
	var out api.NetworkState
	if err := c.do(ctx, 30*time.Second+c.timeout, http.MethodGet, api.PathAgentNetwork, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NetworkApplied confirms that version rv is live on the calling node.
func (c *Client) NetworkApplied(ctx context.Context, rv uint64) error {
	return c.do(ctx, c.timeout, http.MethodPost, api.PathAgentNetworkSeen, nil, api.NetworkApplied{ResourceVersion: rv}, nil)
}

// Services lists Services (with their addresses) of one namespace, or of all.
func (c *Client) Services(ctx context.Context, namespace string) (*corev1.ServiceList, error) {
	var out corev1.ServiceList
	return &out, c.get(ctx, api.NamespacedPath(api.PathServices, namespace, ""), nil, &out)
}

// Service reads one Service.
func (c *Client) Service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	var out corev1.Service
	return &out, c.get(ctx, api.NamespacedPath(api.PathServices, namespace, name), nil, &out)
}

// EndpointSlices lists EndpointSlices of one namespace (all when empty),
// only those of Service service when it is not empty.
func (c *Client) EndpointSlices(ctx context.Context, namespace, service string) (*discoveryv1.EndpointSliceList, error) {
	var out discoveryv1.EndpointSliceList
	return &out, c.get(ctx, api.NamespacedPath(api.PathEndpointSlices, namespace, service), nil, &out)
}
