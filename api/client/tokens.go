package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/api"
)

// CreateToken makes a bootstrap token (admin); the answer is the only
// place its secret appears.
func (c *Client) CreateToken(ctx context.Context, req api.TokenCreateRequest) (*api.Token, error) {
	var t api.Token
	if err := c.do(ctx, c.timeout, http.MethodPost, api.PathTokens, nil, req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Tokens lists the live bootstrap tokens, without secrets (admin).
func (c *Client) Tokens(ctx context.Context) (*api.TokenList, error) {
	var l api.TokenList
	return &l, c.get(ctx, api.PathTokens, nil, &l)
}

// DeleteToken removes a bootstrap token by its ID (admin).
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, c.timeout, http.MethodDelete, api.PathTokens+"/"+url.PathEscape(id), nil, nil, nil)
}
