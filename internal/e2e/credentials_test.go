package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/internal/gitserve"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// controlPlane is `berth server --agent=false` on loopback, the built
// binary, over HTTPS: no containerd, no agents, only the API.
type controlPlane struct {
	dir, dataDir, url, cli string
	ca                     *x509.CertPool
	adminTok, joinTok      string
	proc                   *proc
}

func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "git")
	testenv.RequireFile(t, "/usr/lib/git-core/git-http-backend")
	requireBinaries(t)
	dir := t.TempDir()
	r := gitserve.New(t, filepath.Join(dir, "git"), "E2E")
	r.Commit("an empty cluster", map[string]string{"README.md": "berth\n"})
	r.Push()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{dir: dir, dataDir: filepath.Join(dir, "data"), url: fmt.Sprintf("https://127.0.0.1:%d", port), cli: filepath.Join(dir, "cli.json")}
	log := filepath.Join(dir, "server.log")
	cp.proc = startProc(t, "server", log, []string{"HOME=" + filepath.Join(dir, "home"), "BERTH_CONFIG=" + cp.cli},
		"server", "--repo", r.URL, "--agent=false", "--data", cp.dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	t.Cleanup(func() {
		if err := cp.proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tailFile(log, 4000))
		}
	})
	if err := poll(time.Minute, 100*time.Millisecond, func() error {
		if !cp.proc.running() {
			return fmt.Errorf("server exited: %v", cp.proc.err)
		}
		b, err := os.ReadFile(filepath.Join(cp.dataDir, "pki", pki.CACertFile))
		if err != nil {
			return err
		}
		if cp.ca, err = pki.PoolFromPEM(b); err != nil {
			return err
		}
		resp, err := cp.client(nil).Get(cp.url + api.PathVersion)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cp.adminTok = readFile(t, filepath.Join(cp.dataDir, reconciler.AdminTokenFile))
	cp.joinTok = readFile(t, filepath.Join(cp.dataDir, reconciler.AgentTokenFile))
	return cp
}

// client trusts the cluster CA and presents cert, if any.
func (cp *controlPlane) client(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: cp.ca}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 20 * time.Second}
}

// berth runs the CLI with the config the server wrote.
func (cp *controlPlane) berth(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(bins.berth, args...)
	cmd.Env = append(os.Environ(), "BERTH_SERVER=", "BERTH_TOKEN=", "BERTH_CONFIG="+cp.cli)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// join registers node with the join token and a CSR, and returns the
// node's certificate.
func (cp *controlPlane) join(t *testing.T, node string) (tls.Certificate, string) {
	t.Helper()
	key, csr, err := pki.NodeCSR(node)
	if err != nil {
		t.Fatal(err)
	}
	body := registerBody(node, string(csr))
	code, b := cp.do(t, nil, http.MethodPost, api.PathRegister, cp.joinTok, node, body)
	if code != http.StatusOK {
		t.Fatalf("join %s: %d %s", node, code, b)
	}
	var resp api.RegisterResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.NodeToken != "" {
		t.Fatalf("join %s: the server issued a node token over TLS", node)
	}
	cert, err := pki.NodeKeyPair(key, []byte(resp.Certificate), cp.ca)
	if err != nil {
		t.Fatal(err)
	}
	return cert, string(csr)
}

func registerBody(node, csr string) string {
	b, _ := json.Marshal(map[string]any{"name": node, "address": "127.0.0.1:1", "csr": csr,
		"capacity": map[string]string{"cpu": "1"}, "allocatable": map[string]string{"cpu": "1"},
		"build": map[string]any{"protocol": api.ProtocolVersion}})
	return string(b)
}

func (cp *controlPlane) do(t *testing.T, cert *tls.Certificate, method, path, token, node, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, cp.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if node != "" {
		req.Header.Set(api.HeaderNodeName, node)
	}
	resp, err := cp.client(cert).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

// TestCredentialTable measures every endpoint with every credential on
// the built binary and prints the table (go test -v -run
// TestCredentialTable ./internal/e2e). Each answer is also checked
// against the powers the README states, so a change of power fails here.
func TestCredentialTable(t *testing.T) {
	cp := startControlPlane(t)
	plan := cp.berth(t, "token", "create", "--usages", "plan", "--ttl", "1h")
	n1, n1CSR := cp.join(t, "n1")
	n2, _ := cp.join(t, "n2")
	if list := cp.berth(t, "token", "list"); !strings.Contains(list, strings.SplitN(plan, ".", 2)[0]) || strings.Contains(list, plan) {
		t.Fatalf("token list shows no ID or shows the secret:\n%s", list)
	}

	type cred struct {
		name  string
		token string
		cert  *tls.Certificate
	}
	creds := []cred{{name: "none"}, {name: "wrong", token: "0123456789abcdef0123456789abcdef"}, {name: "join", token: cp.joinTok},
		{name: "node", cert: &n1}, {name: "other node", cert: &n2}, {name: "admin", token: cp.adminTok}, {name: "plan", token: plan}}
	type endpoint struct {
		name, method, path, body string
		// want is the answer per credential, in creds' order.
		want [7]int
	}
	const (
		ok, noContent, unauth, forbid, notFound, conflict = 200, 204, 401, 403, 404, 409
	)
	eps := []endpoint{
		{"register n1", http.MethodPost, api.PathRegister, registerBody("n1", n1CSR), [7]int{unauth, unauth, conflict, ok, forbid, forbid, forbid}},
		{"heartbeat n1", http.MethodPost, api.PathHeartbeat, `{}`, [7]int{unauth, unauth, forbid, noContent, forbid, forbid, forbid}},
		{"watch n1's pods", http.MethodGet, api.PathAgentPods + "?resourceVersion=0&timeoutSeconds=0", "", [7]int{unauth, unauth, forbid, ok, forbid, forbid, forbid}},
		{"report n1's status", http.MethodPost, api.PathPodStatus, `{"pods":[]}`, [7]int{unauth, unauth, forbid, ok, forbid, forbid, forbid}},
		{"list nodes", http.MethodGet, api.PathNodes, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, ok}},
		{"list pods", http.MethodGet, api.PathPods, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, ok}},
		{"list secrets", http.MethodGet, api.PathSecrets, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, ok}},
		{"sync status", http.MethodGet, api.PathStatus, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, ok}},
		{"snapshot (plan)", http.MethodGet, api.PathSnapshot, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, ok}},
		{"pod logs", http.MethodGet, "/api/v1/namespaces/default/pods/none/log", "", [7]int{unauth, unauth, forbid, forbid, forbid, notFound, forbid}},
		{"backup", http.MethodGet, api.PathBackup, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, forbid}},
		{"delete a node", http.MethodDelete, api.PathNodes + "/ghost", "", [7]int{unauth, unauth, forbid, forbid, forbid, notFound, forbid}},
		{"list tokens", http.MethodGet, api.PathTokens, "", [7]int{unauth, unauth, forbid, forbid, forbid, ok, forbid}},
		{"create a token", http.MethodPost, api.PathTokens, `{"ttl":"1h","usages":["plan"]}`, [7]int{unauth, unauth, forbid, forbid, forbid, 201, forbid}},
	}
	var tbl bytes.Buffer
	fmt.Fprintf(&tbl, "| endpoint |")
	for _, c := range creds {
		fmt.Fprintf(&tbl, " %s |", c.name)
	}
	fmt.Fprintf(&tbl, "\n|---|%s\n", strings.Repeat("---|", len(creds)))
	for _, ep := range eps {
		fmt.Fprintf(&tbl, "| %s %s |", ep.method, strings.SplitN(ep.path, "?", 2)[0])
		for i, c := range creds {
			code, b := cp.do(t, c.cert, ep.method, ep.path, c.token, "n1", ep.body)
			mark := ""
			if code != ep.want[i] {
				mark = " (!)"
				t.Errorf("%s with %s: %d %s, want %d", ep.name, c.name, code, bytes.TrimSpace(b), ep.want[i])
			}
			fmt.Fprintf(&tbl, " %d%s |", code, mark)
		}
		fmt.Fprintln(&tbl)
	}
	t.Logf("endpoint × credential, measured on %s:\n%s", bins.berth, tbl.String())

	t.Run("a deleted node's certificate is refused", func(t *testing.T) {
		cp.berth(t, "node", "delete", "n2")
		code, b := cp.do(t, &n2, http.MethodPost, api.PathHeartbeat, "", "n2", `{}`)
		if code != unauth {
			t.Fatalf("heartbeat with deleted n2's certificate: %d %s, want 401", code, b)
		}
	})
}

// recordingTLS is a TLS server of another CA that records every byte it
// is sent and every HTTP request that gets through.
type recordingTLS struct {
	mu       sync.Mutex
	raw      bytes.Buffer
	requests []string
	srv      *httptest.Server
}

type teeConn struct {
	net.Conn
	r *recordingTLS
}

func (c teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.raw.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

type teeListener struct {
	net.Listener
	r *recordingTLS
}

func (l teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return teeConn{c, l.r}, nil
}

// TestWrongCAHashSendsNothing: `berth agent` given a CA hash that is not
// the server's refuses the server inside the TLS handshake: the listener
// records the bytes and requests it received, and neither the token nor
// any request reaches it.
func TestWrongCAHashSendsNothing(t *testing.T) {
	testenv.RequireRoot(t)
	requireBinaries(t)
	dir := t.TempDir()
	impostor, err := pki.EnsureCA(filepath.Join(dir, "impostor"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := pki.EnsureCA(filepath.Join(dir, "real"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingTLS{}
	rec.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		rec.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	serving, err := impostor.ServingCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	rec.srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving}}
	rec.srv.Listener = teeListener{rec.srv.Listener, rec}
	rec.srv.StartTLS()
	defer rec.srv.Close()

	const secret = "join-secret-that-must-not-leave-0123"
	log := filepath.Join(dir, "agent.log")
	p := startProc(t, "agent", log, nil, "agent", "--server", rec.srv.URL, "--token", secret, "--ca-cert-hash", real.Hash(),
		"--node-name", "victim", "--run-dir", filepath.Join(dir, "run"), "--log-dir", filepath.Join(dir, "log"))
	if err := poll(20*time.Second, 100*time.Millisecond, func() error {
		if b, _ := os.ReadFile(log); !bytes.Contains(b, []byte("does not match")) {
			return fmt.Errorf("no refusal logged yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, tailFile(log, 2000))
	}
	if err := p.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Error(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) != 0 {
		t.Fatalf("requests reached the impostor: %q", rec.requests)
	}
	if rec.raw.Len() == 0 {
		t.Fatal("the listener received nothing: the agent never tried, so this proves nothing")
	}
	if bytes.Contains(rec.raw.Bytes(), []byte(secret)) {
		t.Fatal("the join token reached the impostor")
	}
	t.Logf("the impostor received %d bytes (TLS handshakes only), no request, no token", rec.raw.Len())
}
