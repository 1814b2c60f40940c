package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/fencing"
	"github.com/berth-dev/berth/pki"
)

const (
	e2eCIDR        = "198.19.96.0/22"
	e2eNodeTimeout = 10 * time.Second
)

// TestCluster runs the end-to-end scenarios in order on one
// cluster of real processes (two agents as two nodes), each step starting
// from the state the one before left. A failed step stops the rest: what
// follows would only report the same fault again.
func TestCluster(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "e2e", clusterCIDR: e2eCIDR, nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
		// Small nodes, so that a Deployment can outgrow the cluster.
		allocatable: "cpu=1,memory=2Gi",
	})
	s := &scenario{c: c, web: deployment{name: "web", replicas: 4, tag: "1.35", message: "hello from web v1", cpu: "50m"}}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"examples run on both nodes", s.examples},
		{"requests without the right token or with bad bodies are refused", s.refused},
		{"rolling update keeps enough pods ready", s.rollout},
		{"a broken manifest changes nothing", s.broken},
		{"a revision that does not fit changes nothing", s.overCapacity},
		{"a deleted manifest leaves the nodes", s.deleted},
		{"pods of a stopped node move and are removed when it returns", s.nodeLost},
		{"a server killed mid-apply converges", s.serverKilled},
		{"berth sync --wait applies a commit at once and fails on a broken one", s.syncWait},
		{"a server restored from a backup of its store carries on", s.backupRestore},
		{"an agent upgraded in place adopts its pods without restarting them", s.agentUpgraded},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return
		}
	}
}

// scenario is the state the steps share: the cluster and what the
// repository says.
type scenario struct {
	c   *cluster
	web deployment
}

func (s *scenario) ctx() context.Context { return context.Background() }

// owned returns the pods of the API whose name starts with prefix.
func owned(pods []corev1.Pod, prefix string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if strings.HasPrefix(p.Name, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// wantReady checks that exactly the named pods (and count pods of each
// deployment prefix) exist, none being deleted, all Ready.
func wantReady(pods []corev1.Pod, names []string, deployments map[string]int) error {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	for _, n := range names {
		p, ok := byName[n]
		if !ok {
			return fmt.Errorf("pod %s missing", n)
		}
		if !isReady(p) {
			return fmt.Errorf("pod %s is %s (ready=%v) on %q", n, p.Status.Phase, isReady(p), p.Spec.NodeName)
		}
	}
	for d, want := range deployments {
		ps := owned(pods, d+"-")
		ready := 0
		for i := range ps {
			if isReady(&ps[i]) {
				ready++
			}
		}
		if len(ps) != want || ready != want {
			return fmt.Errorf("deployment %s: %d pods, %d ready, want %d", d, len(ps), ready, want)
		}
	}
	return nil
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// uids maps every pod the API lists to its UID.
func uids(pods []corev1.Pod) map[string]string {
	m := map[string]string{}
	for _, p := range pods {
		m[p.Name] = string(p.UID)
	}
	return m
}

// onNodes is podsOnNodes for a step that cannot go on without it.
func (s *scenario) onNodes(t *testing.T) map[string]string {
	t.Helper()
	m, err := s.c.podsOnNodes()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// state is what the API lists (pod → UID) and what the nodes run (pod →
// node/UID) at one moment.
type state struct{ api, nodes map[string]string }

func (s *scenario) state(t *testing.T) state {
	t.Helper()
	pods, err := s.c.pods()
	if err != nil {
		t.Fatal(err)
	}
	return state{api: uids(pods), nodes: s.onNodes(t)}
}

// wantUnchanged fails t unless the API and the nodes hold the very pods
// they held before the change described by after.
func (s *scenario) wantUnchanged(t *testing.T, before state, after string) {
	t.Helper()
	now := s.state(t)
	if err := sameMap(before.api, now.api); err != nil {
		t.Errorf("the API's pods changed after %s: %v", after, err)
	}
	if err := sameMap(before.nodes, now.nodes); err != nil {
		t.Errorf("the nodes changed after %s: %v", after, err)
	}
}

// status runs `berth status` and logs what it shows.
func (s *scenario) status(t *testing.T) string {
	t.Helper()
	out, err := s.c.berthCLI("status")
	if err != nil {
		t.Fatalf("berth status: %v\n%s", err, out)
	}
	t.Logf("berth status:\n%s", out)
	return out
}

func sameMap(a, b map[string]string) error {
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("%s: was %q, now %q", k, v, b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			return fmt.Errorf("%s: new, %q", k, v)
		}
	}
	return nil
}

func (s *scenario) examples(t *testing.T) {
	c := s.c
	sha := c.apply("the examples", map[string]string{
		"pods/two-containers.yaml":  twoContainers(c.image),
		"pods/webapp-init.yaml":     webappInit(c.image),
		"pods/logging-sidecar.yaml": loggingSidecar(c.image),
		"apps/web.yaml":             s.web.yaml(c.image),
		"batch/job.yaml":            crunchJob(c.image),
	})
	c.waitApplied(sha)
	var pods []corev1.Pod
	c.eventually("every example pod Ready and the job complete", 3*time.Minute, func() error {
		var err error
		if pods, err = c.pods(); err != nil {
			return err
		}
		if err := wantReady(pods, []string{"two-containers", "webapp", "logging"}, map[string]int{"web": 4}); err != nil {
			return err
		}
		job, err := c.admin.Job(s.ctx(), "default", "crunch")
		if err != nil {
			return err
		}
		if job.Status.Succeeded != 2 {
			return fmt.Errorf("job crunch: %d succeeded, want 2", job.Status.Succeeded)
		}
		return nil
	})
	nodes := map[string]int{}
	for _, p := range pods {
		if isReady(&p) {
			nodes[p.Spec.NodeName]++
		}
	}
	if len(nodes) != 2 {
		t.Errorf("running pods are on %v, want both nodes", nodes)
	}
	// Every pod the API calls Ready is in containerd on the node it is
	// bound to, with the same UID.
	inCtd := s.onNodes(t)
	for _, p := range pods {
		if isReady(&p) {
			if want := p.Spec.NodeName + "/" + string(p.UID); inCtd[p.Name] != want {
				t.Errorf("pod %s: containerd has %q, API says %q", p.Name, inCtd[p.Name], want)
			}
		}
	}

	var ip string
	for _, p := range pods {
		if p.Name == "two-containers" {
			ip = p.Status.PodIP
		}
	}
	_, cidr, _ := net.ParseCIDR(e2eCIDR)
	if parsed := net.ParseIP(ip); parsed == nil || !cidr.Contains(parsed) {
		t.Fatalf("two-containers has pod IP %q, outside %s", ip, e2eCIDR)
	}
	body, err := httpGet("http://" + ip + "/index.html")
	if err != nil {
		t.Fatalf("GET two-containers' page from the host: %v", err)
	}
	if !strings.Contains(body, "Hello from two-containers") {
		t.Errorf("two-containers served %q", body)
	}
}

func httpGet(url string) (string, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// refused sends what a stranger, an agent overreaching and a broken client
// would, to the real server process, and checks each is refused with a
// JSON error and that nothing changed. Node endpoints take a node's own
// token (the join token only registers), so a probe node, tainted and
// with nothing allocatable, is registered first to hold one.
func (s *scenario) refused(t *testing.T) {
	c := s.c
	const probe = "e2e-probe"
	join, err := client.New(c.url, c.agentTok, client.WithNode(probe), client.WithHTTPClient(c.httpClient(0)))
	if err != nil {
		t.Fatal(err)
	}
	none := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0"), corev1.ResourceMemory: resource.MustParse("0"), corev1.ResourcePods: resource.MustParse("0")}
	key, csr, err := pki.NodeCSR(probe)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := join.Register(s.ctx(), api.RegisterRequest{Name: probe, Capacity: none, Allocatable: none, CSR: string(csr),
		Taints: []corev1.Taint{{Key: "berth.dev/e2e-probe", Effect: corev1.TaintEffectNoSchedule}}})
	if err != nil {
		t.Fatalf("register the probe node: %v", err)
	}
	if reg.NodeToken != "" {
		t.Fatal("the server issued a node token over TLS")
	}
	// Over TLS the probe node's credential is its client certificate.
	probeCert, err := pki.NodeKeyPair(key, []byte(reg.Certificate), c.ca)
	if err != nil {
		t.Fatal(err)
	}

	snapshot := func() (map[string]string, string) {
		t.Helper()
		pods, err := c.pods()
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := c.admin.Nodes(s.ctx())
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, n := range nodes.Items {
			ns = append(ns, fmt.Sprintf("%s %s %v %v", n.Name, n.Spec.PodCIDR, n.Labels, n.Status.Allocatable))
		}
		sort.Strings(ns)
		return uids(pods), strings.Join(ns, "\n")
	}
	beforePods, beforeNodes := snapshot()

	live := c.nodes[0].name
	register := func(name string) string {
		// With a CSR, as agents register over TLS: what refuses these is
		// the credential or the taken name, not a missing CSR.
		b, _ := json.Marshal(api.RegisterRequest{Name: name, Capacity: none, Allocatable: none, CSR: string(csr)})
		return string(b)
	}
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		// cert: the request presents the probe node's certificate.
		cert       bool
		nodeHeader string
		body       string
		wantCode   int
	}{
		{name: "no token reads pods", method: "GET", path: api.PathPods, wantCode: 401},
		{name: "no token registers", method: "POST", path: api.PathRegister, nodeHeader: "intruder", body: register("intruder"), wantCode: 401},
		{name: "unknown token", method: "GET", path: api.PathNodes, token: "not-a-token", wantCode: 401},
		{name: "join token reads pods", method: "GET", path: api.PathPods, token: c.agentTok, wantCode: 403},
		{name: "node certificate reads pods", method: "GET", path: api.PathPods, cert: true, wantCode: 403},
		{name: "node certificate reads status", method: "GET", path: api.PathStatus, cert: true, wantCode: 403},
		{name: "admin token registers a node", method: "POST", path: api.PathRegister, token: c.adminTok, nodeHeader: "intruder", body: register("intruder"), wantCode: 403},
		{name: "join token sends a heartbeat", method: "POST", path: api.PathHeartbeat, token: c.agentTok, nodeHeader: live, body: `{}`, wantCode: 403},
		{name: "node certificate speaks for another node", method: "POST", path: api.PathHeartbeat, cert: true, nodeHeader: live, body: `{}`, wantCode: 403},
		{name: "join token takes over a live node", method: "POST", path: api.PathRegister, token: c.agentTok, nodeHeader: live, body: register(live), wantCode: 409},
		{name: "malformed register body", method: "POST", path: api.PathRegister, token: c.agentTok, nodeHeader: "intruder", body: `{"name": `, wantCode: 400},
		{name: "register with wrong types", method: "POST", path: api.PathRegister, token: c.agentTok, nodeHeader: "intruder", body: `{"name": 5, "capacity": "lots"}`, wantCode: 400},
		{name: "malformed status report", method: "POST", path: api.PathPodStatus, cert: true, nodeHeader: probe, body: `{"pods": [{"uid": `, wantCode: 400},
		{name: "malformed heartbeat", method: "POST", path: api.PathHeartbeat, cert: true, nodeHeader: probe, body: `[1,2`, wantCode: 400},
		{name: "bad node name header", method: "POST", path: api.PathRegister, token: c.agentTok, nodeHeader: "Not_A_Node", body: register("Not_A_Node"), wantCode: 400},
	}
	hc := c.httpClient(10 * time.Second)
	certTr := hc.Transport.(*http.Transport).Clone()
	certTr.TLSClientConfig.Certificates = []tls.Certificate{probeCert}
	certHC := &http.Client{Transport: certTr, Timeout: 10 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, c.url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.nodeHeader != "" {
				req.Header.Set(api.HeaderNodeName, tc.nodeHeader)
			}
			req.Header.Set("Content-Type", "application/json")
			do := hc.Do
			if tc.cert {
				do = certHC.Do
			}
			resp, err := do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e api.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("%s: body is not a JSON error: %v", resp.Status, err)
			}
			if resp.StatusCode != tc.wantCode || e.Code != tc.wantCode {
				t.Fatalf("got %s (%+v), want %d", resp.Status, e, tc.wantCode)
			}
		})
	}
	afterPods, afterNodes := snapshot()
	if err := sameMap(beforePods, afterPods); err != nil {
		t.Errorf("pods changed: %v", err)
	}
	if beforeNodes != afterNodes {
		t.Errorf("nodes changed:\n%s\nnow\n%s", beforeNodes, afterNodes)
	}
	// The live node's agent still holds its node: its heartbeats are
	// taken after the refused take-over.
	since := time.Now()
	c.eventually(live+" to send a heartbeat", 30*time.Second, func() error {
		n, err := c.admin.Node(s.ctx(), live)
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && cond.LastHeartbeatTime.After(since) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", n.Status.Conditions)
	})
}

// rollout changes the web Deployment's image and environment and samples
// the number of ready web pods throughout the rolling update.
func (s *scenario) rollout(t *testing.T) {
	c := s.c
	var mu sync.Mutex
	minReady, samples := 1<<30, 0
	var sampleErr error
	smp := sample(100*time.Millisecond, func() {
		pods, err := c.pods()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sampleErr = err
			return
		}
		ready := 0
		for _, p := range owned(pods, "web-") {
			if isReady(&p) {
				ready++
			}
		}
		samples++
		if ready < minReady {
			minReady = ready
		}
	})
	s.web.tag, s.web.message = "1.35-b", "hello from web v2"
	sha := c.apply("web: v2 on the new image", map[string]string{"apps/web.yaml": s.web.yaml(c.image)})
	c.waitApplied(sha)
	var pods []corev1.Pod
	c.eventually("the rollout to complete", 3*time.Minute, func() error {
		d, err := c.admin.Deployment(s.ctx(), "default", "web")
		if err != nil {
			return err
		}
		st := d.Status
		if st.Replicas != 4 || st.UpdatedReplicas != 4 || st.ReadyReplicas != 4 || st.AvailableReplicas != 4 {
			return fmt.Errorf("status %+v", st)
		}
		if pods, err = c.pods(); err != nil {
			return err
		}
		web := owned(pods, "web-")
		if err := wantReady(pods, nil, map[string]int{"web": 4}); err != nil {
			return err
		}
		for _, p := range web {
			if img := p.Spec.Containers[0].Image; img != c.image+":1.35-b" {
				return fmt.Errorf("pod %s still runs %s", p.Name, img)
			}
		}
		return nil
	})
	smp.done()
	if sampleErr != nil {
		t.Errorf("sampling the API: %v", sampleErr)
	}
	t.Logf("ready web pods never below %d in %d samples", minReady, samples)
	if min := 4 - 1; minReady < min {
		t.Errorf("ready web pods dropped to %d during the rollout, want at least replicas-maxUnavailable = %d", minReady, min)
	}
	for _, p := range owned(pods, "web-") {
		body, err := httpGet("http://" + p.Status.PodIP + ":8080/")
		if err != nil {
			t.Errorf("pod %s: %v", p.Name, err)
		} else if strings.TrimSpace(body) != "hello from web v2" {
			t.Errorf("pod %s serves %q", p.Name, body)
		}
	}
}

// settled waits until the server has polled the repository again after
// a rejection, so a wrongly applied change would have had its chance.
func (s *scenario) waitRejected(t *testing.T, sha string) *api.SyncStatus {
	t.Helper()
	var st *api.SyncStatus
	s.c.eventually("revision "+sha[:8]+" rejected", time.Minute, func() error {
		var err error
		if st, err = s.c.admin.Status(s.ctx()); err != nil {
			return err
		}
		if st.Rejected == nil || st.Rejected.SHA != sha {
			return fmt.Errorf("state %s, applied %+v, rejected %+v", st.State, st.Applied, st.Rejected)
		}
		return nil
	})
	rejectedAt := st.LastFetch
	s.c.eventually("another fetch", time.Minute, func() error {
		now, err := s.c.admin.Status(s.ctx())
		if err != nil {
			return err
		}
		if !now.LastFetch.After(rejectedAt) {
			return fmt.Errorf("last fetch still %v", now.LastFetch)
		}
		return nil
	})
	return st
}

func (s *scenario) broken(t *testing.T) {
	c := s.c
	before := s.state(t)
	s.web.replicas = 5 // would show if the revision were applied
	bad := c.apply("a typo", map[string]string{"pods/fixed.yaml": brokenPod(c.image), "apps/web.yaml": s.web.yaml(c.image)})
	st := s.waitRejected(t, bad)
	found := false
	for _, e := range st.Rejected.Errors {
		if e.File == "pods/fixed.yaml" && e.Line == brokenLine {
			found = true
		}
	}
	if !found {
		t.Errorf("rejection errors %+v do not name pods/fixed.yaml:%d", st.Rejected.Errors, brokenLine)
	}
	out := s.status(t)
	if want := fmt.Sprintf("pods/fixed.yaml:%d", brokenLine); !strings.Contains(out, want) || !strings.Contains(out, "comand") {
		t.Errorf("berth status does not show %s and the field:\n%s", want, out)
	}
	s.wantUnchanged(t, before, "a broken commit")

	good := c.apply("fix the typo", map[string]string{"pods/fixed.yaml": sleeper(c.image, "fixed")})
	c.waitApplied(good)
	c.eventually("the fixed pod and the fifth web pod", 2*time.Minute, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		return wantReady(pods, []string{"fixed"}, map[string]int{"web": 5})
	})
}

func (s *scenario) overCapacity(t *testing.T) {
	c := s.c
	before := s.state(t)
	// 50 pods of 50m CPU need 2.5 CPUs; the two nodes offer 2.
	big := s.web
	big.replicas = 50
	bad := c.apply("web: 50 replicas, and a new pod", map[string]string{"apps/web.yaml": big.yaml(c.image), "pods/extra.yaml": sleeper(c.image, "extra")})
	st := s.waitRejected(t, bad)
	if len(st.Rejected.Unplaceable) == 0 {
		t.Fatalf("rejected without unplaceable pods: %+v", st.Rejected)
	}
	for _, u := range st.Rejected.Unplaceable {
		if !strings.Contains(u.Name, "web") || !strings.Contains(u.Shortfall, "cpu") {
			t.Errorf("unplaceable %+v: want web pods short of cpu", u)
		}
	}
	out := s.status(t)
	u := st.Rejected.Unplaceable[0]
	if !strings.Contains(out, u.Name) || !strings.Contains(out, u.Shortfall) || !strings.Contains(out, "Insufficient cpu") {
		t.Errorf("berth status does not name the pod %s, its shortfall %q and the reason:\n%s", u.Name, u.Shortfall, out)
	}
	s.wantUnchanged(t, before, "a revision that does not fit")

	s.web.replicas = 6
	good := c.apply("web: 6 replicas, and a new pod", map[string]string{"apps/web.yaml": s.web.yaml(c.image), "pods/extra.yaml": sleeper(c.image, "extra")})
	c.waitApplied(good)
	var pods []corev1.Pod
	c.eventually("6 web pods and the extra pod", 2*time.Minute, func() error {
		var err error
		if pods, err = c.pods(); err != nil {
			return err
		}
		return wantReady(pods, []string{"extra"}, map[string]int{"web": 6})
	})
	now := uids(pods)
	for name, uid := range before.api {
		if now[name] != uid {
			t.Errorf("pod %s was replaced (%s → %q) by a scale-up", name, uid, now[name])
		}
	}
}

func (s *scenario) deleted(t *testing.T) {
	c := s.c
	sha := c.apply("remove two-containers", map[string]string{"pods/two-containers.yaml": ""})
	c.waitApplied(sha)
	c.eventually("two-containers gone from containerd and the API", time.Minute, func() error {
		sb, err := c.allSandboxes()
		if err != nil {
			return err
		}
		for _, x := range sb {
			if x.name == "two-containers" {
				return fmt.Errorf("still on %s with %d containers", x.node, x.containers)
			}
		}
		pods, err := c.pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Name == "two-containers" {
				return fmt.Errorf("still in the API on %s", p.Spec.NodeName)
			}
		}
		return nil
	})
}

// desired lists the pods the repository asks for at this point.
func (s *scenario) desired() ([]string, map[string]int) {
	return []string{"webapp", "logging", "fixed", "extra"}, map[string]int{"web": s.web.replicas}
}

func (s *scenario) nodeLost(t *testing.T) {
	c := s.c
	a, b := c.nodes[0], c.nodes[1]
	pods, err := c.pods()
	if err != nil {
		t.Fatal(err)
	}
	var moved []string
	for _, p := range pods {
		if p.Spec.NodeName == b.name && p.Spec.RestartPolicy != corev1.RestartPolicyNever {
			moved = append(moved, p.Name)
		}
	}
	if len(moved) == 0 {
		t.Fatalf("no pods on %s to move: %v", b.name, podNames(pods))
	}
	stopped := time.Now()
	// No drain: the agent stops and leaves its pods running, as a
	// machine that drops off the network would.
	if err := b.proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	names, deps := s.desired()
	// Pods move a fencing grace after the node timeout.
	limit := e2eNodeTimeout + fencing.DefaultGrace(e2eNodeTimeout) + 10*time.Second
	c.eventually(fmt.Sprintf("pods of %s (%v) Ready on %s", b.name, moved, a.name), limit-time.Since(stopped), func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		if err := wantReady(pods, names, deps); err != nil {
			return err
		}
		for _, p := range pods {
			if p.DeletionTimestamp == nil && p.Spec.NodeName != a.name && p.Spec.RestartPolicy != corev1.RestartPolicyNever {
				return fmt.Errorf("pod %s is on %q", p.Name, p.Spec.NodeName)
			}
		}
		return nil
	})
	t.Logf("pods of the stopped node ran elsewhere %v after it stopped", time.Since(stopped).Round(100*time.Millisecond))
	// The pods are still in b's namespace: nobody told it.
	left, err := c.sandboxes(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) == 0 {
		t.Fatalf("%s's namespace is already empty: the agent drained although it should not have", b.name)
	}

	c.startAgent(b)
	c.eventually(b.name+" to remove the pods that moved", 2*time.Minute, func() error {
		left, err := c.sandboxes(b)
		if err != nil {
			return err
		}
		pods, err := c.pods()
		if err != nil {
			return err
		}
		bound := map[string]string{}
		for _, p := range pods {
			if p.Spec.NodeName == b.name {
				bound[string(p.UID)] = p.Name
			}
		}
		for _, x := range left {
			if _, ok := bound[x.uid]; !ok {
				return fmt.Errorf("%s still runs %s (%s), bound elsewhere", b.name, x.name, x.uid)
			}
		}
		return c.nodeReady(b.name)
	})
}

// serverKilled kills the server with SIGKILL while the agents start the
// 30 pods of a new Deployment, restarts it, and checks that the cluster
// ends with exactly the desired pods, each once, in containerd too.
func (s *scenario) serverKilled(t *testing.T) {
	c := s.c
	many := deployment{name: "many", replicas: 30, tag: "1.35", message: "many", cpu: "10m"}
	sha := c.apply("30 more pods", map[string]string{"apps/many.yaml": many.yaml(c.image)})
	// Kill once the first pods run: the store holds all 30 bindings and
	// the agents are part way through starting them.
	var atKill int
	err := poll(2*time.Minute, 20*time.Millisecond, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		atKill = 0
		ps := owned(pods, "many-")
		for i := range ps {
			if isReady(&ps[i]) {
				atKill++
			}
		}
		if atKill == 0 {
			return fmt.Errorf("%d pods of many, none ready yet", len(ps))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.server.stop(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("server killed with %d of 30 pods of many ready", atKill)
	if atKill == 30 {
		t.Log("every pod was ready before the kill: the restart was not mid-apply this time")
	}
	c.startServer()
	c.waitApplied(sha)
	names, deps := s.desired()
	deps["many"] = 30
	var pods []corev1.Pod
	c.eventually("exactly the desired pods, all Ready", 3*time.Minute, func() error {
		var err error
		if pods, err = c.pods(); err != nil {
			return err
		}
		if err := wantReady(pods, names, deps); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, p := range pods {
			if seen[p.Namespace+"/"+p.Name] {
				return fmt.Errorf("the API lists pod %s twice", p.Name)
			}
			seen[p.Namespace+"/"+p.Name] = true
		}
		want := len(names) + deps["web"] + deps["many"]
		live := 0
		for _, p := range pods {
			if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
				live++
			}
		}
		if live != want {
			return fmt.Errorf("%d long-running pods in the API, want %d: %v", live, want, podNames(pods))
		}
		// containerd holds each of them once, on its node, with its UID,
		// and nothing else.
		ctd, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		api := map[string]string{}
		for _, p := range pods {
			if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
				api[p.Name] = p.Spec.NodeName + "/" + string(p.UID)
			}
		}
		// Finished Job pods may linger in containerd until collected.
		for name := range ctd {
			if strings.HasPrefix(name, "crunch-") {
				delete(ctd, name)
			}
		}
		return sameMap(api, ctd)
	})
}
