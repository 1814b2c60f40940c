package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/gitserve"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/internal/unmount"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// requireParts gates on everything a cluster needs.
func requireParts(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-registry", "git", "iptables", "iptables-save", "ip"} {
		testenv.RequireBinary(t, b)
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback",
		"/usr/lib/git-core/git-http-backend", images.DefaultBusybox} {
		testenv.RequireFile(t, f)
	}
	requireBinaries(t)
}

// proc is one berth process under test, its output in a log file.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(t testing.TB, name, logPath string, env []string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, logPath, env, bins.berth, args...)
}

// startCmd is startProc with another program: another build of berth,
// or nsenter for an agent in its own "host".
func startCmd(t testing.TB, name, logPath string, env []string, prog string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "==== %s: berth %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	p := &proc{name: name, log: logPath, done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Its own process group: a Ctrl-C on the test reaches it only through
	// the test's cleanup, which stops things in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends sig and waits up to limit for the process to end, then kills it.
func (p *proc) stop(sig syscall.Signal, limit time.Duration) error {
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v after %v; killed", p.name, limit, sig)
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// node is one `berth agent --server` process acting as a node.
type node struct {
	name, ns, network, bridge string
	// host is the network namespace the agent runs in and ip its address
	// there, with clusterOptions.hosts; empty: the test's own.
	host, ip string
	args     []string
	log      string
	proc     *proc
	// bin is the berth the agent runs (default bins.berth).
	bin string
}

type clusterOptions struct {
	// prefix names the nodes, namespaces and networks (short: bridges
	// take at most 15 bytes).
	prefix      string
	clusterCIDR string
	nodes       int
	interval    time.Duration
	nodeTimeout time.Duration
	// allocatable is every node's --allocatable.
	allocatable string
	// hosts runs every agent in its own network namespace acting as a
	// separate machine (hosts.go), with --pod-network on.
	hosts bool
	// storage gives every agent a --storage-dir (storageDir) for claims.
	storage bool
	// podNetwork is the hosts' --pod-network mode (default auto: the
	// hosts share a link, so host-gw routes).
	podNetwork string
}

// cluster is a whole berth installation of real processes on this machine.
type cluster struct {
	t        testing.TB
	opts     clusterOptions
	dir      string
	ctrd     *containerdrun.Daemon
	ctd      *containerd.Client
	reg      *testenv.Registry
	image    string // busybox in the registry, as manifests name it
	repo     *gitserve.Repo
	dataDir  string
	hookFile string
	listen   string
	url      string
	// ca is the cluster CA the server created; https calls trust only it.
	ca       *x509.CertPool
	server   *proc
	srvArgs  []string
	srvEnv   []string
	srvLog   string
	nodes    []*node
	admin    *client.Client
	adminTok string
	agentTok string
}

func newCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	requireParts(t)
	dir, err := os.MkdirTemp("", "berth-"+o.prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, opts: o, dir: dir}
	for i := 0; i < o.nodes; i++ {
		l := string(rune('a' + i))
		c.nodes = append(c.nodes, &node{
			name: o.prefix + "-" + l, ns: o.prefix + l, network: o.prefix + l, bridge: "bt" + o.prefix + l,
			log: filepath.Join(dir, "agent-"+l+".log"),
		})
	}
	// What a run that was killed before its cleanup left under the same
	// names: a bridge, nat chains, host-local leases.
	for _, n := range c.nodes {
		_ = removeNodeNetwork(n)
	}
	// Runs last, after containerd has stopped: what CNI and containerd
	// leave on the host.
	t.Cleanup(c.cleanHost)
	if o.hosts {
		c.makeHosts()
	}

	c.ctrd = testenv.NewContainerd(t)
	c.ctd, err = containerd.New(c.ctrd.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ctd.Close() })
	c.reg = testenv.NewRegistry(t)
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	c.image = c.reg.Host + "/berth/busybox"
	for _, tag := range []string{"1.35", "1.35-b"} {
		if err := images.Push(context.Background(), img, c.image+":"+tag, false); err != nil {
			t.Fatal(err)
		}
	}

	c.repo = gitserve.New(t, filepath.Join(dir, "git"), "E2E")
	c.repo.Commit("an empty cluster", map[string]string{"README.md": "berth e2e\n"})
	c.repo.Push()

	c.dataDir = filepath.Join(dir, "data")
	c.hookFile = filepath.Join(dir, "hook.token")
	if err := os.WriteFile(c.hookFile, []byte("e2e-hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c.listen = fmt.Sprintf("127.0.0.1:%d", port)
	if o.hosts {
		c.listen = fmt.Sprintf("%s:%d", hostsGateway, port)
	}
	c.url = "https://" + c.listen
	c.srvLog = filepath.Join(dir, "server.log")
	c.srvEnv = []string{"HOME=" + filepath.Join(dir, "home"), "BERTH_CONFIG=" + filepath.Join(dir, "cli.json")}
	c.srvArgs = []string{"server", "--repo", c.repo.URL, "--agent=false",
		"--interval", o.interval.String(), "--data", c.dataDir, "--listen", c.listen,
		"--cluster-cidr", o.clusterCIDR, "--node-timeout", o.nodeTimeout.String(),
		"--webhook-token-file", c.hookFile}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tailFile(c.srvLog, 6000))
			for _, n := range c.nodes {
				t.Logf("agent %s log (tail):\n%s", n.name, tailFile(n.log, 4000))
			}
			c.keepLogs()
		}
	})
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.proc != nil {
				if err := n.proc.stop(syscall.SIGTERM, time.Minute); err != nil {
					t.Errorf("agent: %v", err)
				}
			}
		}
		if c.server != nil {
			if err := c.server.stop(syscall.SIGTERM, 30*time.Second); err != nil {
				t.Errorf("server: %v", err)
			}
		}
	})
	c.startServer()
	c.adminTok = readFile(t, filepath.Join(c.dataDir, reconciler.AdminTokenFile))
	c.agentTok = readFile(t, filepath.Join(c.dataDir, reconciler.AgentTokenFile))
	c.admin, err = client.New(c.url, c.adminTok, client.WithHTTPClient(c.httpClient(0)))
	if err != nil {
		t.Fatal(err)
	}
	caHash := c.caHash()
	for _, n := range c.nodes {
		c.joinArgs(n, caHash)
		if n.host != "" {
			c.prePull(n)
		}
		c.startAgent(n)
	}
	c.waitNodesReady()
	// Registered last, so it runs first: remove every workload through
	// Git, the way a user would, so the agents tear down their pods
	// before they stop.
	t.Cleanup(c.removeAll)
	return c
}

// joinArgs sets n's agent arguments: the join command the server prints
// (token and CA hash) and the node's own directories and network.
func (c *cluster) joinArgs(n *node, caHash string) {
	dir, o := c.dir, c.opts
	n.args = []string{"agent", "--server", c.url, "--token", c.agentTok, "--ca-cert-hash", caHash,
		"--node-name", n.name, "--namespace", n.ns,
		"--containerd-socket", c.ctrd.Address, "--runc-root", c.ctrd.RuncRoot,
		"--run-dir", filepath.Join(dir, n.ns, "run"), "--log-dir", filepath.Join(dir, n.ns, "log"),
		"--cni-conf", filepath.Join(dir, n.ns, "cni.conflist"), "--network", n.network, "--bridge", n.bridge,
		"--gc-interval", "10s"}
	if o.allocatable != "" {
		n.args = append(n.args, "--allocatable", o.allocatable)
	}
	if o.storage {
		n.args = append(n.args, "--storage-dir", c.storageDir(n))
	}
	if n.host != "" {
		mode := cmp.Or(o.podNetwork, "auto")
		n.args = append(n.args, "--pod-network", mode, "--node-ip", n.ip)
	}
}

// addNode joins one more agent, with extra arguments, to the running
// cluster, as an operator runs the join command on a new machine, and
// waits until every node is Ready. It is stopped and cleaned up with the
// others (not with clusterOptions.hosts).
func (c *cluster) addNode(extra ...string) *node {
	c.t.Helper()
	if c.opts.hosts {
		c.t.Fatal("addNode: a node in a host of its own is not supported")
	}
	l := string(rune('a' + len(c.nodes)))
	p := c.opts.prefix
	n := &node{name: p + "-" + l, ns: p + l, network: p + l, bridge: "bt" + p + l, log: filepath.Join(c.dir, "agent-"+l+".log")}
	c.joinArgs(n, c.caHash())
	n.args = append(n.args, extra...)
	c.nodes = append(c.nodes, n)
	c.startAgent(n)
	c.waitNodesReady()
	return n
}

// waitNodesReady waits until every node of the test is Ready.
func (c *cluster) waitNodesReady() {
	c.t.Helper()
	c.eventually("every node Ready", time.Minute, func() error {
		nodes, err := c.admin.Nodes(context.Background())
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready != len(c.nodes) {
			return fmt.Errorf("%d of %d nodes Ready", ready, len(c.nodes))
		}
		return nil
	})
}

// storageDir is the node's --storage-dir, with clusterOptions.storage.
func (c *cluster) storageDir(n *node) string { return filepath.Join(c.dir, n.ns, "storage") }

// keepLogs copies the processes' whole logs out of the cluster's
// directory, which cleanup removes, so a failure can be studied.
func (c *cluster) keepLogs() {
	dst, err := os.MkdirTemp("", "berth-"+c.opts.prefix+"-logs-")
	if err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	logs := []string{c.srvLog}
	for _, n := range c.nodes {
		logs = append(logs, n.log)
	}
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(l)), b, 0o600)
		}
	}
	c.t.Logf("the server's and agents' logs are kept in %s", dst)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// startServer starts `berth server` and waits until its API answers.
func (c *cluster) startServer() {
	c.t.Helper()
	c.server = startProc(c.t, "server", c.srvLog, c.srvEnv, c.srvArgs...)
	c.eventually("the server's API", time.Minute, func() error {
		if !c.server.running() {
			return fmt.Errorf("server exited: %v", c.server.err)
		}
		if _, err := os.Stat(filepath.Join(c.dataDir, reconciler.AdminTokenFile)); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(c.dataDir, "pki", pki.CACertFile))
		if err != nil {
			return err
		}
		if c.ca, err = pki.PoolFromPEM(b); err != nil {
			return err
		}
		resp, err := c.httpClient(time.Second).Get(c.url + "/api/v1/nodes")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

func (c *cluster) startAgent(n *node) {
	c.t.Helper()
	bin := n.bin
	if bin == "" {
		bin = bins.berth
	}
	if n.host != "" {
		// nsenter, not ip netns exec: that one also makes a mount
		// namespace of its own, which would hide the pods' netns pins
		// from containerd.
		n.proc = startCmd(c.t, "agent "+n.name, n.log, nil, "nsenter", append([]string{"--net=/run/netns/" + n.host, bin}, n.args...)...)
		return
	}
	n.proc = startCmd(c.t, "agent "+n.name, n.log, nil, bin, n.args...)
}

// eventually polls cond, which looks at the real processes, until it
// returns nil; after limit the test fails with cond's last answer.
func (c *cluster) eventually(what string, limit time.Duration, cond func() error) {
	c.t.Helper()
	if err := poll(limit, 200*time.Millisecond, cond); err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func poll(limit, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", limit, err)
		}
		time.Sleep(every)
	}
}

// apply commits files, pushes and tells the server through the generic
// webhook, so the test does not wait for a poll.
func (c *cluster) apply(msg string, files map[string]string) string {
	c.t.Helper()
	sha := c.repo.Commit(msg, files)
	c.repo.Push()
	c.hook()
	return sha
}

func (c *cluster) hook() {
	c.t.Helper()
	if err := c.hookErr(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) hookErr() error {
	req, err := http.NewRequest(http.MethodPost, c.url+"/hooks/generic", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer e2e-hook-secret")
	resp, err := c.httpClient(10 * time.Second).Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s", resp.Status)
	}
	return nil
}

// waitApplied waits until the server runs revision sha.
func (c *cluster) waitApplied(sha string) {
	c.t.Helper()
	c.eventually("revision "+sha[:8]+" applied", time.Minute, func() error {
		st, err := c.admin.Status(context.Background())
		if err != nil {
			return err
		}
		if st.Applied == nil || st.Applied.SHA != sha {
			return fmt.Errorf("applied %+v, state %s, rejected %+v", st.Applied, st.State, st.Rejected)
		}
		return nil
	})
}

func (c *cluster) pods() ([]corev1.Pod, error) {
	l, err := c.admin.Pods(context.Background(), "")
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func isReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sandbox is a pod as containerd holds it on one node: its pause
// container, found by the labels the agent puts on every object.
type sandbox struct {
	node, name, uid string
	containers      int // every container of the pod, pause included
}

// sandboxes lists the pods present in node n's containerd namespace.
func (c *cluster) sandboxes(n *node) ([]sandbox, error) {
	ctx := namespaces.WithNamespace(context.Background(), n.ns)
	ctrs, err := c.ctd.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("containers in %s: %w", n.ns, err)
	}
	byUID := map[string]*sandbox{}
	var order []string
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if err != nil {
			continue // removed while we looked
		}
		uid := labels[nodeagent.LabelPodUID]
		if uid == "" {
			continue
		}
		s, ok := byUID[uid]
		if !ok {
			s = &sandbox{node: n.name, name: labels[nodeagent.LabelPodName], uid: uid}
			byUID[uid] = s
			order = append(order, uid)
		}
		s.containers++
	}
	out := make([]sandbox, 0, len(order))
	for _, uid := range order {
		out = append(out, *byUID[uid])
	}
	return out, nil
}

// allSandboxes lists the pods in every node's namespace.
func (c *cluster) allSandboxes() ([]sandbox, error) {
	var all []sandbox
	for _, n := range c.nodes {
		s, err := c.sandboxes(n)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return all, nil
}

// podsOnNodes maps every pod found in containerd, over all nodes, to
// "node/uid"; a pod found twice is an error.
func (c *cluster) podsOnNodes() (map[string]string, error) {
	sb, err := c.allSandboxes()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, x := range sb {
		if prev, dup := m[x.name]; dup {
			return nil, fmt.Errorf("pod %s twice in containerd: %s and %s/%s", x.name, prev, x.node, x.uid)
		}
		m[x.name] = x.node + "/" + x.uid
	}
	return m, nil
}

// removeAll deletes every manifest through Git and waits until the nodes
// hold no pod, so the agents stop with nothing running.
func (c *cluster) removeAll() {
	if c.server == nil || !c.server.running() {
		return
	}
	files := map[string]string{}
	for _, dir := range []string{"pods", "apps", "batch"} {
		ents, _ := os.ReadDir(filepath.Join(c.repo.Work, dir))
		for _, e := range ents {
			files[dir+"/"+e.Name()] = ""
		}
	}
	if len(files) > 0 {
		c.repo.Commit("remove everything", files)
		c.repo.Push()
		if err := c.hookErr(); err != nil {
			c.t.Errorf("cleanup: %v", err)
		}
	}
	err := poll(2*time.Minute, 200*time.Millisecond, func() error {
		s, err := c.allSandboxes()
		if err != nil {
			return err
		}
		if len(s) > 0 {
			return fmt.Errorf("%d pods still on the nodes", len(s))
		}
		return nil
	})
	if err != nil {
		c.t.Errorf("cleanup: %v", err)
	}
}

// cleanHost removes what CNI and containerd leave on the host once every
// pod is gone: the bridges, the networks' masquerade chains, host-local's
// lease dirs, containerd's per-namespace parent cgroups, and mounts (netns
// pins) under the test's directory.
func (c *cluster) cleanHost() {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, removeNodeNetwork(n))
		cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + n.ns)
		if d := "/sys/fs/cgroup/" + n.ns; dirExists(d) {
			cg = append(cg, d)
		}
		for _, d := range cg {
			errs = append(errs, rmdirTree(d))
		}
	}
	errs = append(errs, unmount.Under(c.dir))
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		c.t.Errorf("cleaning the host: %v", err)
	}
}

// removeNodeNetwork removes what CNI leaves of a node's network on the
// host: its bridge, its masquerade chains and host-local's lease dir.
func removeNodeNetwork(n *node) error {
	var errs []error
	if err := exec.Command("ip", "link", "show", n.bridge).Run(); err == nil {
		if out, err := exec.Command("ip", "link", "del", n.bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", n.bridge, err, out))
		}
	}
	errs = append(errs, removeCNIChains(n.network))
	_ = os.RemoveAll(filepath.Join("/var/lib/cni/networks", n.network))
	return errors.Join(errs...)
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// removeCNIChains deletes the nat rules the bridge plugin's ipMasq made
// for network (their comment names it) and the chains they jump to.
func removeCNIChains(network string) error {
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		return fmt.Errorf("iptables-save: %w", err)
	}
	var errs []error
	chains := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, `name: \"`+network+`\"`) && !strings.Contains(line, `name: "`+network+`"`) {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "-j" && strings.HasPrefix(f[i+1], "CNI-") && !strings.HasPrefix(f[i+1], "CNI-HOSTPORT") {
				chains[f[i+1]] = true
			}
		}
		args := append([]string{"-t", "nat", "-D"}, splitRule(line[3:])...)
		if o, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("iptables %v: %v: %s", args, err, o))
		}
	}
	for ch := range chains {
		_ = exec.Command("iptables", "-t", "nat", "-F", ch).Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", ch).Run()
	}
	return errors.Join(errs...)
}

// splitRule splits an iptables-save rule into arguments, keeping quoted
// comments whole.
func splitRule(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, escaped, started := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && inQuote:
			escaped = true
		case r == '"':
			inQuote = !inQuote
			started = true
		case r == ' ' && !inQuote:
			if started {
				args = append(args, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	return args
}

func rmdirTree(root string) error {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

// berthCLI runs the berth binary as a user would, against the cluster.
func (c *cluster) berthCLI(args ...string) (string, error) {
	cmd := exec.Command(bins.berth, args...)
	// The CLI config the server wrote: server, admin token and the CA.
	cmd.Env = append(os.Environ(), "BERTH_SERVER=", "BERTH_TOKEN=", "BERTH_CONFIG="+filepath.Join(c.dir, "cli.json"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// sampler calls f every interval in the background until stopped.
type sampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func sample(every time.Duration, f func()) *sampler {
	s := &sampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			f()
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
		}
	}()
	return s
}

func (s *sampler) done() { close(s.stop); s.wg.Wait() }

// httpClient trusts the cluster CA only (timeout 0: none).
func (c *cluster) httpClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: c.ca}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// caHash is the sha256: pin of the cluster CA, as the join command has it.
func (c *cluster) caHash() string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dataDir, "pki", pki.CACertFile))
	if err != nil {
		c.t.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(b)
	if err != nil {
		c.t.Fatal(err)
	}
	return pki.Hash(cert)
}
