package apiserver

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

// newTokenHarness is the API with bootstrap tokens on the harness clock.
func newTokenHarness(t *testing.T) *apiHarness {
	t.Helper()
	return newAPIHarness(t, func(c *harnessConfig) {
		toks, err := reconciler.OpenBootstrapTokens(t.TempDir(), c.api.Clock)
		if err != nil {
			t.Fatal(err)
		}
		c.api.Tokens = toks
	})
}

func (h *apiHarness) createToken(ttl time.Duration, usages ...string) string {
	h.t.Helper()
	tok, err := h.admin().CreateToken(context.Background(), api.TokenCreateRequest{TTL: api.Duration{Duration: ttl}, Usages: usages})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok.Token
}

// TestBootstrapTokenUsages: a join token registers a new name and
// nothing else; a plan token reads and plans and changes nothing; both
// expire; only the admin manages them, and listing never shows a secret.
func TestBootstrapTokenUsages(t *testing.T) {
	h := newTokenHarness(t)
	join := h.createToken(time.Hour, api.TokenUsageJoin)
	plan := h.createToken(time.Hour, api.TokenUsagePlan)
	h.register("n1")
	reg := `{"name":"n9","capacity":{"cpu":"1"},"allocatable":{"cpu":"1"}}`
	regN1 := `{"name":"n1","capacity":{"cpu":"1"},"allocatable":{"cpu":"1"}}`
	for _, c := range []struct {
		name               string
		method, path, body string
		token, node        string
		want               int
	}{
		{name: "join token registers a new name", method: http.MethodPost, path: api.PathRegister, body: reg, token: join, node: "n9", want: http.StatusOK},
		{name: "join token cannot take a registered name", method: http.MethodPost, path: api.PathRegister, body: regN1, token: join, node: "n1", want: http.StatusConflict},
		{name: "join token cannot heartbeat", method: http.MethodPost, path: api.PathHeartbeat, token: join, node: "n1", want: http.StatusForbidden},
		{name: "join token cannot read", method: http.MethodGet, path: api.PathNodes, token: join, want: http.StatusForbidden},
		{name: "plan token reads nodes", method: http.MethodGet, path: api.PathNodes, token: plan, want: http.StatusOK},
		{name: "plan token reads the snapshot", method: http.MethodGet, path: api.PathSnapshot, token: plan, want: http.StatusOK},
		{name: "plan token reads pods", method: http.MethodGet, path: api.PathPods, token: plan, want: http.StatusOK},
		{name: "plan token cannot sync", method: http.MethodPost, path: api.PathSync, token: plan, want: http.StatusForbidden},
		{name: "plan token cannot back up", method: http.MethodGet, path: api.PathBackup, token: plan, want: http.StatusForbidden},
		{name: "plan token cannot delete a node", method: http.MethodDelete, path: api.PathNodes + "/n1", token: plan, want: http.StatusForbidden},
		{name: "plan token cannot register", method: http.MethodPost, path: api.PathRegister, body: reg, token: plan, node: "n8", want: http.StatusForbidden},
		{name: "plan token cannot make tokens", method: http.MethodPost, path: api.PathTokens, body: `{}`, token: plan, want: http.StatusForbidden},
		{name: "node token cannot list tokens", method: http.MethodGet, path: api.PathTokens, token: h.nodeTokens["n1"], want: http.StatusForbidden},
		{name: "a made-up token of the right shape", method: http.MethodGet, path: api.PathNodes, token: "abcdef.0123456789abcdef", want: http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			if code, e := h.do(c.method, c.path, c.token, c.node, c.body); code != c.want {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, code, e.Message, c.want)
			}
		})
	}

	list, err := h.admin().Tokens(context.Background())
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, it := range list.Items {
		if it.Token != "" {
			t.Fatalf("list shows a secret: %+v", it)
		}
	}

	t.Run("expired", func(t *testing.T) {
		h.clock.Step(time.Hour)
		if code, _ := h.do(http.MethodGet, api.PathNodes, plan, "", ""); code != http.StatusUnauthorized {
			t.Fatalf("expired plan token: %d, want 401", code)
		}
		if code, _ := h.do(http.MethodPost, api.PathRegister, `{"name":"n7"}`, join, "n7"); code != http.StatusUnauthorized {
			t.Fatalf("expired join token: %d, want 401", code)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		tok := h.createToken(time.Hour, api.TokenUsagePlan)
		if err := h.admin().DeleteToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if code, _ := h.do(http.MethodGet, api.PathNodes, tok, "", ""); code != http.StatusUnauthorized {
			t.Fatalf("deleted token: %d, want 401", code)
		}
		var ae *api.Error
		if err := h.admin().DeleteToken(context.Background(), tok); !errors.As(err, &ae) || ae.Code != http.StatusNotFound {
			t.Fatalf("deleting twice: %v, want 404", err)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, body := range []string{`{"ttl":"1s"}`, `{"usages":["admin"]}`, `{"ttl":"10000h"}`, `{"bogus":1}`} {
			if code, _ := h.do(http.MethodPost, api.PathTokens, testTokens.Admin, "", body); code != http.StatusBadRequest {
				t.Fatalf("create %s: %d, want 400", body, code)
			}
		}
	})
}
