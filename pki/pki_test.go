package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnsureCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, CACertFile): 0o600, filepath.Join(dir, CAKeyFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v, %v; want mode %#o", path, fi.Mode(), err, want)
		}
	}
	again, err := EnsureCA(dir)
	if err != nil || again.Hash() != ca.Hash() || !strings.HasPrefix(ca.Hash(), "sha256:") || len(ca.Hash()) != 71 {
		t.Fatalf("second start: %v, hash %s vs %s", err, again.Hash(), ca.Hash())
	}
	for _, tc := range []struct {
		name          string
		path          string
		mode, restore os.FileMode
	}{
		{name: "group-readable dir", path: dir, mode: 0o750, restore: 0o700},
		{name: "world-readable key", path: filepath.Join(dir, CAKeyFile), mode: 0o644, restore: 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tc.path, tc.restore)
			_, err := EnsureCA(dir)
			if !errors.Is(err, ErrLooseMode) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want ErrLooseMode naming %s", err, tc.path)
			}
		})
	}
}

func TestNodeCertificate(t *testing.T) {
	ca, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	key, csr, err := NodeCSR("evil-asks-for-other")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNodeCSR(csr, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := NodeKeyPair(key, certPEM, ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	// The name is the server's choice, not the CSR's.
	if cn := cert.Leaf.Subject.CommonName; cn != NodePrefix+"n1" {
		t.Fatalf("CN %q", cn)
	}
	if _, err := ca.SignNodeCSR([]byte("junk"), "n1", "127.0.0.1"); err == nil {
		t.Fatal("junk CSR signed")
	}
	other, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NodeKeyPair(key, certPEM, other.Pool()); err == nil {
		t.Fatal("a certificate of another CA accepted")
	}
}

// TestPinnedRoots: a client pinned to the CA's hash completes the
// handshake with the CA's server; pinned to another hash, it refuses
// during the handshake, so the request (with its token) is never sent.
func TestPinnedRoots(t *testing.T) {
	ca, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.ServingCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sawToken := false
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = sawToken || r.Header.Get("Authorization") != ""
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving}}
	srv.StartTLS()
	defer srv.Close()
	other, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		pin    string
		wantOK bool
	}{
		{name: "right hash", pin: ca.Hash(), wantOK: true},
		{name: "another CA's hash", pin: other.Hash()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sawToken = false
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				InsecureSkipVerify: true, VerifyPeerCertificate: PinnedRoots(tc.pin, "127.0.0.1")}}}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Authorization", "Bearer join-token")
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.wantOK || sawToken != tc.wantOK {
				t.Fatalf("err %v, server saw the token: %v", err, sawToken)
			}
		})
	}
}

// TestNodeFromPeer: only a verified certificate in the nodes group with a
// node common name is a node; the server's own client certificate, an
// unverified chain and no TLS are not.
func TestNodeFromPeer(t *testing.T) {
	ca, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	key, csr, err := NodeCSR("n1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNodeCSR(csr, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	node, err := NodeKeyPair(key, certPEM, ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.ServerClientCert()
	if err != nil {
		t.Fatal(err)
	}
	verified := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c, ca.Cert}}}
	}
	for _, c := range []struct {
		name     string
		state    *tls.ConnectionState
		wantNode string
	}{
		{name: "node certificate", state: verified(node.Leaf), wantNode: "n1"},
		{name: "server's client certificate", state: verified(server.Leaf)},
		{name: "unverified chain", state: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{node.Leaf}}},
		{name: "no TLS", state: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, hash, ok := NodeFromPeer(c.state)
			if got != c.wantNode || ok != (c.wantNode != "") {
				t.Fatalf("NodeFromPeer = %q, %v; want %q", got, ok, c.wantNode)
			}
			if ok && hash != Hash(node.Leaf) {
				t.Fatalf("key hash %s, want %s", hash, Hash(node.Leaf))
			}
		})
	}
}

// TestLeavesValidWhenTheClockIsSetBack: a certificate issued while the
// wall clock ran ahead must still verify once the clock is set right (or
// on a peer whose clock is behind): leaves are valid from the CA's own
// NotBefore, not from the time they were issued.
func TestLeavesValidWhenTheClockIsSetBack(t *testing.T) {
	ca, err := EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	_, csr, err := NodeCSR("n1")
	if err != nil {
		t.Fatal(err)
	}
	nodePEM, err := ca.SignNodeCSR(csr, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	node, err := ParseCertPEM(nodePEM)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.ServingCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now()
	for _, tc := range []struct {
		name  string
		leaf  *x509.Certificate
		usage x509.ExtKeyUsage
		back  time.Duration
	}{
		{name: "node certificate, clock 30 min behind", leaf: node, usage: x509.ExtKeyUsageClientAuth, back: 30 * time.Minute},
		{name: "serving certificate, clock 55 min behind", leaf: serving.Leaf, usage: x509.ExtKeyUsageServerAuth, back: 55 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := issued.Add(-tc.back)
			_, err := tc.leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if err != nil {
				t.Errorf("verify at %v (issued %v, NotBefore %v): %v", at.Format(time.TimeOnly), issued.Format(time.TimeOnly), tc.leaf.NotBefore.Format(time.TimeOnly), err)
			}
			if !tc.leaf.NotBefore.Equal(ca.Cert.NotBefore) {
				t.Errorf("NotBefore %v, want the CA's %v", tc.leaf.NotBefore, ca.Cert.NotBefore)
			}
		})
	}
}
