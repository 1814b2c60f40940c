//go:build !berth_agent

package main

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

func TestNodeDelete(t *testing.T) {
	s := newCLIServer(t)
	join, err := client.New(s.url, s.tokens.Agent, client.WithNode("node-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join.Register(context.Background(), api.RegisterRequest{Name: "node-1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		args          []string
		want, wantErr string
	}{
		{name: "delete", args: []string{"node", "delete", "node-1"}, want: "node \"node-1\" deleted\n"},
		{name: "again", args: []string{"node", "delete", "node-1"}, wantErr: `Error from server (NotFound): node "node-1" not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := s.run(tc.args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out != tc.want {
				t.Fatalf("out %q, %v; want %q", out, err, tc.want)
			}
		})
	}
	// The name is free: the join token registers it again.
	if _, err := join.Register(context.Background(), api.RegisterRequest{Name: "node-1"}); err != nil {
		t.Fatalf("register after delete: %v", err)
	}
}
