package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// BenchmarkWrongToken is issue 17's "a wrong token costs 14× a right
// one", measured on a 256-node server (the real store and membership,
// the handler called in process so only the API's own work counts): the
// CPU per heartbeat request with a wrong bearer token, next to the same
// request with a right node token (plain HTTP mode) and with a right node
// certificate (TLS mode; the verified chain as the TLS layer leaves it).
// A user would otherwise be sending the right credential, so the ratio is
// wrong / right.
func BenchmarkWrongToken(b *testing.B) {
	const nodes, requests = 256, 4000
	log := slog.New(slog.DiscardHandler)
	for range b.N {
		tokenSrv, _ := newBackedServer(b, openStore(b), harnessConfig{api: Config{Logger: log}, nodes: reconciler.MembershipConfig{Logger: log}}, nil)
		certHarness := harnessConfig{api: Config{Logger: log, NodeCerts: true}, nodes: reconciler.MembershipConfig{Logger: log, CertOnly: true}}
		ca, err := pki.EnsureCA(b.TempDir() + "/pki")
		if err != nil {
			b.Fatal(err)
		}
		certHarness.nodes.CA = ca
		certSrv, _ := newBackedServer(b, openStore(b), certHarness, nil)
		var nodeToken string
		var certState *tls.ConnectionState
		for i := range nodes {
			name := fmt.Sprintf("node-%03d", i)
			key, csr, err := pki.NodeCSR(name)
			if err != nil {
				b.Fatal(err)
			}
			body := fmt.Sprintf(`{"name":%q,"address":"127.0.0.1:1","csr":%q,"capacity":{"cpu":"1"},"allocatable":{"cpu":"1"},"build":{"protocol":%d}}`, name, csr, api.ProtocolVersion)
			var resp struct {
				NodeToken   string `json:"nodeToken"`
				Certificate string `json:"certificate"`
			}
			if err := serveJSON(tokenSrv, http.MethodPost, api.PathRegister, testTokens.Agent, name, body, nil, &resp); err != nil {
				b.Fatal(err)
			}
			nodeToken = resp.NodeToken
			if err := serveJSON(certSrv, http.MethodPost, api.PathRegister, testTokens.Agent, name, body, nil, &resp); err != nil {
				b.Fatal(err)
			}
			cert, err := pki.NodeKeyPair(key, []byte(resp.Certificate), ca.Pool())
			if err != nil {
				b.Fatal(err)
			}
			certState = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}, VerifiedChains: [][]*x509.Certificate{{cert.Leaf, ca.Cert}}}
		}
		last := fmt.Sprintf("node-%03d", nodes-1)
		perRequest := func(srv http.Handler, token string, state *tls.ConnectionState, want int) float64 {
			cpu0 := processCPU()
			for range requests {
				req := httptest.NewRequest(http.MethodPost, api.PathHeartbeat, strings.NewReader(`{}`))
				req.TLS = state
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				req.Header.Set(api.HeaderNodeName, last)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != want {
					b.Fatalf("heartbeat: %d %s, want %d", rec.Code, rec.Body, want)
				}
			}
			return float64(processCPU()-cpu0) / float64(time.Microsecond) / requests
		}
		wrong := perRequest(tokenSrv, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", nil, http.StatusUnauthorized)
		rightToken := perRequest(tokenSrv, nodeToken, nil, http.StatusNoContent)
		wrongTLS := perRequest(certSrv, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", nil, http.StatusUnauthorized)
		rightCert := perRequest(certSrv, "", certState, http.StatusNoContent)
		b.ReportMetric(wrong, "wrong-token-cpu-us")
		b.ReportMetric(rightToken, "node-token-cpu-us")
		b.ReportMetric(wrongTLS, "wrong-token-tls-cpu-us")
		b.ReportMetric(rightCert, "node-cert-cpu-us")
		b.ReportMetric(wrong/rightToken, "wrong/right-token-x")
		b.ReportMetric(wrongTLS/rightCert, "wrong/right-cert-x")
	}
}

// serveJSON calls srv in process and decodes a 2xx answer into out.
func serveJSON(srv http.Handler, method, path, token, node, body string, state *tls.ConnectionState, out any) error {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.TLS = state
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.HeaderNodeName, node)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}
