package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/apiserver"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// The link is tested against the real API server (package apiserver over
// reconciler's membership, pod lists and status sink, in
// process, on a real bbolt store); the agent behind it is fakeAgent here
// and the real nodeagent.Agent in integration_test.go.

var tokens = reconciler.Tokens{Agent: "agent-token-for-tests", Admin: "admin-token-for-tests"}

type server struct {
	clock *clocktesting.FakeClock // the server's and the links'
	store *reconciler.BoltStore
	http  *httptest.Server
	down  atomic.Bool // answer 503 to everything, as a server that is away
	// hangHeartbeats holds heartbeats unanswered, as a connection that
	// lost its packets; hung counts them, beats the ones answered.
	hangHeartbeats atomic.Bool
	hung, beats    atomic.Int32
	unhang         chan struct{} // closed at clean-up: hung calls end
	// refusedWatches counts watches answered 503.
	refusedWatches atomic.Int32
	ca             *pki.CA
}

// admin is the admin's client of the server.
func (s *server) admin(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(s.http.URL, tokens.Admin, client.WithHTTPClient(s.httpClient()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// httpClient trusts the cluster CA (over TLS) or is plain.
func (s *server) httpClient() *http.Client {
	if s.http.TLS == nil {
		return &http.Client{}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}}
}

// logClient calls agents' log servers as the server does: with the
// server's client certificate, trusting the cluster CA.
func (s *server) logClient(t *testing.T) *http.Client {
	t.Helper()
	cfg, err := apiserver.AgentTLS(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func newServer(t *testing.T) *server { return newServerOpts(t, "", false) }

func newServerCIDR(t *testing.T, clusterCIDR string) *server {
	return newServerOpts(t, clusterCIDR, false)
}

// newTLSServer is the server as `berth server` runs it: HTTPS that asks
// for client certificates of the cluster CA, nodes authenticated by
// certificate only.
func newTLSServer(t *testing.T) *server { return newServerOpts(t, "", true) }

func newServerOpts(t *testing.T, clusterCIDR string, certs bool) *server {
	t.Helper()
	st, err := reconciler.OpenBolt(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ca, err := pki.EnsureCA(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := reconciler.NewMembership(reconciler.MembershipConfig{Store: st, Clock: clk, Logger: quiet(), ClusterCIDR: clusterCIDR, CA: ca, CertOnly: certs})
	if err != nil {
		t.Fatal(err)
	}
	agentTLS, err := apiserver.AgentTLS(ca)
	if err != nil {
		t.Fatal(err)
	}
	apiSrv, err := apiserver.New(apiserver.Config{
		Nodes: m, Pods: reconciler.NewAgentPods(st), Status: reconciler.NewPodReports(st, clk), Reads: reconciler.NewReads(st, nil),
		JoinToken: tokens.Agent, AdminToken: tokens.Admin, Clock: clk, Logger: quiet(), AgentTLS: agentTLS,
		NodeCerts: certs,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{store: st, clock: clk, ca: ca, unhang: make(chan struct{})}
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathHeartbeat {
			if s.hangHeartbeats.Load() {
				s.hung.Add(1)
				select {
				case <-r.Context().Done():
				case <-s.unhang:
				}
				return
			}
			defer s.beats.Add(1)
		}
		if s.down.Load() {
			if r.URL.Path == api.PathAgentPods {
				s.refusedWatches.Add(1)
			}
			http.Error(w, "away", http.StatusServiceUnavailable)
			return
		}
		apiSrv.ServeHTTP(w, r)
	}))
	if certs {
		serving, err := ca.ServingCert([]string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		s.http.TLS = pki.ClientAuthTLS(&tls.Config{Certificates: []tls.Certificate{serving}}, ca.Pool())
		s.http.StartTLS()
	} else {
		s.http.Start()
	}
	t.Cleanup(func() {
		close(s.unhang)
		s.http.Close()
		st.Close()
	})
	return s
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (s *server) bind(t *testing.T, name, node string, mod func(*corev1.Pod)) {
	t.Helper()
	rec := &reconciler.PodRecord{Pod: corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}}
	if mod != nil {
		mod(&rec.Pod)
	}
	if err := s.store.Update(func(tx reconciler.Tx) error { return tx.PutPod(rec) }); err != nil {
		t.Fatal(err)
	}
}

func (s *server) pod(name string) *reconciler.PodRecord {
	var rec *reconciler.PodRecord
	_ = s.store.View(func(tx reconciler.ReadTx) (err error) { rec, err = tx.Pod("default", name); return err })
	return rec
}

func (s *server) node(name string) *reconciler.NodeRecord {
	var rec *reconciler.NodeRecord
	_ = s.store.View(func(tx reconciler.ReadTx) (err error) { rec, err = tx.Node(name); return err })
	return rec
}

// fakeAgent holds what it was last told to run, as running pods; pods it
// is told to drop stay held until release, as a slow tear-down would.
type fakeAgent struct {
	mu    sync.Mutex
	syncs int
	held  map[string]corev1.Pod
	last  []string
	// ended are pods (by name) whose containers have exited: Succeeded.
	ended map[string]bool
}

func newFakeAgent() *fakeAgent { return &fakeAgent{held: map[string]corev1.Pod{}} }

func (f *fakeAgent) Run(ctx context.Context, src nodeagent.Source) error {
	return src.Watch(ctx, f.sync)
}

func (f *fakeAgent) sync(pods []*corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	f.last = nil
	for _, p := range pods {
		q := *p
		q.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(1, 0)}},
		}}}
		if f.ended[p.Name] {
			q.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}},
			}}}
		}
		f.held[string(p.UID)] = q
		f.last = append(f.last, p.Name)
	}
	sort.Strings(f.last)
}

func (f *fakeAgent) release(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, uid)
}

func (f *fakeAgent) Status() []corev1.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.Pod
	for _, p := range f.held {
		out = append(out, p)
	}
	return out
}

func (f *fakeAgent) state() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs, slices.Clone(f.last)
}

// eventually steps the fake clock until cond holds. The short real pause
// lets the HTTP round trips the steps set off complete; no logic waits on
// wall time.
func eventually(t *testing.T, clk *clocktesting.FakeClock, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clk.Step(500 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
	}
}

func connect(t *testing.T, s *server, node string, mod func(*Config)) (*Link, *clocktesting.FakeClock) {
	t.Helper()
	clk := s.clock
	cfg := Config{Server: s.http.URL, Token: tokens.Agent, NodeName: node, Clock: clk, Logger: quiet(), LogDir: t.TempDir(), HTTPClient: s.httpClient()}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func run(t *testing.T, l *Link, a Agent) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, a) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestLinkFollowsTheServer(t *testing.T) {
	s := newServer(t)
	// Without fencing, the away subtest may outlast the lease:
	// TestLinkFencesWhenTheLeaseRunsOut is fencing's.
	l, clk := connect(t, s, "n1", func(c *Config) { c.NoFence = true })
	if l.PodCIDR() != "198.18.0.0/24" {
		t.Fatalf("pod CIDR %s", l.PodCIDR())
	}
	if n := s.node("n1"); n == nil || n.Address != l.LogAddr() {
		t.Fatalf("node %+v, want address %s", n, l.LogAddr())
	}
	a := newFakeAgent()
	s.bind(t, "elsewhere", "n2", nil)
	run(t, l, a)

	s.bind(t, "web", "n1", nil)
	eventually(t, clk, "web synced", func() bool { _, last := a.state(); return slices.Equal(last, []string{"web"}) })
	eventually(t, clk, "web's status stored", func() bool {
		p := s.pod("web")
		return p != nil && p.Pod.Status.Phase == corev1.PodRunning
	})

	now := metav1.Now()
	s.bind(t, "web", "n1", func(p *corev1.Pod) { p.DeletionTimestamp = &now })
	eventually(t, clk, "web dropped from the agent's list", func() bool { _, last := a.state(); return len(last) == 0 })
	// Still held (tearing down): the server keeps the record.
	clk.Step(6 * time.Second)
	if s.pod("web") == nil {
		t.Fatal("the record went while the agent still held the pod")
	}
	a.release("uid-web")
	eventually(t, clk, "web gone from the store", func() bool { return s.pod("web") == nil })

	t.Run("server away: pods untouched, then converge", func(t *testing.T) {
		s.down.Store(true)
		defer s.down.Store(false)
		// End the watch already inside the server (its wait runs out)
		// and see the next one refused.
		refused := s.refusedWatches.Load()
		eventually(t, clk, "a watch refused", func() bool { return s.refusedWatches.Load() > refused })
		syncs, _ := a.state()
		s.bind(t, "api", "n1", nil) // written while the agent cannot see it
		for range 20 {
			clk.Step(time.Second)
			time.Sleep(time.Millisecond)
		}
		if n, _ := a.state(); n != syncs {
			t.Fatalf("the agent was synced %d times while the server was away", n-syncs)
		}
		s.down.Store(false)
		eventually(t, clk, "api synced after the server came back", func() bool {
			_, last := a.state()
			return slices.Equal(last, []string{"api"})
		})
	})

	t.Run("re-register when the server forgot the node", func(t *testing.T) {
		if err := s.store.Update(func(tx reconciler.Tx) error { return tx.DeleteNode("n1") }); err != nil {
			t.Fatal(err)
		}
		eventually(t, clk, "node registered again", func() bool { return s.node("n1") != nil })
		if n := s.node("n1"); n.PodCIDR != "198.18.0.0/24" {
			t.Fatalf("pod CIDR after re-register %s", n.PodCIDR)
		}
	})

	t.Run("status of a pod the server does not bind here is dropped", func(t *testing.T) {
		a.mu.Lock()
		a.held["uid-stray"] = corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stray", UID: "uid-stray"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		a.mu.Unlock()
		eventually(t, clk, "stray dropped", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.dropped["uid-stray"]
		})
		if rep := l.statusReport(a.Status()); slices.ContainsFunc(rep.Pods, func(p api.PodStatus) bool { return p.UID == "uid-stray" }) {
			t.Fatal("a dropped pod is still reported")
		}
	})
}

func TestConnectRefusedToken(t *testing.T) {
	s := newServer(t)
	_, err := Connect(context.Background(), Config{Server: s.http.URL, Token: "wrong-token", NodeName: "n1", Logger: quiet()})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("err = %v, want 401 without retrying", err)
	}
}

func TestConnectNamesMissingConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no server", cfg: Config{Token: "t", NodeName: "n1"}, want: "remote config: Server required"},
		{name: "nothing", cfg: Config{}, want: "remote config: Server, Token, NodeName required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestConnectRetriesUntilTheServerAnswers(t *testing.T) {
	s := newServer(t)
	s.down.Store(true)
	clk := s.clock
	type result struct {
		l   *Link
		err error
	}
	got := make(chan result, 1)
	go func() {
		l, err := Connect(context.Background(), Config{Server: s.http.URL, Token: tokens.Agent, NodeName: "n1", Clock: clk, Logger: quiet()})
		got <- result{l, err}
	}()
	for range 5 {
		waitForTimer(t, clk)
		clk.Step(time.Minute)
	}
	s.down.Store(false)
	var r result
	eventually(t, clk, "registered", func() bool {
		select {
		case r = <-got:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.l.Close()
}

func waitForTimer(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("no back-off timer")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogs(t *testing.T) {
	s := newServer(t)
	logDir := t.TempDir()
	l, _ := connect(t, s, "n1", func(c *Config) { c.LogDir = logDir })
	a := newFakeAgent()
	run(t, l, a)
	s.bind(t, "web", "n1", nil)
	dir := filepath.Join(logDir, "default_web_uid-web", "c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(attempt int, lines string) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.log", attempt)), []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(0, "first run\n")
	write(1, "one\ntwo\nthree\n")
	admin, err := client.New(s.http.URL, tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts api.LogOptions
		want string
		code int
	}{
		{name: "current attempt", want: "one\ntwo\nthree\n"},
		{name: "tail", opts: api.LogOptions{TailLines: 2}, want: "two\nthree\n"},
		{name: "previous", opts: api.LogOptions{Previous: true}, want: "first run\n"},
		{name: "no such container", opts: api.LogOptions{Container: "x"}, code: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := admin.Logs(context.Background(), "default", "web", tc.opts)
			if tc.code != 0 {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Code != tc.code {
					t.Fatalf("err = %v, want %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			if string(b) != tc.want {
				t.Fatalf("log %q, want %q", b, tc.want)
			}
		})
	}
	// Issue 17: the log server took the join token, which the server
	// sent to whatever address a node registered. Now it takes only the
	// server's client certificate, and no token of any kind.
	t.Run("only the server's certificate", func(t *testing.T) {
		trustCA := &tls.Config{RootCAs: s.ca.Pool()}
		for _, tc := range []struct {
			name, scheme, token string
			tls                 *tls.Config
		}{
			{name: "join token over plain HTTP", scheme: "http", token: tokens.Agent},
			{name: "join token over TLS, no client certificate", scheme: "https", token: tokens.Agent, tls: trustCA},
			{name: "admin token over TLS", scheme: "https", token: tokens.Admin, tls: trustCA},
			{name: "a node's certificate", scheme: "https", tls: nodeClientTLS(t, s.ca, "n2")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", tc.scheme+"://"+l.LogAddr()+api.AgentLogPath("uid-web", "c"), nil)
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tc.tls}}).Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Fatalf("served logs to %s", tc.name)
					}
				}
			})
		}
	})
	t.Run("pod without logs here", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "https://"+l.LogAddr()+api.AgentLogPath("uid-other", "c"), nil)
		resp, err := s.logClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("code %d", resp.StatusCode)
		}
	})
}

func TestRestartedAgentKeepsItsNode(t *testing.T) {
	s := newServer(t)
	cred := filepath.Join(t.TempDir(), "run", "node-token")
	first, _ := connect(t, s, "n1", func(c *Config) { c.CredentialFile = cred })
	first.Close()
	if fi, err := os.Stat(cred); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v, %v", fi, err)
	}
	t.Run("with its token: at once, same subnet", func(t *testing.T) {
		again, _ := connect(t, s, "n1", func(c *Config) { c.CredentialFile = cred })
		defer again.Close()
		if again.PodCIDR() != first.PodCIDR() {
			t.Fatalf("subnet %s, was %s", again.PodCIDR(), first.PodCIDR())
		}
	})
	t.Run("without it: only once the admin deleted the node", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			l, err := Connect(context.Background(), Config{Server: s.http.URL, Token: tokens.Agent, NodeName: "n1", Clock: s.clock, Logger: quiet()})
			if err == nil {
				l.Close()
			}
			got <- err
		}()
		waitForTimer(t, s.clock) // refused (409) and backing off
		select {
		case err := <-got:
			t.Fatalf("the join token took a registered node's name: %v", err)
		default:
		}
		if err := s.admin(t).Delete(context.Background(), "n1"); err != nil {
			t.Fatal(err)
		}
		eventually(t, s.clock, "the name taken after the node was deleted", func() bool {
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
				return true
			default:
				return false
			}
		})
	})
}

func TestFollowEndsWithTheLink(t *testing.T) {
	s := newServer(t)
	logDir := t.TempDir()
	l, _ := connect(t, s, "n1", func(c *Config) { c.LogDir = logDir })
	dir := filepath.Join(logDir, "default_web_uid-web", "c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newFakeAgent()
	a.sync([]*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-web"}}}) // "c" runs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, a) }()

	req, _ := http.NewRequest("GET", "https://"+l.LogAddr()+api.AgentLogPath("uid-web", "c")+"?follow=true", nil)
	resp, err := s.logClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("stream ended with %v", err)
	}
}

// nodeClientTLS is a TLS client config presenting a certificate the CA
// signed for node.
func nodeClientTLS(t *testing.T, ca *pki.CA, node string) *tls.Config {
	t.Helper()
	key, csr, err := pki.NodeCSR(node)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNodeCSR(csr, node, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.NodeKeyPair(key, certPEM, ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert}}
}

// TestNodeCertificateRenews: in the last third of its validity the
// node's certificate is renewed by registering again with a fresh CSR.
func TestNodeCertificateRenews(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", nil)
	serial := func() string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.id.cert.Leaf.SerialNumber.String()
	}
	first := serial()
	a := newFakeAgent()
	run(t, l, a)
	// The certificate was signed at real time now; the link's clock is
	// moved to the last third of its validity.
	l.mu.Lock()
	due := l.id.cert.Leaf.NotAfter.Add(-pki.NodeValidity / 4)
	l.mu.Unlock()
	clk.SetTime(due)
	eventually(t, clk, "a renewed certificate", func() bool { return serial() != first })
}

// TestNodeAuthenticatesByCertificate: over TLS the join token registers
// the node once; from then on it speaks by its client certificate only
// (no node token is issued, none is stored); a restarted agent comes back
// by the certificate it kept, even with a join token that no longer
// works; once the admin deletes the node its certificate is refused and
// the agent joins again as a new node.
func TestNodeAuthenticatesByCertificate(t *testing.T) {
	s := newTLSServer(t)
	cred := filepath.Join(t.TempDir(), "run", "node-token")
	l, clk := connect(t, s, "n1", func(c *Config) { c.CredentialFile = cred })
	rec := s.node("n1")
	if rec.CredentialHash != "" || rec.CertKeyHash == "" {
		t.Fatalf("node record: credential hash %q, certificate key %q; want a certificate only", rec.CredentialHash, rec.CertKeyHash)
	}
	b, err := os.ReadFile(cred)
	if err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("credential file: %v %q", err, b)
	}
	a := newFakeAgent()
	s.bind(t, "web", "n1", nil)
	run(t, l, a)
	eventually(t, clk, "the pod reaches the agent over mTLS", func() bool { _, names := a.state(); return slices.Equal(names, []string{"web"}) })

	// Its certificate, presented directly: heartbeat OK; naming another
	// node is 403.
	l.mu.Lock()
	cert := *l.id.cert
	l.mu.Unlock()
	certClient := func(node string) *client.Client {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{cert}}}}
		c, err := client.New(s.http.URL, "", client.WithNode(node), client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	if err := certClient("n1").Heartbeat(ctx, api.HeartbeatRequest{}); err != nil {
		t.Fatalf("heartbeat by certificate: %v", err)
	}
	if err := certClient("n2").Heartbeat(ctx, api.HeartbeatRequest{}); !client.IsUnauthorized(err) {
		t.Fatalf("certificate of n1 speaking for n2: %v, want 403", err)
	}

	t.Run("restarted agent comes back by its certificate", func(t *testing.T) {
		again, err := Connect(ctx, Config{Server: s.http.URL, Token: "not-a-join-token", NodeName: "n1", Clock: s.clock, Logger: quiet(),
			HTTPClient: s.httpClient(), CredentialFile: cred})
		if err != nil {
			t.Fatalf("re-register by certificate: %v", err)
		}
		again.Close()
	})

	t.Run("a deleted node's certificate is refused", func(t *testing.T) {
		if err := s.admin(t).Delete(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		var ae *api.Error
		if err := certClient("n1").Heartbeat(ctx, api.HeartbeatRequest{}); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
			t.Fatalf("heartbeat with a deleted node's certificate: %v, want 401", err)
		}
		// The agent notices, forgets the certificate and joins again as a
		// new node, with a fresh key.
		old := pki.Hash(cert.Leaf)
		eventually(t, clk, "the agent joins again", func() bool {
			n := s.node("n1")
			return n != nil && n.CertKeyHash != "" && n.CertKeyHash != old
		})
	})
}

// eventAgent is a fakeAgent that also records events, as
// nodeagent.Agent does for failed lifecycle hooks.
type eventAgent struct {
	*fakeAgent
	emu    sync.Mutex
	events []api.Event
}

func (e *eventAgent) record(ev api.Event) {
	e.emu.Lock()
	defer e.emu.Unlock()
	e.events = append(e.events, ev)
}

func (e *eventAgent) TakeEvents() []api.Event {
	e.emu.Lock()
	defer e.emu.Unlock()
	out := e.events
	e.events = nil
	return out
}

func (s *server) podEvents(name string) []string {
	var out []string
	_ = s.store.View(func(tx reconciler.ReadTx) error {
		evs, err := tx.Events(100)
		for _, e := range evs {
			if e.Kind == "Pod" && e.Name == name {
				out = append(out, e.Reason)
			}
		}
		return err
	})
	return out
}

// The agent's events go up with its status reports, and wait for a
// server that is away.
func TestAgentEventsReachTheServer(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", func(c *Config) { c.NoFence = true })
	a := &eventAgent{fakeAgent: newFakeAgent()}
	s.bind(t, "web", "n1", nil)
	run(t, l, a)
	eventually(t, clk, "web synced", func() bool { _, last := a.state(); return slices.Equal(last, []string{"web"}) })

	hook := func(reason string) api.Event {
		return api.Event{Type: "Warning", Reason: reason, Kind: "Pod", Namespace: "default", Name: "web", Message: "hook failed for container c"}
	}
	a.record(hook("FailedPostStartHook"))
	eventually(t, clk, "the event stored", func() bool { return slices.Contains(s.podEvents("web"), "FailedPostStartHook") })

	s.down.Store(true)
	a.record(hook("FailedPreStopHook"))
	for range 10 {
		clk.Step(time.Second)
		time.Sleep(time.Millisecond)
	}
	s.down.Store(false)
	eventually(t, clk, "the event recorded while the server was away stored", func() bool {
		return slices.Contains(s.podEvents("web"), "FailedPreStopHook")
	})
}
