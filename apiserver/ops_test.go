package apiserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

func TestAPIVersionAndProtocol(t *testing.T) {
	server := api.BuildInfo{Version: "v2.0.0", Protocol: api.ProtocolVersion}
	h := newAPIHarness(t, func(c *harnessConfig) { c.api.Build = server })
	ctx := context.Background()

	v, err := h.admin().Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Server != server {
		t.Errorf("version: got %+v, want %+v", v.Server, server)
	}

	tests := []struct {
		name        string
		build       api.BuildInfo
		wantErr     string
		wantVersion string
	}{
		{name: "same protocol", build: api.BuildInfo{Version: "v1.9.0", Protocol: api.ProtocolVersion}, wantVersion: "v1.9.0"},
		{name: "agent from before versions", build: api.BuildInfo{}, wantVersion: ""},
		{name: "newer protocol", build: api.BuildInfo{Version: "v3.0.0", Protocol: api.ProtocolVersion + 1},
			wantErr: "agent v3.0.0 speaks protocol 2, server v2.0.0 speaks protocols 1 to 1: upgrade the server"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := string(rune('a' + i))
			_, err := h.agent(node).Register(ctx, api.RegisterRequest{Name: node, Build: tt.build})
			if tt.wantErr != "" {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want 400 %q", err, tt.wantErr)
				}
				if _, err := h.admin().Node(ctx, node); !client.IsNotFound(err) {
					t.Errorf("a refused agent's node exists: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, err := h.admin().Node(ctx, node)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Status.NodeInfo.KubeletVersion; got != tt.wantVersion {
				t.Errorf("node version %q, want %q", got, tt.wantVersion)
			}
		})
	}
}

func TestAPIOpsWithoutOperator(t *testing.T) {
	h := newAPIHarness(t, nil)
	if _, err := h.admin().Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "does not offer sync") {
		t.Errorf("sync without an operator: %v", err)
	}
	code, _ := h.do("GET", api.PathBackup, testTokens.Agent, "", "")
	if code != 403 {
		t.Errorf("backup with the join token: %d, want 403", code)
	}
}
