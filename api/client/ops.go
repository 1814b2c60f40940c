package client

import (
	"context"
	"io"
	"net/http"

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

// Sync makes the server fetch now and returns what the fetch found. A
// fetch can take as long as the server's Git timeout, so the call is
// bounded by ctx only.
func (c *Client) Sync(ctx context.Context) (*api.SyncResponse, error) {
	var out api.SyncResponse
	if err := c.do(ctx, 0, http.MethodPost, api.PathSync, nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Backup streams a consistent copy of the server's store, with its length
// (-1 if the server did not say); the caller closes it. Only ctx bounds
// it: a store can be large.
func (c *Client) Backup(ctx context.Context) (io.ReadCloser, int64, error) {
	req, err := c.newRequest(ctx, http.MethodGet, api.PathBackup, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := c.send(req)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}
