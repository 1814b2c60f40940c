package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

var testTokens = reconciler.Tokens{Agent: "agent-token-0123456789", Admin: "admin-token-0123456789"}

type apiHarness struct {
	t testing.TB
	// nodeTokens are the tokens register gave, by node.
	nodeTokens map[string]string
	store      reconciler.Store
	nodes      *reconciler.Membership
	srv        *Server
	http       *httptest.Server
	clock      *clocktesting.FakeClock
	objects    []manifest.Object
	mu         sync.Mutex
}

// harnessConfig is what a test may change: the API's and membership's
// configs.
type harnessConfig struct {
	api   Config
	nodes reconciler.MembershipConfig
	// configs, when set, fills the agents' lists with ConfigMaps and
	// Secrets a reconciler publishes there.
	configs *reconciler.ConfigFeed
}

// newBackedServer is the API over reconciler's real parts on store.
func newBackedServer(t testing.TB, store reconciler.Store, cfg harnessConfig, objects func() []manifest.Object) (*Server, *reconciler.Membership) {
	t.Helper()
	cfg.nodes.Store = store
	if cfg.nodes.CA == nil {
		ca, err := pki.EnsureCA(filepath.Join(t.TempDir(), "pki"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.nodes.CA = ca
	}
	if cfg.api.AgentTLS == nil {
		var err error
		if cfg.api.AgentTLS, err = AgentTLS(cfg.nodes.CA); err != nil {
			t.Fatal(err)
		}
	}
	m, err := reconciler.NewMembership(cfg.nodes)
	if err != nil {
		t.Fatal(err)
	}
	cfg.api.Nodes, cfg.api.Pods = m, reconciler.NewAgentPods(store)
	if cfg.configs != nil {
		cfg.api.Pods = reconciler.NewAgentPodsWithConfigs(store, cfg.configs)
	}
	reads := reconciler.NewReads(store, objects)
	cfg.api.Status, cfg.api.Reads = reconciler.NewPodReports(store, cfg.nodes.Clock), reads
	cfg.api.Claims = reconciler.NewClaimAdmin(store, reads, cfg.nodes.Clock)
	cfg.api.JoinToken, cfg.api.AdminToken = testTokens.Agent, testTokens.Admin
	srv, err := New(cfg.api)
	if err != nil {
		t.Fatal(err)
	}
	return srv, m
}

func openStore(t testing.TB) reconciler.Store {
	t.Helper()
	st, err := reconciler.OpenStore(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newAPIHarness(t testing.TB, mod func(*harnessConfig)) *apiHarness {
	t.Helper()
	h := &apiHarness{t: t, nodeTokens: map[string]string{}, clock: clocktesting.NewFakeClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))}
	h.store = openStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := harnessConfig{
		api:   Config{Clock: h.clock, Logger: log},
		nodes: reconciler.MembershipConfig{Clock: h.clock, Logger: log, ClusterDNS: "198.19.0.10", ClusterDomain: "cluster.local"},
	}
	if mod != nil {
		mod(&cfg)
	}
	h.srv, h.nodes = newBackedServer(t, h.store, cfg, func() []manifest.Object { h.mu.Lock(); defer h.mu.Unlock(); return h.objects })
	h.http = httptest.NewServer(h.srv)
	t.Cleanup(h.http.Close)
	return h
}

// testPod is a pod record with one container, bound to node ("" for
// none).
func testPod(ns, name, node string) *reconciler.PodRecord {
	return &reconciler.PodRecord{
		Pod: corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		},
		Owner:        reconciler.Owner{Kind: "Pod", Name: name},
		TemplateHash: "h1",
	}
}

// version is the store's version now.
func (h *apiHarness) version() uint64 {
	h.t.Helper()
	var v uint64
	if err := h.store.View(func(tx reconciler.ReadTx) error { v = tx.Version(); return nil }); err != nil {
		h.t.Fatal(err)
	}
	return v
}

// agent is a client of the node: with its node token once registered,
// else with the join token.
func (h *apiHarness) agent(node string) *client.Client {
	h.mu.Lock()
	tok, ok := h.nodeTokens[node]
	h.mu.Unlock()
	if !ok {
		tok = testTokens.Agent
	}
	c, err := client.New(h.http.URL, tok, client.WithNode(node))
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *apiHarness) admin() *client.Client {
	c, err := client.New(h.http.URL, testTokens.Admin)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *apiHarness) register(node string) *api.RegisterResponse {
	h.t.Helper()
	resp, err := h.agent(node).Register(context.Background(), api.RegisterRequest{
		Name:        node,
		Labels:      map[string]string{"zone": "a"},
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
	})
	if err != nil {
		h.t.Fatalf("register %s: %v", node, err)
	}
	if resp.NodeToken == "" {
		h.t.Fatalf("register %s: no node token", node)
	}
	if resp.ClusterDNS != "198.19.0.10" || resp.ClusterDomain != "cluster.local" {
		h.t.Fatalf("register %s: cluster DNS %q in %q, want the server's", node, resp.ClusterDNS, resp.ClusterDomain)
	}
	h.mu.Lock()
	h.nodeTokens[node] = resp.NodeToken
	h.mu.Unlock()
	return resp
}

func (h *apiHarness) update(fn func(reconciler.Tx) error) {
	h.t.Helper()
	if err := h.store.Update(fn); err != nil {
		h.t.Fatal(err)
	}
}

func (h *apiHarness) putPod(ns, name, node string, mod func(*reconciler.PodRecord)) *reconciler.PodRecord {
	h.t.Helper()
	rec := testPod(ns, name, node)
	rec.Created = h.clock.Now()
	if mod != nil {
		mod(rec)
	}
	h.update(func(tx reconciler.Tx) error { return tx.PutPod(rec) })
	return rec
}

func (h *apiHarness) do(method, path, token, node, body string) (int, api.Error) {
	h.t.Helper()
	code, b := h.request(method, path, token, node, body)
	var e api.Error
	if code >= 400 {
		if err := json.Unmarshal(b, &e); err != nil {
			h.t.Fatalf("%s %s: %d with a body that is not api.Error: %q", method, path, code, b)
		}
	}
	return code, e
}

// request sends one request as token (and node) and returns the answer.
func (h *apiHarness) request(method, path, token, node, body string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if node != "" {
		req.Header.Set(api.HeaderNodeName, node)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// waitForWaiter lets a handler reach its fake-clock timer before the test
// steps the clock; it yields, it does not sleep.
func waitForWaiter(t *testing.T, c *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("no timer was set on the fake clock")
		}
		runtime.Gosched()
	}
}

func TestAPIAuth(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	h.register("n2")
	h.putPod("default", "web", "n1", nil)
	const reg = `{"name":"n1"}`
	const status = `{"pods":[{"namespace":"default","name":"web","uid":"uid-default-web","status":{"phase":"Running"}}]}`
	endpoints := []struct {
		name, method, path, body string
		agent                    bool
	}{
		{name: "register", method: "POST", path: api.PathRegister, body: reg, agent: true},
		{name: "heartbeat", method: "POST", path: api.PathHeartbeat, body: `{}`, agent: true},
		{name: "watch", method: "GET", path: api.PathAgentPods + "?resourceVersion=0", agent: true},
		{name: "status report", method: "POST", path: api.PathPodStatus, body: status, agent: true},
		{name: "nodes", method: "GET", path: api.PathNodes},
		{name: "node", method: "GET", path: api.PathNodes + "/n1"},
		{name: "pods", method: "GET", path: api.PathPods},
		{name: "pod", method: "GET", path: "/api/v1/namespaces/default/pods/web"},
		{name: "logs", method: "GET", path: "/api/v1/namespaces/default/pods/web/log"},
		{name: "deployments", method: "GET", path: api.PathDeploy},
		{name: "daemonsets", method: "GET", path: api.PathDaemonSets},
		{name: "jobs", method: "GET", path: api.PathJobs},
		{name: "cronjobs", method: "GET", path: api.PathCronJobs},
		{name: "events", method: "GET", path: api.PathEvents},
		{name: "status", method: "GET", path: api.PathStatus},
	}
	n1, n2 := h.nodeTokens["n1"], h.nodeTokens["n2"]
	// want gives the answer by endpoint: agent endpoint (register
	// separately) or admin endpoint; 0 is success.
	callers := []struct {
		name, token, node      string
		register, agent, admin int
	}{
		{name: "no token", register: 401, agent: 401, admin: 401},
		{name: "unknown token", token: "nope-nope-nope-nope", node: "n1", register: 401, agent: 401, admin: 401},
		{name: "admin token", token: testTokens.Admin, node: "n1", register: 403, agent: 403, admin: 0},
		{name: "node token", token: n1, node: "n1", register: 0, agent: 0, admin: 403},
		// n1 is alive: the shared join token cannot take it over.
		{name: "join token", token: testTokens.Agent, node: "n1", register: 409, agent: 403, admin: 403},
		{name: "join token without node", token: testTokens.Agent, register: 400, agent: 400, admin: 403},
		{name: "another node's token", token: n2, node: "n1", register: 403, agent: 403, admin: 403},
	}
	for _, c := range callers {
		for _, e := range endpoints {
			t.Run(c.name+"/"+e.name, func(t *testing.T) {
				before := h.version()
				code, _ := h.do(e.method, e.path, c.token, c.node, e.body)
				want := c.admin
				switch {
				case e.path == api.PathRegister:
					want = c.register
				case e.agent:
					want = c.agent
				}
				if want == 0 {
					if code >= 400 && e.name != "logs" { // logs: the node serves none here
						t.Fatalf("code %d, want success", code)
					}
					return
				}
				if code != want {
					t.Fatalf("code %d, want %d", code, want)
				}
				if v := h.version(); v != before {
					t.Fatalf("a refused request changed the store: version %d -> %d", before, v)
				}
			})
		}
	}
}

func TestAPIAgentCannotActForOtherNodes(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	h.register("n2")
	h.putPod("default", "on-n2", "n2", nil)
	h.putPod("default", "on-n1", "n1", nil)
	ctx := context.Background()

	t.Run("register another node's name", func(t *testing.T) {
		_, err := h.agent("n1").Register(ctx, api.RegisterRequest{Name: "n2"})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != 403 {
			t.Fatalf("err = %v, want 403", err)
		}
	})
	t.Run("watch sees only its own pods", func(t *testing.T) {
		list, err := h.agent("n1").WatchPods(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].Name != "on-n1" {
			t.Fatalf("n1 sees %v", podNames(list.Items))
		}
	})
	t.Run("status for another node's pod is dropped", func(t *testing.T) {
		before := h.version()
		resp, err := h.agent("n1").ReportStatus(ctx, api.PodStatusReport{Pods: []api.PodStatus{
			{Namespace: "default", Name: "on-n2", UID: "uid-default-on-n2", Status: corev1.PodStatus{Phase: corev1.PodFailed}},
			{Namespace: "default", Name: "ghost", UID: "uid-ghost", Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			{Namespace: "default", Name: "on-n1", UID: "wrong-uid", Gone: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(resp.Drop) != "[uid-default-on-n2 uid-ghost wrong-uid]" {
			t.Fatalf("drop = %v", resp.Drop)
		}
		if h.version() != before {
			t.Fatal("ignored statuses changed the store")
		}
	})
	t.Run("unregistered node", func(t *testing.T) {
		_, err := h.agent("n3").WatchPods(ctx, 0, 0)
		if !client.IsUnauthorized(err) {
			t.Fatalf("err = %v, want Forbidden", err)
		}
	})
	t.Run("own token, other node's name", func(t *testing.T) {
		c, _ := client.New(h.http.URL, h.nodeTokens["n1"], client.WithNode("n2"))
		_, err := c.WatchPods(ctx, 0, 0)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != 403 {
			t.Fatalf("err = %v, want 403", err)
		}
	})
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestAPIBadRequests(t *testing.T) {
	h := newAPIHarness(t, func(c *harnessConfig) { c.api.MaxBodyBytes = 1024 })
	h.register("n1")
	h.putPod("default", "web", "n1", nil)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{name: "register: not JSON", method: "POST", path: api.PathRegister, body: `{"name":`, want: 400},
		{name: "register: empty", method: "POST", path: api.PathRegister, body: ``, want: 400},
		{name: "register: trailing data", method: "POST", path: api.PathRegister, body: `{"name":"n1"} {}`, want: 400},
		{name: "register: wrong type", method: "POST", path: api.PathRegister, body: `{"name":"n1","labels":[1]}`, want: 400},
		{name: "register: bad label", method: "POST", path: api.PathRegister, body: `{"name":"n1","labels":{"a b":"c"}}`, want: 400},
		{name: "register: negative capacity", method: "POST", path: api.PathRegister, body: `{"name":"n1","capacity":{"cpu":"-1"}}`, want: 400},
		{name: "register: bad address", method: "POST", path: api.PathRegister, body: `{"name":"n1","address":"nowhere"}`, want: 400},
		{name: "register: too large", method: "POST", path: api.PathRegister, body: `{"name":"n1","labels":{"a":"` + strings.Repeat("x", 2000) + `"}}`, want: 413},
		{name: "heartbeat: not JSON", method: "POST", path: api.PathHeartbeat, body: `nope`, want: 400},
		{name: "status: not JSON", method: "POST", path: api.PathPodStatus, body: `[`, want: 400},
		{name: "status: no uid", method: "POST", path: api.PathPodStatus, body: `{"pods":[{"namespace":"default","name":"web","status":{"phase":"Failed"}}]}`, want: 400},
		{name: "status: one bad of two", method: "POST", path: api.PathPodStatus, body: `{"pods":[{"namespace":"default","name":"web","uid":"uid-default-web","status":{"phase":"Failed"}},{"name":"x"}]}`, want: 400},
		{name: "watch: bad version", method: "GET", path: api.PathAgentPods + "?resourceVersion=abc", want: 400},
		{name: "watch: bad timeout", method: "GET", path: api.PathAgentPods + "?timeoutSeconds=-1", want: 400},
		{name: "unknown path", method: "GET", path: "/api/v1/persistentvolumes", want: 404},
		{name: "wrong method", method: "DELETE", path: api.PathPods, want: 405},
		{name: "wrong method on an agent path", method: "GET", path: api.PathRegister, want: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.version()
			code, e := h.do(tc.method, tc.path, h.nodeTokens["n1"], "n1", tc.body)
			if code != tc.want {
				t.Fatalf("code %d (%+v), want %d", code, e, tc.want)
			}
			if e.Code != tc.want || e.Reason == "" || e.Message == "" {
				t.Fatalf("error body %+v", e)
			}
			if h.version() != before {
				t.Fatal("a bad request changed the store")
			}
		})
	}
	var rec *reconciler.PodRecord
	if err := h.store.View(func(tx reconciler.ReadTx) (err error) { rec, err = tx.Pod("default", "web"); return err }); err != nil {
		t.Fatal(err)
	}
	if rec.Pod.Status.Phase != "" {
		t.Fatalf("pod status changed to %q by a refused report", rec.Pod.Status.Phase)
	}
}

func TestAPISubnetAllocation(t *testing.T) {
	t.Run("stable and never shared", func(t *testing.T) {
		h := newAPIHarness(t, nil)
		got := map[string]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("node-%d", i)
				resp := h.register(name)
				mu.Lock()
				got[name] = resp.PodCIDR
				mu.Unlock()
			}()
		}
		wg.Wait()
		seen := map[string]string{}
		for node, cidr := range got {
			if other, ok := seen[cidr]; ok {
				t.Fatalf("%s and %s share %s", node, other, cidr)
			}
			seen[cidr] = node
			if !strings.HasPrefix(cidr, "198.18.") || !strings.HasSuffix(cidr, ".0/24") {
				t.Fatalf("%s got %s", node, cidr)
			}
		}
		if again := h.register("node-3"); again.PodCIDR != got["node-3"] {
			t.Fatalf("re-register moved node-3 from %s to %s", got["node-3"], again.PodCIDR)
		}
		if resp := h.register("node-3"); resp.HeartbeatInterval.Duration != 10*time.Second {
			t.Fatalf("heartbeat interval %v", resp.HeartbeatInterval)
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		h := newAPIHarness(t, func(c *harnessConfig) { c.nodes.ClusterCIDR = "198.19.4.0/23" })
		if c := h.register("a").PodCIDR; c != "198.19.4.0/24" {
			t.Fatalf("a got %s", c)
		}
		if c := h.register("b").PodCIDR; c != "198.19.5.0/24" {
			t.Fatalf("b got %s", c)
		}
		before := h.version()
		_, err := h.agent("c").Register(context.Background(), api.RegisterRequest{Name: "c"})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != http.StatusConflict {
			t.Fatalf("err = %v, want 409", err)
		}
		if h.version() != before {
			t.Fatal("a refused register changed the store")
		}
		if !strings.Contains(ae.Message, "no free /24") || !strings.Contains(ae.Message, "berth node delete") {
			t.Fatalf("refusal %q does not say why or what frees a subnet", ae.Message)
		}
		// Registrations cannot fill the range for good: deleting a node
		// frees its subnet for the next one.
		if err := h.admin().Delete(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if c := h.register("c").PodCIDR; c != "198.19.4.0/24" {
			t.Fatalf("c got %s, want the subnet a freed", c)
		}
	})
	t.Run("heartbeats follow a short node timeout", func(t *testing.T) {
		h := newAPIHarness(t, func(c *harnessConfig) { c.nodes.NodeTimeout = 8 * time.Second })
		if got := h.register("n1").HeartbeatInterval.Duration; got != 2*time.Second {
			t.Fatalf("interval %v, want 2s", got)
		}
	})
}

func TestAPIWatch(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	h.register("n2")
	ctx := context.Background()
	agent := h.agent("n1")

	first, err := agent.WatchPods(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 0 {
		t.Fatalf("items %v", podNames(first.Items))
	}

	t.Run("returns when a pod is bound", func(t *testing.T) {
		got := make(chan *api.PodList, 1)
		go func() {
			l, err := agent.WatchPods(ctx, first.ResourceVersion, 0)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		h.putPod("default", "web", "n1", nil)
		l := <-got
		if l == nil || len(l.Items) != 1 || l.Items[0].Name != "web" || l.ResourceVersion == first.ResourceVersion {
			t.Fatalf("list %+v", l)
		}
	})

	cur, err := agent.WatchPods(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("other nodes' changes and status do not end the wait", func(t *testing.T) {
		got := make(chan *api.PodList, 1)
		go func() {
			l, err := agent.WatchPods(ctx, cur.ResourceVersion, 0)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		waitForWaiter(t, h.clock)
		h.putPod("default", "elsewhere", "n2", nil)
		if _, err := agent.ReportStatus(ctx, api.PodStatusReport{Pods: []api.PodStatus{{
			Namespace: "default", Name: "web", UID: "uid-default-web", Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}}}); err != nil {
			t.Fatal(err)
		}
		h.clock.Step(31 * time.Second)
		l := <-got
		if l.ResourceVersion != cur.ResourceVersion || len(l.Items) != 1 {
			t.Fatalf("after timeout: rv %d (want %d), items %v", l.ResourceVersion, cur.ResourceVersion, podNames(l.Items))
		}
		if l.Items[0].Status.Phase != "" {
			t.Fatal("agents were sent pod status")
		}
	})
	t.Run("a deleted pod is listed with its deletion timestamp", func(t *testing.T) {
		now := metav1.NewTime(h.clock.Now())
		h.putPod("default", "web", "n1", func(r *reconciler.PodRecord) { r.Pod.DeletionTimestamp = &now })
		l, err := agent.WatchPods(ctx, cur.ResourceVersion, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.Items[0].DeletionTimestamp == nil {
			t.Fatalf("items %+v", l.Items)
		}
		cur = l
	})
	t.Run("shutdown ends open watches", func(t *testing.T) {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- h.srv.Run(runCtx) }()
		got := make(chan *api.PodList, 1)
		go func() {
			l, _ := agent.WatchPods(ctx, cur.ResourceVersion, 0)
			got <- l
		}()
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if l := <-got; l == nil || l.ResourceVersion != cur.ResourceVersion {
			t.Fatalf("list %+v", l)
		}
	})
}

func TestAPIStatusReport(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	ctx := context.Background()
	h.putPod("default", "web", "n1", nil)
	deleting := metav1.NewTime(h.clock.Now())
	h.putPod("default", "old", "n1", func(r *reconciler.PodRecord) { r.Pod.DeletionTimestamp = &deleting })
	agent := h.agent("n1")
	started := metav1.NewTime(h.clock.Now().Add(-time.Second))
	running := corev1.PodStatus{
		Phase:             corev1.PodRunning,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "busybox", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
	}
	steps := []struct {
		name     string
		report   []api.PodStatus
		drop     []string
		check    func(t *testing.T, web, old *reconciler.PodRecord)
		versions uint64
	}{
		{
			name:   "first status",
			report: []api.PodStatus{{Namespace: "default", Name: "web", UID: "uid-default-web", Status: running}},
			check: func(t *testing.T, web, _ *reconciler.PodRecord) {
				if web.Pod.Status.Phase != corev1.PodRunning || !web.ReadySince.Equal(started.Time) || !web.StatusTime.Equal(h.clock.Now()) {
					t.Fatalf("web %+v readySince %v statusTime %v", web.Pod.Status.Phase, web.ReadySince, web.StatusTime)
				}
			},
			versions: 1,
		},
		{
			name:     "same status again writes nothing",
			report:   []api.PodStatus{{Namespace: "default", Name: "web", UID: "uid-default-web", Status: running}},
			versions: 0,
		},
		{
			name:   "gone for a wanted pod is ignored",
			report: []api.PodStatus{{Namespace: "default", Name: "web", UID: "uid-default-web", Gone: true}},
			check: func(t *testing.T, web, _ *reconciler.PodRecord) {
				if web == nil {
					t.Fatal("a wanted pod was forgotten")
				}
			},
		},
		{
			name:   "gone for a deleted pod forgets it",
			report: []api.PodStatus{{Namespace: "default", Name: "old", UID: "uid-default-old", Gone: true}},
			drop:   []string{"uid-default-old"},
			check: func(t *testing.T, _, old *reconciler.PodRecord) {
				if old != nil {
					t.Fatal("deleted pod still recorded")
				}
			},
			versions: 1,
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := h.version()
			resp, err := agent.ReportStatus(ctx, api.PodStatusReport{Pods: st.report})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(resp.Drop) != fmt.Sprint(st.drop) {
				t.Fatalf("drop %v, want %v", resp.Drop, st.drop)
			}
			if got := h.version() - before; got != st.versions {
				t.Fatalf("%d writes, want %d", got, st.versions)
			}
			if st.check != nil {
				var web, old *reconciler.PodRecord
				_ = h.store.View(func(tx reconciler.ReadTx) error {
					web, _ = tx.Pod("default", "web")
					old, _ = tx.Pod("default", "old")
					return nil
				})
				st.check(t, web, old)
			}
		})
	}
	events, err := h.admin().Events(ctx, client.EventFilter{Kind: "Pod", Namespace: "default", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) != 1 || events.Items[0].Reason != "Started" {
		t.Fatalf("events %+v", events.Items)
	}
}

func TestAPIHeartbeat(t *testing.T) {
	h := newAPIHarness(t, func(c *harnessConfig) { c.nodes.NodeTimeout = 40 * time.Second })
	h.register("n1")
	ctx := context.Background()
	agent := h.agent("n1")
	node := func() *reconciler.NodeRecord {
		var n *reconciler.NodeRecord
		if err := h.store.View(func(tx reconciler.ReadTx) (err error) { n, err = tx.Node("n1"); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	registered := node()

	h.clock.Step(10 * time.Second)
	before := h.version()
	if err := agent.Heartbeat(ctx, api.HeartbeatRequest{}); err != nil {
		t.Fatal(err)
	}
	if h.version() != before {
		t.Fatal("a heartbeat of a ready node was written at once")
	}
	if hb, _ := h.nodes.LastHeartbeat("n1"); !hb.Equal(h.clock.Now()) {
		t.Fatalf("LastHeartbeat %v", hb)
	}
	if err := h.nodes.FlushHeartbeats(); err != nil {
		t.Fatal(err)
	}
	if h.version() != before {
		t.Fatal("a heartbeat flush raised the store's version: it would wake the loop and every agent's watch")
	}
	if n := node(); !n.LastHeartbeat.Equal(h.clock.Now()) || n.Generation != registered.Generation {
		t.Fatalf("after flush: heartbeat %v generation %d (was %d)", n.LastHeartbeat, n.Generation, registered.Generation)
	}

	// The loop marks the node NotReady; the next heartbeat brings it back at once.
	h.update(func(tx reconciler.Tx) error { n := node(); n.Ready = false; return tx.PutNode(n) })
	nodes, err := h.admin().Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := nodes.Items[0].Status.Conditions[0]; c.Status != corev1.ConditionFalse {
		t.Fatalf("ready condition %+v", c)
	}
	if err := agent.Heartbeat(ctx, api.HeartbeatRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := node(); !n.Ready {
		t.Fatal("heartbeat did not make the node ready")
	}

	h.clock.Step(41 * time.Second)
	n1, err := h.admin().Node(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if c := n1.Status.Conditions[0]; c.Type != corev1.NodeReady || c.Status != corev1.ConditionUnknown {
		t.Fatalf("stale node shows %+v", c)
	}
	if err := h.agent("ghost").Heartbeat(ctx, api.HeartbeatRequest{}); !client.IsUnauthorized(err) {
		t.Fatalf("heartbeat of unknown node: %v", err)
	}
}

func TestAPIUserReads(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	ctx := context.Background()
	replicas := int32(3)
	h.objects = []manifest.Object{
		{Kind: manifest.KindDeployment, Namespace: "default", Name: "web", Deployment: &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas}}},
		{Kind: manifest.KindJob, Namespace: "default", Name: "migrate", Job: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "migrate"}}},
		{Kind: manifest.KindCronJob, Namespace: "ops", Name: "backup", CronJob: &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "backup"}, Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *"}}},
	}
	h.putPod("default", "web-a", "n1", nil)
	h.putPod("ops", "backup-1", "", func(r *reconciler.PodRecord) { r.Unschedulable = "0/1 nodes are available: 1 Insufficient memory." })
	h.update(func(tx reconciler.Tx) error {
		return errors.Join(
			tx.PutDeployment(&reconciler.DeploymentRecord{Namespace: "default", Name: "web", Status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2},
				TemplateHash: reconciler.DeploymentTemplateHash(h.objects[0].Deployment)}),
			tx.PutJob(&reconciler.JobRecord{Job: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "backup-29000000"}, Status: batchv1.JobStatus{Succeeded: 1}}, CronJob: "backup"}),
			tx.PutCronJob(&reconciler.CronJobRecord{Namespace: "ops", Name: "backup", Status: batchv1.CronJobStatus{LastScheduleTime: &metav1.Time{Time: h.clock.Now()}}}),
			tx.PutSync(&reconciler.SyncRecord{Status: api.SyncStatus{Repository: "file:///repo", State: "Synced", Applied: &api.Revision{SHA: "abc", Subject: "add web"}}}),
			tx.AddEvent(api.Event{Kind: "Pod", Namespace: "default", Name: "web-a", Reason: "Scheduled", Message: "to n1"}),
			tx.AddEvent(api.Event{Kind: "Pod", Namespace: "ops", Name: "backup-1", Reason: "FailedScheduling", Message: "0/1"}),
		)
	})
	admin := h.admin()
	tests := []struct {
		name  string
		call  func() (any, error)
		check func(any) string // "" when right
	}{
		{name: "nodes", call: func() (any, error) { return admin.Nodes(ctx) }, check: func(v any) string {
			l := v.(*corev1.NodeList)
			if len(l.Items) != 1 {
				return "want 1 node"
			}
			n := l.Items[0]
			if n.Spec.PodCIDR != "198.18.0.0/24" || n.Status.Conditions[0].Status != corev1.ConditionTrue || n.Status.Allocatable.Cpu().String() != "2" {
				return fmt.Sprintf("node %+v", n)
			}
			return ""
		}},
		{name: "all pods", call: func() (any, error) { return admin.Pods(ctx, "") }, check: func(v any) string {
			if l := v.(*corev1.PodList); len(l.Items) != 2 {
				return fmt.Sprint(podNames(l.Items))
			}
			return ""
		}},
		{name: "pods of a namespace", call: func() (any, error) { return admin.Pods(ctx, "ops") }, check: func(v any) string {
			l := v.(*corev1.PodList)
			if len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodPending || l.Items[0].Status.Conditions[0].Reason != "Unschedulable" {
				return fmt.Sprintf("%+v", l.Items)
			}
			return ""
		}},
		{name: "one pod", call: func() (any, error) { return admin.Pod(ctx, "default", "web-a") }, check: func(v any) string {
			if p := v.(*corev1.Pod); p.Spec.NodeName != "n1" || p.CreationTimestamp.IsZero() || p.Kind != "Pod" {
				return fmt.Sprintf("%+v", p)
			}
			return ""
		}},
		{name: "deployments", call: func() (any, error) { return admin.Deployments(ctx, "") }, check: func(v any) string {
			l := v.(*appsv1.DeploymentList)
			if len(l.Items) != 1 || *l.Items[0].Spec.Replicas != 3 || l.Items[0].Status.ReadyReplicas != 2 || l.Items[0].Status.ObservedGeneration != l.Items[0].Generation {
				return fmt.Sprintf("%+v", l.Items)
			}
			return ""
		}},
		{name: "jobs: git and cronjob-made", call: func() (any, error) { return admin.Jobs(ctx, "") }, check: func(v any) string {
			l := v.(*batchv1.JobList)
			if len(l.Items) != 2 || l.Items[0].Name != "migrate" || l.Items[1].Status.Succeeded != 1 {
				return fmt.Sprintf("%+v", l.Items)
			}
			return ""
		}},
		{name: "cronjob", call: func() (any, error) { return admin.CronJob(ctx, "ops", "backup") }, check: func(v any) string {
			if c := v.(*batchv1.CronJob); c.Spec.Schedule != "0 3 * * *" || c.Status.LastScheduleTime == nil {
				return fmt.Sprintf("%+v", c)
			}
			return ""
		}},
		{name: "events of one object", call: func() (any, error) {
			return admin.Events(ctx, client.EventFilter{Kind: "Pod", Namespace: "ops", Name: "backup-1"})
		}, check: func(v any) string {
			if l := v.(*api.EventList); len(l.Items) != 1 || l.Items[0].Reason != "FailedScheduling" {
				return fmt.Sprintf("%+v", l.Items)
			}
			return ""
		}},
		{name: "status", call: func() (any, error) { return admin.Status(ctx) }, check: func(v any) string {
			s := v.(*api.SyncStatus)
			if s.Applied == nil || s.Applied.SHA != "abc" || len(s.Unschedulable) != 1 || s.Unschedulable[0].Name != "backup-1" {
				return fmt.Sprintf("%+v", s)
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.call()
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(v); msg != "" {
				t.Fatal(msg)
			}
		})
	}
	notFound := []struct {
		name string
		call func() error
	}{
		{name: "pod", call: func() error { _, err := admin.Pod(ctx, "default", "nope"); return err }},
		{name: "node", call: func() error { _, err := admin.Node(ctx, "nope"); return err }},
		{name: "deployment", call: func() error { _, err := admin.Deployment(ctx, "ops", "web"); return err }},
		{name: "job", call: func() error { _, err := admin.Job(ctx, "default", "nope"); return err }},
		{name: "cronjob", call: func() error { _, err := admin.CronJob(ctx, "default", "backup"); return err }},
	}
	for _, tc := range notFound {
		t.Run("missing "+tc.name, func(t *testing.T) {
			if err := tc.call(); !client.IsNotFound(err) {
				t.Fatalf("err = %v, want NotFound", err)
			}
		})
	}
}

// startNodeAgent registers node (with a CSR) at the address of a TLS
// server running handler with the certificate the CA signed for it, as an
// agent's log server does.
func (h *apiHarness) startNodeAgent(node string, handler http.Handler) *httptest.Server {
	h.t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	key, csr, err := pki.NodeCSR(node)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.agent(node).Register(context.Background(), api.RegisterRequest{Name: node, Address: srv.Listener.Addr().String(), CSR: string(csr)})
	if err != nil {
		h.t.Fatal(err)
	}
	pool, err := pki.PoolFromPEM([]byte(resp.CA))
	if err != nil {
		h.t.Fatal(err)
	}
	cert, err := pki.NodeKeyPair(key, []byte(resp.Certificate), pool)
	if err != nil {
		h.t.Fatal(err)
	}
	srv.TLS = pki.NodeServing(cert, pool)
	srv.StartTLS()
	h.t.Cleanup(srv.Close)
	return srv
}

func TestAPILogs(t *testing.T) {
	// The agent side: only the server's client certificate reaches it;
	// it checks the path, then streams.
	lines := make(chan string)
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	h.startNodeAgent("n1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "a token was sent", http.StatusTeapot)
			return
		}
		if r.URL.Path != api.AgentLogPath("uid-default-two", "side") {
			api.WriteError(w, http.StatusNotFound, "NotFound", "no log at "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "tail=%s\n", r.URL.Query().Get(api.ParamTailLines))
		w.(http.Flusher).Flush()
		if r.URL.Query().Get(api.ParamFollow) != "true" {
			return
		}
		for l := range lines {
			fmt.Fprintln(w, l)
			w.(http.Flusher).Flush()
		}
	}))
	h.putPod("default", "two", "n1", func(r *reconciler.PodRecord) {
		r.Pod.Spec.Containers = append(r.Pod.Spec.Containers, corev1.Container{Name: "side"})
	})
	h.putPod("default", "pending", "", nil)
	admin := h.admin()

	tests := []struct {
		name, pod string
		opts      api.LogOptions
		want      string
		code      int
	}{
		{name: "container given", pod: "two", opts: api.LogOptions{Container: "side", TailLines: 5}, want: "tail=5\n"},
		{name: "container needed", pod: "two", code: 400},
		{name: "no such container", pod: "two", opts: api.LogOptions{Container: "nope"}, code: 400},
		{name: "agent's not found passes through", pod: "two", opts: api.LogOptions{Container: "c"}, code: 404},
		{name: "pod not on a node", pod: "pending", code: 400},
		{name: "no such pod", pod: "nope", code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := admin.Logs(ctx, "default", tc.pod, tc.opts)
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
	t.Run("follow streams", func(t *testing.T) {
		rc, err := admin.Logs(ctx, "default", "two", api.LogOptions{Container: "side", Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 64)
		read := func() string {
			var got bytes.Buffer
			for !bytes.HasSuffix(got.Bytes(), []byte("\n")) {
				n, err := rc.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					t.Fatal(err)
				}
			}
			return got.String()
		}
		if l := read(); l != "tail=\n" {
			t.Fatalf("first line %q", l)
		}
		lines <- "hello"
		if l := read(); l != "hello\n" {
			t.Fatalf("streamed %q", l)
		}
	})
	t.Run("shutdown ends a follow", func(t *testing.T) {
		rc, err := admin.Logs(ctx, "default", "two", api.LogOptions{Container: "side", Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- h.srv.Run(runCtx) }()
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The stream ends although the agent would write more.
		if _, err := io.ReadAll(rc); err != nil {
			t.Logf("stream ended with %v", err)
		}
		close(lines)
	})
}

// FuzzAgentBodies sends arbitrary bodies to the agent endpoints: the
// server never fails (5xx) or panics on them, and a refused body changes
// nothing.
func FuzzAgentBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"n1","capacity":{"cpu":"2"},"address":"127.0.0.1:1"}`,
		`{"pods":[{"namespace":"default","name":"web","uid":"uid-default-web","status":{"phase":"Running"}}]}`,
		`{"pods":[{"namespace":"default","name":"web","uid":"uid-default-web","gone":true}]}`,
		`{"name":"n1","labels":{"a":"b"},"taints":[{"key":"k","effect":"NoSchedule"}]}`,
		`{"capacity":{"cpu":"-1"}}`, `[]`, `{`, `null`, ``, `{"pods":[{}]}`,
	} {
		f.Add(seed)
	}
	h := newAPIHarness(f, nil)
	h.register("n1")
	h.putPod("default", "web", "n1", nil)
	f.Fuzz(func(t *testing.T, body string) {
		h.t = t
		for _, path := range []string{api.PathRegister, api.PathPodStatus, api.PathHeartbeat} {
			before := h.version()
			code, e := h.do("POST", path, h.nodeTokens["n1"], "n1", body)
			if code >= 500 {
				t.Fatalf("%s: %d %+v for %q", path, code, e, body)
			}
			if code >= 400 && h.version() != before {
				t.Fatalf("%s: refused with %d but the store changed", path, code)
			}
		}
	})
}

func TestAPINodeTokens(t *testing.T) {
	h := newAPIHarness(t, func(c *harnessConfig) { c.nodes.NodeTimeout = 40 * time.Second })
	ctx := context.Background()
	first := h.register("n1")
	join, err := client.New(h.http.URL, testTokens.Agent, client.WithNode("n1"))
	if err != nil {
		t.Fatal(err)
	}
	req := api.RegisterRequest{Name: "n1"}

	again, err := h.agent("n1").Register(ctx, req)
	if err != nil || again.NodeToken != first.NodeToken || again.PodCIDR != first.PodCIDR {
		t.Fatalf("re-register with the node token: %+v, %v; want the same token and CIDR", again, err)
	}

	before := h.version()
	_, err = join.Register(ctx, req)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusConflict {
		t.Fatalf("join token on a live node: %v, want 409", err)
	}
	if h.version() != before {
		t.Fatal("a refused register changed the store")
	}

	// Issue 17: 0.11 s after the node went NotReady a join-token
	// registration took its name and locked the real agent out. A join
	// token registers new names only: a NotReady node keeps its name,
	// subnet and token until the admin deletes it.
	h.clock.Step(41 * time.Second)
	h.update(func(tx reconciler.Tx) error {
		n, err := tx.Node("n1")
		if err != nil {
			return err
		}
		n.Ready = false
		return tx.PutNode(n)
	})
	if _, err = join.Register(ctx, req); !errors.As(err, &ae) || ae.Code != http.StatusConflict {
		t.Fatalf("join token on a NotReady node: %v, want 409", err)
	}
	if err := h.agent("n1").Heartbeat(ctx, api.HeartbeatRequest{}); err != nil {
		t.Fatalf("the node's own token after the refused takeover: %v", err)
	}
	if err := join.Delete(ctx, "n1"); !errors.As(err, &ae) || ae.Code != http.StatusForbidden {
		t.Fatalf("the join token deletes a node: %v, want 403", err)
	}
	if err := h.admin().Delete(ctx, "n1"); err != nil {
		t.Fatalf("admin deletes the node: %v", err)
	}
	if err := h.admin().Delete(ctx, "n1"); !errors.As(err, &ae) || ae.Code != http.StatusNotFound {
		t.Fatalf("delete again: %v, want 404", err)
	}
	old := join.WithToken(first.NodeToken)
	if err := old.Heartbeat(ctx, api.HeartbeatRequest{}); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("the deleted node's token: %v, want 401", err)
	}
	taken, err := join.Register(ctx, req)
	if err != nil {
		t.Fatalf("join token after delete: %v", err)
	}
	if taken.NodeToken == first.NodeToken || taken.PodCIDR != first.PodCIDR {
		t.Fatalf("after delete: %+v; want a new token and the freed CIDR", taken)
	}
	if err := join.WithToken(taken.NodeToken).Heartbeat(ctx, api.HeartbeatRequest{}); err != nil {
		t.Fatalf("the new token: %v", err)
	}
}

// TestLogProxySendsNoToken: issue 17 found that a node could register any
// address and the log proxy then sent the join token there. Now a node
// that registers a stranger's address (a listener recording every byte)
// or another node's log server gets the call refused before any HTTP is
// sent, and no token is ever in it.
func TestLogProxySendsNoToken(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	served := make(chan string, 4)
	honest := h.startNodeAgent("honest", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served <- r.URL.Path + " " + r.Header.Get("Authorization")
	}))
	// A stranger's listener: whatever the server sends is recorded.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			b, _ := io.ReadAll(io.LimitReader(c, 64<<10))
			c.Close()
			got <- b
		}
	}()
	for _, tc := range []struct {
		name, node, address string
	}{
		{name: "a stranger's address", node: "liar1", address: ln.Addr().String()},
		{name: "another node's log server", node: "liar2", address: honest.Listener.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, csr, err := pki.NodeCSR(tc.node)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := h.agent(tc.node).Register(ctx, api.RegisterRequest{Name: tc.node, Address: tc.address, CSR: string(csr)})
			if err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			h.nodeTokens[tc.node] = resp.NodeToken
			h.mu.Unlock()
			// Re-registering with its own node token does not make it so
			// either.
			if _, err := h.agent(tc.node).Register(ctx, api.RegisterRequest{Name: tc.node, Address: tc.address, CSR: string(csr)}); err != nil {
				t.Fatal(err)
			}
			h.putPod("default", "p-"+tc.node, tc.node, nil)
			_, err = h.admin().Logs(ctx, "default", "p-"+tc.node, api.LogOptions{})
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != http.StatusBadGateway {
				t.Fatalf("logs: %v, want 502", err)
			}
		})
	}
	select {
	case p := <-served:
		t.Fatalf("the honest node's log server answered another node's pod: %s", p)
	default:
	}
	// The stranger was dialled once (a TLS ClientHello, no HTTP).
	var b []byte
	select {
	case b = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never dialled the registered address")
	}
	{
		for _, secret := range []string{testTokens.Agent, testTokens.Admin, "Authorization", "GET /"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("the stranger received %q", secret)
			}
		}
		for _, tok := range h.nodeTokens {
			if bytes.Contains(b, []byte(tok)) {
				t.Fatal("the stranger received a node token")
			}
		}
	}
}
