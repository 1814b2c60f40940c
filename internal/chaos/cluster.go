package chaos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/remotes/docker"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/gitserve"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/internal/unmount"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// The hosts: every agent runs in its own network namespace with one
// address on a bridge in the test's namespace (the "switch"); the server,
// its metrics and the Git server listen on the bridge's address.
//
//	test netns:  bridge c20cbr 198.18.236.1 (server, metrics)
//	               ├── veth ── host c20c-a: eth0 198.18.236.2
//	               ├── veth ── host c20c-b: eth0 198.18.236.3
//	               └── veth ── host c20c-c: eth0 198.18.236.4
const (
	hostsBridge  = "c20cbr"
	hostsGateway = "198.18.236.1"
	hostsPrefix  = 24
	clusterCIDR  = "198.19.212.0/22"
	// nodeTimeout is the server's --node-timeout: short, so a partition
	// longer than it fits in a short run.
	nodeTimeout = 6 * time.Second
	hookSecret  = "chaos-hook-secret"
	// imageTags are the tags of the test image the driver bumps between.
	imageTagA = "v1"
	imageTagB = "v2"
)

// Bins are the programs under test.
type Bins struct {
	Berth string
}

// Cluster is a berth installation of real processes.
type Cluster struct {
	// KeepLogs keeps the processes' logs after a run that passed too
	// (a long run's slow convergences are studied from them).
	KeepLogs bool

	t        testing.TB
	bins     Bins
	dir      string
	ctrdDir  string
	ctrdLog  *os.File
	ctrd     *containerdrun.Daemon
	ctd      *containerd.Client
	reg      *testenv.Registry
	image    string
	repo     *gitserve.Repo
	dataDir  string
	hookFile string
	listen   string
	url      string
	metrics  string // the server's --metrics-listen
	ca       *x509.CertPool
	server   *proc
	srvArgs  []string
	srvLog   string
	nodes    []*Node
	admin    *client.Client
	agentTok string
	// tmpfsSize is the data dir's tmpfs size in bytes.
	tmpfsSize int64
}

// Node is one agent acting as a host.
type Node struct {
	Name, NS, Network, Bridge string
	Host, IP                  string
	RunDir, LogDir            string
	// StorageDir is the agent's --storage-dir: its claims' data.
	StorageDir string
	Metrics    string
	args       []string
	log        string
	proc       *proc
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// RequireParts gates on everything a cluster needs.
func RequireParts(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-registry", "git", "iptables", "ip", "nsenter", "nft", "mount"} {
		testenv.RequireBinary(t, b)
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback",
		"/usr/lib/git-core/git-http-backend", images.DefaultBusybox} {
		testenv.RequireFile(t, f)
	}
}

// NewCluster starts containerd, a registry, a Git server, the server with
// its data dir on a small tmpfs, and three agents in their hosts, and
// waits until every node is Ready. Cleanup tears it all down.
func NewCluster(t testing.TB, bins Bins) *Cluster {
	t.Helper()
	RequireParts(t)
	dir, err := os.MkdirTemp("", "berth-c20chaos-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bins: bins, dir: dir, tmpfsSize: 96 << 20}
	for i := 0; i < 3; i++ {
		l := string(rune('a' + i))
		c.nodes = append(c.nodes, &Node{
			Name: "chaos-" + l, NS: "c20ch" + l, Network: "c20ch" + l, Bridge: "c20chb" + l,
			Host: "c20c-" + l, IP: fmt.Sprintf("198.18.236.%d", i+2),
			RunDir: filepath.Join(dir, "n"+l, "run"), LogDir: filepath.Join(dir, "n"+l, "log"),
			StorageDir: filepath.Join(dir, "n"+l, "storage"),
			log:        filepath.Join(dir, "agent-"+l+".log"),
		})
	}
	t.Cleanup(c.cleanHost)
	c.makeHosts()

	// containerd: started by hand so that a fault can restart it on the
	// same directory.
	c.ctrdDir, err = os.MkdirTemp("", "c20ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	if c.ctrdLog, err = os.Create(filepath.Join(dir, "containerd.log")); err != nil {
		t.Fatal(err)
	}
	if c.ctrd, err = containerdrun.Start(context.Background(), c.ctrdDir, c.ctrdLog); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.ctrd.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		c.ctrdLog.Close()
	})
	if c.ctd, err = containerd.New(c.ctrd.Address); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ctd.Close() })

	c.reg = testenv.NewRegistry(t)
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	c.image = c.reg.Host + "/berth/busybox"
	for _, tag := range []string{imageTagA, imageTagB} {
		if err := images.Push(context.Background(), img, c.image+":"+tag, false); err != nil {
			t.Fatal(err)
		}
	}

	c.repo = gitserve.New(t, filepath.Join(dir, "git"), "Chaos")
	c.repo.Commit("an empty cluster", map[string]string{"README.md": "berth chaos\n"})
	c.repo.Push()

	c.dataDir = filepath.Join(dir, "data")
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := run("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(c.tmpfsSize, 10), "c20chaos", c.dataDir); err != nil {
		t.Fatal(err)
	}
	c.hookFile = filepath.Join(dir, "hook.token")
	if err := os.WriteFile(c.hookFile, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mport, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c.listen = fmt.Sprintf("%s:%d", hostsGateway, port)
	c.metrics = fmt.Sprintf("%s:%d", hostsGateway, mport)
	c.url = "https://" + c.listen
	c.srvLog = filepath.Join(dir, "server.log")
	c.srvArgs = []string{"server", "--repo", c.repo.URL, "--agent=false",
		"--interval", "2s", "--data", c.dataDir, "--listen", c.listen,
		"--cluster-cidr", clusterCIDR, "--node-timeout", nodeTimeout.String(),
		"--webhook-token-file", c.hookFile, "--metrics-listen", c.metrics}
	t.Cleanup(func() {
		if t.Failed() || c.KeepLogs {
			c.keepLogs()
		}
	})
	t.Cleanup(c.stopProcesses)
	c.StartServer()
	c.agentTok = readFile(t, filepath.Join(c.dataDir, reconciler.AgentTokenFile))
	c.admin, err = client.New(c.url, readFile(t, filepath.Join(c.dataDir, reconciler.AdminTokenFile)),
		client.WithHTTPClient(c.HTTPClient(0)), client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	caHash := c.caHash()
	for i, n := range c.nodes {
		n.Metrics = fmt.Sprintf("%s:%d", n.IP, 9470+i)
		n.args = []string{"agent", "--server", c.url, "--token", c.agentTok, "--ca-cert-hash", caHash,
			"--node-name", n.Name, "--namespace", n.NS,
			"--containerd-socket", c.ctrd.Address, "--runc-root", c.ctrd.RuncRoot,
			"--run-dir", n.RunDir, "--log-dir", n.LogDir, "--storage-dir", n.StorageDir,
			"--cni-conf", filepath.Join(dir, "n"+string(rune('a'+i)), "cni.conflist"), "--network", n.Network, "--bridge", n.Bridge,
			"--gc-interval", "10s", "--allocatable", "cpu=1,memory=1Gi",
			"--pod-network", "auto", "--node-ip", n.IP, "--metrics-listen", n.Metrics}
		c.prePull(n)
		c.StartAgent(n)
	}
	if err := Poll(time.Minute, func() error { return c.nodesReady(len(c.nodes)) }); err != nil {
		t.Fatalf("every node Ready: %v", err)
	}
	return c
}

// Admin is the admin API client.
func (c *Cluster) Admin() *client.Client { return c.admin }

// Nodes are the agents.
func (c *Cluster) Nodes() []*Node { return c.nodes }

func (c *Cluster) nodesReady(want int) error {
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
	if ready != want {
		return fmt.Errorf("%d of %d nodes Ready", ready, want)
	}
	return nil
}

func (c *Cluster) makeHosts() {
	c.t.Helper()
	c.removeHosts()
	steps := [][]string{
		{"link", "add", hostsBridge, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", hostsGateway, hostsPrefix), "dev", hostsBridge},
		{"link", "set", hostsBridge, "up"},
	}
	for i, n := range c.nodes {
		veth := "c20cv" + string(rune('a'+i))
		steps = append(steps,
			[]string{"netns", "add", n.Host},
			[]string{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.Host},
			[]string{"link", "set", veth, "master", hostsBridge, "up"},
			[]string{"-n", n.Host, "link", "set", "lo", "up"},
			[]string{"-n", n.Host, "addr", "add", fmt.Sprintf("%s/%d", n.IP, hostsPrefix), "dev", "eth0"},
			[]string{"-n", n.Host, "link", "set", "eth0", "up"},
			[]string{"-n", n.Host, "route", "add", "default", "via", hostsGateway},
		)
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		if err := run("ip", "netns", "exec", n.Host, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *Cluster) removeHosts() {
	var errs []error
	for _, n := range c.nodes {
		if _, err := os.Stat(filepath.Join("/run/netns", n.Host)); err == nil {
			errs = append(errs, run("ip", "netns", "del", n.Host))
		}
	}
	if exec.Command("ip", "link", "show", hostsBridge).Run() == nil {
		errs = append(errs, run("ip", "link", "del", hostsBridge))
	}
	if err := errors.Join(errs...); err != nil {
		c.t.Errorf("removing the hosts: %v", err)
	}
}

// prePull puts the test images into n's containerd namespace: the
// registry listens on the test's loopback, which a host cannot reach.
func (c *Cluster) prePull(n *Node) {
	c.t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), n.NS)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
	})
	for _, tag := range []string{imageTagA, imageTagB} {
		if _, err := c.ctd.Pull(ctx, c.image+":"+tag, containerd.WithResolver(resolver), containerd.WithPullUnpack,
			containerd.WithPullSnapshotter("overlayfs")); err != nil {
			c.t.Fatalf("pull into %s: %v", n.NS, err)
		}
	}
}

// StartServer starts `berth server` and waits until its API answers.
func (c *Cluster) StartServer() {
	c.t.Helper()
	c.server = startCmd(c.t, "server", c.srvLog, c.bins.Berth, c.srvArgs...)
	err := Poll(time.Minute, func() error {
		if !c.server.running() {
			return fmt.Errorf("server exited: %v", c.server.err)
		}
		b, err := os.ReadFile(filepath.Join(c.dataDir, "pki", pki.CACertFile))
		if err != nil {
			return err
		}
		if c.ca, err = pki.PoolFromPEM(b); err != nil {
			return err
		}
		resp, err := c.HTTPClient(time.Second).Get(c.url + "/api/v1/nodes")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		c.t.Fatalf("the server's API: %v\n%s", err, tailFile(c.srvLog, 3000))
	}
}

// StartAgent starts n's agent inside its host (nsenter, not ip netns
// exec: that one also makes a mount namespace, which would hide the pods'
// netns pins from containerd).
func (c *Cluster) StartAgent(n *Node) {
	c.t.Helper()
	n.proc = startCmd(c.t, "agent "+n.Name, n.log, "nsenter", append([]string{"--net=/run/netns/" + n.Host, c.bins.Berth}, n.args...)...)
}

func (c *Cluster) stopProcesses() {
	for _, n := range c.nodes {
		if n.proc != nil {
			if err := n.proc.stop(syscall.SIGTERM, 20*time.Second); err != nil {
				c.t.Errorf("agent: %v", err)
			}
		}
	}
	if c.server != nil {
		if err := c.server.stop(syscall.SIGTERM, 30*time.Second); err != nil {
			c.t.Errorf("server: %v", err)
		}
	}
}

// keepLogs copies the logs out of the cluster's directory, which cleanup
// removes, so a failure can be studied.
func (c *Cluster) keepLogs() {
	dst, err := os.MkdirTemp("", "berth-c20chaos-logs-")
	if err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	logs := []string{c.srvLog, c.ctrdLog.Name()}
	for _, n := range c.nodes {
		logs = append(logs, n.log)
	}
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(l)), b, 0o600)
		}
	}
	c.t.Logf("the server's, containerd's and agents' logs are kept in %s", dst)
}

// cleanHost removes what CNI and containerd leave on the host once every
// pod is gone, the tmpfs, the hosts and the directory.
func (c *Cluster) cleanHost() {
	var errs []error
	for _, n := range c.nodes {
		_ = os.RemoveAll(filepath.Join("/var/lib/cni/networks", n.Network))
		cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + n.NS)
		if d := "/sys/fs/cgroup/" + n.NS; dirExists(d) {
			cg = append(cg, d)
		}
		for _, d := range cg {
			errs = append(errs, rmdirTree(d))
		}
	}
	c.removeHosts()
	errs = append(errs, unmount.Under(c.dir))
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		c.t.Errorf("cleaning the host: %v", err)
	}
}

// HTTPClient trusts the cluster CA only (timeout 0: none).
func (c *Cluster) HTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: c.ca}
	return &http.Client{Transport: tr, Timeout: timeout}
}

func (c *Cluster) caHash() string {
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

// Hook tells the server through the generic webhook to fetch now.
func (c *Cluster) Hook() error {
	req, err := http.NewRequest(http.MethodPost, c.url+"/hooks/generic", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+hookSecret)
	resp, err := c.HTTPClient(10 * time.Second).Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("webhook: %s", resp.Status)
	}
	return nil
}

// proc is one process under test, its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startCmd(t testing.TB, name, logPath, prog string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "==== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), prog, strings.Join(args, " "))
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
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

// kill SIGKILLs the process and waits for it.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Poll calls cond every 200 ms until it returns nil or limit passes.
func Poll(limit time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", limit, err)
		}
		time.Sleep(200 * time.Millisecond)
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

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
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
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", dirs[i], err))
		}
	}
	return errors.Join(errs...)
}
