package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/api"
)

// Delete removes a node: its name, pod subnet and credential are freed
// (admin).
func (c *Client) Delete(ctx context.Context, node string) error {
	return c.do(ctx, c.timeout, http.MethodDelete, api.PathNodes+"/"+url.PathEscape(node), nil, nil, nil)
}
