package client

import (
	"context"
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
