package apiserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// TestNodeTokenOnlyRegistersOverTLS is the upgrade path: a node that
// holds a node token from a plain-HTTP (or older) server may use it over
// TLS for one thing, registering with a CSR to get its certificate; no
// other endpoint takes it, no new token is issued, and once the node has
// a certificate the token is void.
func TestNodeTokenOnlyRegistersOverTLS(t *testing.T) {
	st := openStore(t)
	log := slog.New(slog.DiscardHandler)
	before, _ := newBackedServer(t, st, harnessConfig{api: Config{Logger: log}, nodes: reconciler.MembershipConfig{Logger: log}}, nil)
	_, csr, err := pki.NodeCSR("n1")
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"name":"n1","address":"127.0.0.1:1","csr":%q,"capacity":{"cpu":"1"},"allocatable":{"cpu":"1"},"build":{"protocol":%d}}`, csr, api.ProtocolVersion)
	var old api.RegisterResponse
	if err := serveJSON(before, http.MethodPost, api.PathRegister, testTokens.Agent, "n1", body, nil, &old); err != nil || old.NodeToken == "" {
		t.Fatalf("register over plain HTTP: %v, token %q", err, old.NodeToken)
	}

	ca, err := pki.EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv, _ := newBackedServer(t, st, harnessConfig{api: Config{Logger: log, NodeCerts: true}, nodes: reconciler.MembershipConfig{Logger: log, CertOnly: true, CA: ca}}, nil)
	call := func(method, path, token, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set(api.HeaderNodeName, "n1")
		rec := httptest.NewRecorder()
		tlsSrv.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := call(http.MethodPost, api.PathHeartbeat, old.NodeToken, `{}`); code != http.StatusForbidden {
		t.Fatalf("heartbeat with a node token over TLS: %d, want 403", code)
	}
	var got api.RegisterResponse
	if err := serveJSON(tlsSrv, http.MethodPost, api.PathRegister, old.NodeToken, "n1", body, nil, &got); err != nil {
		t.Fatalf("register with the node token to get a certificate: %v", err)
	}
	if got.NodeToken != "" || got.Certificate == "" || got.PodCIDR != old.PodCIDR {
		t.Fatalf("answer: token %q, certificate %t, subnet %s (was %s); want a certificate only, same subnet", got.NodeToken, got.Certificate != "", got.PodCIDR, old.PodCIDR)
	}
	if code := call(http.MethodPost, api.PathRegister, old.NodeToken, body); code != http.StatusUnauthorized {
		t.Fatalf("the node token after the certificate: %d, want 401", code)
	}
	noCSR := `{"name":"n2","address":"127.0.0.1:1","capacity":{"cpu":"1"},"allocatable":{"cpu":"1"},"build":{"protocol":` + fmt.Sprint(api.ProtocolVersion) + `}}`
	req := httptest.NewRequest(http.MethodPost, api.PathRegister, strings.NewReader(noCSR))
	req.Header.Set("Authorization", "Bearer "+testTokens.Agent)
	req.Header.Set(api.HeaderNodeName, "n2")
	rec := httptest.NewRecorder()
	tlsSrv.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "CSR") {
		t.Fatalf("join without a CSR over TLS: %d %s, want 400 naming the CSR", rec.Code, rec.Body)
	}
}
