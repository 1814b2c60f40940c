package client

import (
	"context"

	"github.com/berth-dev/berth/api"
)

// Version asks the server which build it runs.
func (c *Client) Version(ctx context.Context) (*api.VersionResponse, error) {
	var out api.VersionResponse
	if err := c.get(ctx, api.PathVersion, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
