// Package remote is a node agent's link to the berth server: it registers
// the node (the pod subnet comes from the server, so before nodeagent.New),
// then feeds the agent the full list of pods bound to the node from a
// long-poll watch, sends heartbeats, reports what the agent observed, and
// serves the node's container logs for the server to proxy.
//
//	server ──watch (full list, resourceVersion)──► Link.Watch ──Sync──► Agent
//	server ◄──status (+ Gone for deleted pods)───── Link ◄──Status()──── Agent
//	server ◄──heartbeat every interval──────────── Link
//	server ──GET /berth/v1/logs/{uid}/{c}────────► Link's log server ──► containerlog
//
// When the server cannot be reached the link retries with back-off and
// leaves running pods untouched for the node's lease (package fencing):
// each heartbeat the server accepts renews it; once it has run out, the
// link stops the pods the server is about to move (all but DaemonSet
// pods, pods with a claim and finished pods), and a reconnecting agent converges from a full list fetched
// after the server answered again and reports the fence (api.Fence) with
// its status, for the server's events and metrics.
package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/fencing"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/nodeagent/clusternet"
)

// Agent is what the link drives; *nodeagent.Agent is one.
type Agent interface {
	// Run feeds the agent from src until ctx ends.
	Run(ctx context.Context, src nodeagent.Source) error
	// Status returns every pod the agent holds, with its status.
	Status() []corev1.Pod
}

// eventTaker is an Agent that records events (nodeagent.Agent.TakeEvents):
// the link sends them with its status reports.
type eventTaker interface {
	TakeEvents() []api.Event
}

// maxPendingEvents bounds the events the link holds while the server
// cannot be reached; past it the oldest go.
const maxPendingEvents = 256

// Config is how the link reaches the server. Zero fields take the
// defaults named.
type Config struct {
	// Server is the server's address (http://host:port or host:port).
	Server string
	// Token is the agent join token. It only registers the node: the
	// server answers with the node's own token, which every later call
	// carries.
	Token string
	// CredentialFile keeps the node's credential (mode 0600) so a
	// restarted agent re-registers as the same node at once; the join
	// token cannot take over a registered name. Over TLS the credential is
	// the node's key, its certificate and the CA (PEM); on plain HTTP a
	// node token. Empty keeps it in memory only.
	// RunAgent puts it in the agent's run dir.
	CredentialFile string
	// NodeName names the node (required).
	NodeName string
	// DrainOnExit makes RunAgent stop and remove every pod of the node
	// when it returns, instead of leaving them for the next start to adopt
	// (for demos that must leave nothing running).
	DrainOnExit bool
	// Labels and Taints are the node's, for scheduling.
	Labels map[string]string
	Taints []corev1.Taint
	// Capacity and Allocatable default to MachineResources().
	Capacity    corev1.ResourceList
	Allocatable corev1.ResourceList
	// LogListen is where the log server listens (default 127.0.0.1:0).
	LogListen string
	// Advertise is the host:port the server is told to fetch logs from
	// (default: NodeIP with the log server's port, or its listening
	// address). Its host is the node's address in the cluster network.
	Advertise string
	// Build is the agent's build, sent at register.
	Build api.BuildInfo
	// NodeIP is the node's address between nodes: other nodes route its
	// pod subnet to it, NodePorts answer on it (default: the host of
	// Advertise).
	NodeIP netip.Addr
	// LogDir is the agent's log directory (nodeagent.Config.LogDir).
	LogDir string
	// StatusPoll is how often Agent.Status is checked for a change to
	// report (default 1s); StatusResend is the longest the link stays
	// silent when nothing changed (default 5s).
	StatusPoll   time.Duration
	StatusResend time.Duration
	// WatchWait is how long one long poll may wait (default 30s).
	WatchWait time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed calls
	// (defaults 500ms and 30s); the wait doubles with each failure.
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient carries the calls to the server (default: a new one).
	HTTPClient *http.Client
	// Clock drives intervals and back-off (default: real).
	Clock clock.WithTicker
	// Logger receives the link's logs (default slog.Default()).
	Logger *slog.Logger
	// Configs, when set, is replaced with the ConfigMaps and Secrets of
	// every pod list the watch brings; RunAgent makes one and gives it to
	// the agent as its ConfigSource.
	Configs *nodeagent.ConfigStore
	// Network, when set, makes RunAgent program the cluster network
	// (Services, DNS, pod routes) from the server's network state.
	Network *NetworkOptions
	// FenceMargin is how much before the server's node timeout the
	// node's lease ends and its pods are fenced (default
	// fencing.DefaultMargin of the timeout the server gives).
	FenceMargin time.Duration
	// NoFence keeps pods running however long the server is unreachable
	// (a single-node setup, where nothing can move them).
	NoFence bool
}

func (c *Config) validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{{"Server", c.Server}, {"Token", c.Token}, {"NodeName", c.NodeName}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("remote config: %s required", strings.Join(missing, ", "))
	}
	if c.LogListen == "" {
		c.LogListen = "127.0.0.1:0"
	}
	if c.Capacity == nil {
		c.Capacity = MachineResources()
	}
	if c.Allocatable == nil {
		c.Allocatable = c.Capacity.DeepCopy()
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	dur(&c.StatusPoll, time.Second)
	dur(&c.StatusResend, 5*time.Second)
	dur(&c.WatchWait, 30*time.Second)
	dur(&c.MinBackoff, 500*time.Millisecond)
	dur(&c.MaxBackoff, 30*time.Second)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// MachineResources returns this machine's CPUs and memory, and the
// kubelet's default of 110 pods.
func MachineResources() corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					rl[corev1.ResourceMemory] = *resource.NewQuantity(kb*1024, resource.BinarySI)
				}
			}
		}
	}
	return rl
}

// Link is one node's connection to the server. It is a nodeagent.Source.
type Link struct {
	cfg  Config
	join *client.Client
	hc   *http.Client // presents the node's certificate once it has one
	logs net.Listener
	kick chan struct{}

	mu        sync.Mutex
	node      *client.Client // with the node's credential, once registered
	nodeToken string
	// certAuth: the node authenticates by its client certificate (the
	// server issued no node token), and node sends no bearer token.
	certAuth   bool
	podCIDR    string
	clusterDNS string // and its domain, as the server last said
	domain     string
	hbInterval time.Duration
	agent      Agent
	id         *nodeIdentity
	// deleting holds pods the server is deleting, by UID: once the agent
	// no longer holds one, the link reports it Gone.
	deleting map[string]podRef
	// dropped are UIDs the server said it does not bind here; they are
	// not reported again while the agent tears them down.
	dropped map[string]bool
	// claimsGone are the claims of the last list whose data the agent
	// removed, reported until the server forgets them.
	claimsGone []api.ClaimRef
	// fences are the fences lifted and not yet reported (at most
	// maxPendingFences, the newest), sent with each status report until one
	// is answered.
	fences []api.Fence

	lease     *fencing.LeaseClock
	leaseKick chan struct{} // renewed, or a new term
	timings   fencing.Timings

	// syncMu orders what reaches the agent's Sync: watch answers and
	// fencing.
	syncMu sync.Mutex
	sync   func([]*corev1.Pod) // the agent's, once Watch runs
	wanted []*corev1.Pod       // the server's last list
	listed bool                // wanted came from the server
	fenced time.Time           // when the lease ran out; zero: not fenced
	stops  []api.FencedPod     // the pods fenced then
	// contact is the send time of the last call the server accepted
	// before the fence.
	contact time.Time
	// epoch rises when a fence lifts: watch answers to requests sent
	// before are stale (the server may have moved their pods since).
	epoch       uint64
	watchCancel context.CancelFunc
}

type podRef struct{ namespace, name string }

// maxPendingFences bounds the fences kept for the server while status
// reports fail: a node that flaps keeps the newest.
const maxPendingFences = 8

// claimDeleter is an agent that keeps claims (nodeagent.Agent): the link
// passes it the claims the server wants removed.
type claimDeleter interface {
	DeleteClaim(namespace, name string) error
}

var _ nodeagent.Source = (*Link)(nil)

// Connect opens the log server and registers the node, retrying with
// back-off until the server answers or ctx ends. A refused token or a
// bad request is not retried.
func Connect(ctx context.Context, cfg Config) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Link{cfg: cfg, kick: make(chan struct{}, 1), deleting: map[string]podRef{}, dropped: map[string]bool{}}
	l.hc = l.withClientCert(cfg.HTTPClient)
	c, err := client.New(cfg.Server, cfg.Token, client.WithNode(cfg.NodeName), client.WithHTTPClient(l.hc))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.LogListen)
	if err != nil {
		return nil, fmt.Errorf("log server: %w", err)
	}
	if cfg.Advertise == "" {
		cfg.Advertise = ln.Addr().String()
		if cfg.NodeIP.IsValid() {
			cfg.Advertise = net.JoinHostPort(cfg.NodeIP.String(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		}
	}
	id, err := newNodeIdentity(cfg.NodeName)
	if err != nil {
		ln.Close()
		return nil, err
	}
	l.cfg, l.join, l.node, l.logs, l.id = cfg, c, c, ln, id
	l.lease, l.leaseKick = fencing.NewLeaseClock(cfg.Clock), make(chan struct{}, 1)
	if cfg.CredentialFile != "" {
		b, err := os.ReadFile(cfg.CredentialFile)
		switch {
		case err == nil && bytes.HasPrefix(b, []byte("-----BEGIN")):
			kept, err := loadNodeIdentity(cfg.NodeName, b)
			if err != nil {
				cfg.Logger.Warn("cannot use the kept node certificate; registering with the join token", "err", err)
				break
			}
			l.id, l.certAuth, l.node = kept, true, c.WithToken("")
		case err == nil:
			l.setToken(strings.TrimSpace(string(b)), false)
		case !errors.Is(err, os.ErrNotExist):
			cfg.Logger.Warn("cannot read the node token; registering with the join token", "err", err)
		}
	}
	bo := l.newBackoff()
	for {
		err := l.register(ctx)
		if err == nil {
			return l, nil
		}
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code/100 == 4 && ae.Code != http.StatusTooManyRequests && ae.Code != http.StatusConflict {
			ln.Close()
			return nil, fmt.Errorf("register node %s: %w", cfg.NodeName, err)
		}
		cfg.Logger.Warn("cannot register with the server; retrying", "server", cfg.Server, "err", err, "in", bo.Duration)
		if err := l.sleep(ctx, &bo); err != nil {
			ln.Close()
			return nil, err
		}
	}
}

// register announces the node with its node token if it has one (the
// server keeps it), else with the join token (the server issues one).
func (l *Link) register(ctx context.Context) error {
	req := api.RegisterRequest{
		Name: l.cfg.NodeName, Labels: l.cfg.Labels, Taints: l.cfg.Taints,
		Capacity: l.cfg.Capacity, Allocatable: l.cfg.Allocatable, Address: l.cfg.Advertise,
		Build: l.cfg.Build,
	}
	l.mu.Lock()
	req.CSR = string(l.id.csr)
	had := l.nodeToken != "" || l.certAuth
	l.mu.Unlock()
	sent := l.cfg.Clock.Now()
	resp, err := l.api().Register(ctx, req)
	if err != nil && had && client.IsUnauthorized(err) {
		// The server forgot the node (an admin deleted it): join again,
		// which works only while the join token does and the name is free.
		l.cfg.Logger.Warn("the server refused this node's credential; registering with the join token", "err", err)
		l.forget()
		l.mu.Lock()
		req.CSR = string(l.id.csr)
		l.mu.Unlock()
		resp, err = l.join.Register(ctx, req)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	certErr := l.id.accept(resp)
	l.mu.Unlock()
	switch {
	case resp.NodeToken != "":
		l.setToken(resp.NodeToken, true)
		if certErr != nil {
			l.cfg.Logger.Error("cannot serve logs", "err", certErr)
		}
	case certErr == nil:
		l.useCert()
	default:
		return fmt.Errorf("register node %s: the server gave no node token and no usable certificate: %w", l.cfg.NodeName, certErr)
	}
	l.accept(resp)
	// A register is a heartbeat to the server. (Not under l.mu: fence
	// takes l.syncMu, then l.mu.)
	l.renewed(sent)
	return nil
}

// accept takes what the server said at register.
func (l *Link) accept(resp *api.RegisterResponse) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.podCIDR != "" && resp.PodCIDR != l.podCIDR {
		// The server lost its store: pods here use the old subnet.
		l.cfg.Logger.Error("the server gave this node a different pod subnet; restart the agent to use it",
			"running", l.podCIDR, "server", resp.PodCIDR)
	}
	if l.podCIDR == "" {
		l.podCIDR = resp.PodCIDR
	}
	l.clusterDNS, l.domain = resp.ClusterDNS, resp.ClusterDomain
	l.hbInterval = resp.HeartbeatInterval.Duration
	if l.hbInterval <= 0 {
		l.hbInterval = 10 * time.Second
	}
	l.cfg.Logger.Info("registered with the server", "node", l.cfg.NodeName, "podCIDR", resp.PodCIDR, "logs", l.cfg.Advertise)
	l.setLease(resp)
}

// setLease takes the server's timings of the partition rule and sets the
// node's lease from them. Called with l.mu held.
func (l *Link) setLease(resp *api.RegisterResponse) {
	t := fencing.Timings{NodeTimeout: resp.NodeTimeout.Duration, Grace: resp.FenceGrace.Duration,
		Flush: resp.HeartbeatFlush.Duration, Margin: l.cfg.FenceMargin}.WithDefaults()
	if t == l.timings {
		return
	}
	l.timings = t
	switch {
	case l.cfg.NoFence:
		l.lease.SetTerm(0)
		l.cfg.Logger.Info("fencing is off: pods keep running however long the server is unreachable")
	case t.NodeTimeout <= 0:
		l.lease.SetTerm(0)
		l.cfg.Logger.Warn("the server gives no node timeout; pods keep running however long it is unreachable")
	default:
		if err := t.Validate(); err != nil {
			l.cfg.Logger.Warn("fencing cannot keep a pod from running on two nodes at once with these timings", "err", err)
		}
		l.lease.SetTerm(t.Lease())
		l.cfg.Logger.Info("fencing: pods the server would move stop when it has been unreachable for the lease",
			"lease", t.Lease(), "killGrace", t.KillGrace(), "stoppedBy", t.StoppedBy(), "serverMovesAfter", t.MoveAfter(), "slack", t.Slack())
	}
	select {
	case l.leaseKick <- struct{}{}:
	default:
	}
}

// api is the client for the node's calls: with its node token once it has
// one.
func (l *Link) api() *client.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.node
}

// useCert switches the node's calls to its client certificate, without
// any bearer token, and keeps the identity in CredentialFile. Pooled
// connections made before the certificate are closed, so none speaks
// without it.
func (l *Link) useCert() {
	l.mu.Lock()
	was := l.certAuth
	l.certAuth, l.nodeToken, l.node = true, "", l.join.WithToken("")
	b, err := l.id.marshal()
	l.mu.Unlock()
	if !was {
		l.hc.CloseIdleConnections()
	}
	if l.cfg.CredentialFile == "" {
		return
	}
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(l.cfg.CredentialFile), 0o700); err == nil {
			err = writeFile0600(l.cfg.CredentialFile, b)
		}
	}
	if err != nil {
		l.cfg.Logger.Warn("cannot keep the node certificate; a restarted agent must join again", "err", err)
	}
}

// writeFile0600 replaces path with b, mode 0600 whatever the old file's.
func writeFile0600(path string, b []byte) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// forget drops the node's credential (token or certificate) after the
// server refused it, so the next call joins with the join token.
func (l *Link) forget() {
	// A node that joins again is a new node: a fresh key, so no
	// certificate of the deleted one ever speaks for it.
	fresh, err := newNodeIdentity(l.cfg.NodeName)
	l.mu.Lock()
	l.certAuth, l.nodeToken, l.node = false, "", l.join
	if err == nil {
		l.id = fresh
	}
	l.mu.Unlock()
	l.hc.CloseIdleConnections()
	if l.cfg.CredentialFile != "" {
		if err := os.Remove(l.cfg.CredentialFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.cfg.Logger.Warn("cannot remove the refused node credential", "err", err)
		}
	}
}

// setToken switches the node's calls to token ("" for the join token) and
// keeps it in CredentialFile when save is set.
func (l *Link) setToken(token string, save bool) {
	l.mu.Lock()
	changed := token != l.nodeToken
	l.nodeToken = token
	l.node = l.join
	if token != "" {
		l.node = l.join.WithToken(token)
	}
	l.mu.Unlock()
	if !save || !changed || l.cfg.CredentialFile == "" {
		return
	}
	var err error
	if token == "" {
		err = os.Remove(l.cfg.CredentialFile)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	} else if err = os.MkdirAll(filepath.Dir(l.cfg.CredentialFile), 0o700); err == nil {
		err = writeFile0600(l.cfg.CredentialFile, []byte(token+"\n"))
	}
	if err != nil {
		l.cfg.Logger.Warn("cannot keep the node token; a restarted agent waits for the node timeout to register", "err", err)
	}
}

// needsRegister reports whether a failed call means the server no longer
// knows the node or its token.
func needsRegister(err error) bool { return client.IsNotFound(err) || client.IsUnauthorized(err) }

// PodCIDR is the node's pod subnet (nodeagent.Config.PodSubnet).
func (l *Link) PodCIDR() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.podCIDR
}

// ClusterDNS is the cluster DNS address and domain the server gave at
// registration ("" from a server without them).
func (l *Link) ClusterDNS() (addr, domain string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clusterDNS, l.domain
}

// LogAddr is the log server's listening address.
func (l *Link) LogAddr() string { return l.logs.Addr().String() }

// Close stops the log server of a link whose Run was never called.
func (l *Link) Close() error { return l.logs.Close() }

// Run serves logs, sends heartbeats and status reports, and runs the
// agent fed by this link, until ctx ends.
func (l *Link) Run(ctx context.Context, a Agent) error {
	l.mu.Lock()
	l.agent = a
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer metrics.AgentLease(l.cfg.NodeName, l.lease.Remaining)()
	// Requests live in ctx, so open follows end with the link instead of
	// holding Shutdown up.
	srv := &http.Server{Handler: l.logHandler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); l.fenceLoop(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(tls.NewListener(l.logs, l.logTLS())); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.cfg.Logger.Error("log server", "err", err)
		}
	}()
	go func() { defer wg.Done(); l.heartbeats(ctx) }()
	go func() { defer wg.Done(); l.reportStatus(ctx, a) }()
	err := a.Run(ctx, l)
	cancel()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutdown)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Watch implements nodeagent.Source: the agent gets the pods bound to the
// node that are not being deleted; it tears down everything else.
func (l *Link) Watch(ctx context.Context, sync func([]*corev1.Pod)) error {
	var rv uint64
	synced := false
	bo := l.newBackoff()
	failing := false
	l.syncMu.Lock()
	l.sync = sync
	l.syncMu.Unlock()
	for {
		l.syncMu.Lock()
		epoch := l.epoch
		wctx, cancel := context.WithCancel(ctx)
		l.watchCancel = cancel
		l.syncMu.Unlock()
		list, err := l.api().WatchPods(wctx, rv, l.cfg.WatchWait)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if l.staleEpoch(epoch) {
			// A fence lifted meanwhile: ask for the full list now.
			rv, synced = 0, false
			continue
		}
		if err != nil {
			if needsRegister(err) {
				_ = l.register(ctx)
			}
			if !failing {
				l.cfg.Logger.Warn("watch of this node's pods failed; pods keep running as they are for the node's lease", "err", err)
				failing = true
			}
			if err := l.sleep(ctx, &bo); err != nil {
				return err
			}
			continue
		}
		if failing {
			l.cfg.Logger.Info("watching this node's pods again")
			failing = false
		}
		bo = l.newBackoff()
		if synced && list.ResourceVersion == rv {
			if len(list.DeleteClaims) > 0 { // one that failed is tried again
				l.deleteClaims(list.DeleteClaims)
				l.poke()
			}
			continue
		}
		rv, synced = list.ResourceVersion, true
		wanted := make([]*corev1.Pod, 0, len(list.Items))
		deleting := map[string]podRef{}
		for i := range list.Items {
			p := &list.Items[i]
			if p.DeletionTimestamp != nil {
				deleting[string(p.UID)] = podRef{p.Namespace, p.Name}
				continue
			}
			wanted = append(wanted, p)
		}
		l.mu.Lock()
		l.deleting = deleting
		l.mu.Unlock()
		// Data first: the pods that Sync starts resolve their env and
		// volumes from it (Sync wakes every worker, so volumes of running
		// pods follow a changed ConfigMap too).
		if l.cfg.Configs != nil {
			l.cfg.Configs.Replace(list.Configs)
		}
		if !l.apply(wanted, epoch) {
			rv, synced = 0, false
			continue
		}
		l.deleteClaims(list.DeleteClaims)
		l.poke()
	}
}

// deleteClaims removes the data of the claims the server lists for
// deletion (after Sync, so a pod that stopped using one is gone from the
// agent's wanted set) and remembers which are gone, for the status report.
func (l *Link) deleteClaims(refs []api.ClaimRef) {
	l.mu.Lock()
	a := l.agent
	l.mu.Unlock()
	cd, ok := a.(claimDeleter)
	var gone []api.ClaimRef
	for _, ref := range refs {
		if !ok {
			break
		}
		if err := cd.DeleteClaim(ref.Namespace, ref.Name); err != nil {
			l.cfg.Logger.Warn("claim data not removed yet", "claim", ref.Namespace+"/"+ref.Name, "err", err)
			continue
		}
		l.cfg.Logger.Info("removed claim data", "claim", ref.Namespace+"/"+ref.Name)
		gone = append(gone, ref)
	}
	l.mu.Lock()
	l.claimsGone = gone
	l.mu.Unlock()
}

// staleEpoch reports whether a fence lifted since epoch was read.
func (l *Link) staleEpoch(epoch uint64) bool {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.epoch != epoch
}

// apply hands the server's list to the agent, less the fenced pods while
// the node is fenced. It refuses (false) a list asked for before a fence
// lifted: the server may have moved its pods since.
func (l *Link) apply(wanted []*corev1.Pod, epoch uint64) bool {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if epoch != l.epoch {
		return false
	}
	l.wanted, l.listed = wanted, true
	if !l.fenced.IsZero() {
		wanted, _ = fenceable(wanted, l.finished())
	}
	l.sync(wanted)
	return true
}

// fenceable splits pods into those kept through a partition and those
// fenced. Kept: DaemonSet pods and pods with a claim (the server never
// moves them: a claim's data is on this node, so no copy can start
// elsewhere, as Kubernetes leaves a StatefulSet's pod on an unreachable
// node), and finished pods, by UID (nothing of theirs runs, and the
// server keeps them bound, so stopping them would only lose a Job's
// succeeded pods and their logs).
func fenceable(pods []*corev1.Pod, finished map[string]bool) (kept, fenced []*corev1.Pod) {
	for _, p := range pods {
		if p.Labels[api.LabelOwnerKind] == "DaemonSet" || usesClaim(p) || finished[string(p.UID)] {
			kept = append(kept, p)
		} else {
			fenced = append(fenced, p)
		}
	}
	return kept, fenced
}

// usesClaim: the pod mounts a PersistentVolumeClaim, which pins it to the
// node that holds the claim's data.
func usesClaim(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return true
		}
	}
	return false
}

// finished are the UIDs of the pods the agent holds that have ended
// (Succeeded or Failed): their containers have all exited.
func (l *Link) finished() map[string]bool {
	l.mu.Lock()
	a := l.agent
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	out := map[string]bool{}
	for _, p := range a.Status() {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			out[string(p.UID)] = true
		}
	}
	return out
}

// renewed renews the lease with a call the server accepted, sent at
// sent, and lifts a fence: the watch asks for a fresh list, which brings
// back the pods the server still binds here.
func (l *Link) renewed(sent time.Time) {
	l.lease.Renew(sent)
	if r := l.lease.Renewed(); !r.IsZero() {
		metrics.AgentServerContact.WithLabelValues(l.cfg.NodeName).Set(float64(r.UnixNano()) / 1e9)
	}
	select {
	case l.leaseKick <- struct{}{}:
	default:
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.fenced.IsZero() {
		return
	}
	if left, _ := l.lease.Remaining(); left <= 0 {
		return // a call sent long ago that got through: wait for a fresh one
	}
	l.mu.Lock()
	lease := l.timings.Lease()
	l.mu.Unlock()
	f := api.Fence{ID: fenceID(), At: l.fenced.UTC(), Unreachable: api.Duration{Duration: sent.Sub(l.contact)},
		Lease: api.Duration{Duration: lease}, Pods: l.stops}
	l.queueFence(f)
	l.cfg.Logger.Warn("the server answers again after this node fenced its pods; those it still binds here start again",
		"fencedFor", l.cfg.Clock.Since(l.fenced), "unreachable", f.Unreachable.Duration, "pods", len(l.stops))
	l.fenced, l.stops, l.contact = time.Time{}, nil, time.Time{}
	l.poke() // the fence reaches the server with the next report
	l.epoch++
	if l.watchCancel != nil {
		l.watchCancel()
	}
}

// fenceLoop fences the node's pods when its lease runs out.
func (l *Link) fenceLoop(ctx context.Context) {
	for {
		var expiry <-chan time.Time
		if left, held := l.lease.Remaining(); held && left <= 0 {
			l.fence()
		} else if held {
			expiry = l.cfg.Clock.After(left)
		}
		select {
		case <-ctx.Done():
			return
		case <-expiry:
		case <-l.leaseKick:
		}
	}
}

// fence stops every pod the server would move, each within the rule's
// kill grace, and keeps them stopped until the lease is renewed. Without
// a list from the server yet, it stops every pod the agent holds.
func (l *Link) fence() {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if !l.fenced.IsZero() || l.sync == nil {
		return
	}
	if left, held := l.lease.Remaining(); !held || left > 0 {
		return // renewed since the loop looked
	}
	l.fenced, l.contact = l.cfg.Clock.Now(), l.lease.Renewed()
	l.mu.Lock()
	t := l.timings
	a := l.agent
	l.mu.Unlock()
	kept, fenced := fenceable(l.wanted, l.finished())
	names := make([]string, 0, len(fenced))
	l.stops = nil
	if !l.listed && a != nil {
		// Without a list, every pod the agent holds stops.
		for _, p := range a.Status() {
			l.stops = append(l.stops, api.FencedPod{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)})
		}
	}
	capped := append([]*corev1.Pod{}, kept...)
	grace := int64(t.KillGrace() / time.Second)
	for _, p := range fenced {
		names = append(names, p.Namespace+"/"+p.Name)
		l.stops = append(l.stops, api.FencedPod{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)})
		if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g > grace {
			p = p.DeepCopy()
			p.Spec.TerminationGracePeriodSeconds = &grace
		}
		capped = append(capped, p)
	}
	node := l.cfg.NodeName
	metrics.AgentFences.WithLabelValues(node).Inc()
	metrics.AgentFencedPods.WithLabelValues(node).Add(float64(len(l.stops)))
	l.cfg.Logger.Warn("the server has been unreachable for the node's lease: stopping the pods it will move",
		"lease", t.Lease(), "killGrace", t.KillGrace(), "pods", names, "listed", l.listed)
	// First the shorter grace, then the stop: the agent's workers stop a
	// pod with the grace of the last spec they were given.
	l.sync(capped)
	l.sync(kept)
}

// poke asks for a status report soon, without waiting for the next poll.
func (l *Link) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// heartbeat sends one heartbeat and gives up on it after timeout, on the
// link's clock. A heartbeat stuck on a connection that lost packets (a
// partition that healed: TCP retransmits on its own back-off, seconds
// apart) must not hold back the next one, or the lease runs out after the
// partition has healed: chaos seed 659900 fenced a node twice after a 3 s
// partition, under a 4.5 s lease. The call abandoned closes its
// connection (the agent speaks HTTP/1.1), so the next dials afresh. It
// reports whether it gave up.
func (l *Link) heartbeat(ctx context.Context, timeout time.Duration) (gaveUp bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := l.cfg.Clock.NewTimer(timeout)
	defer t.Stop()
	go func() {
		select {
		case <-t.C():
			cancel(errHeartbeatGivenUp)
		case <-ctx.Done():
		}
	}()
	err = l.api().Heartbeat(ctx, api.HeartbeatRequest{})
	return err != nil && errors.Is(context.Cause(ctx), errHeartbeatGivenUp), err
}

var errHeartbeatGivenUp = errors.New("heartbeat unanswered for an interval")

func (l *Link) heartbeats(ctx context.Context) {
	failing, wait := false, true
	for {
		l.mu.Lock()
		interval := l.hbInterval
		l.mu.Unlock()
		if wait {
			select {
			case <-ctx.Done():
				return
			case <-l.cfg.Clock.After(interval):
			}
		}
		sent := l.cfg.Clock.Now()
		// One given up on is followed at once by the next, on a new
		// connection: at most one a second while the server is away.
		gaveUp, err := l.heartbeat(ctx, max(interval, time.Second))
		wait = !gaveUp
		if err == nil {
			l.renewed(sent)
		}
		if needsRegister(err) || err == nil && l.certDue() {
			// Re-registering with the node token also renews the node's
			// certificate from a fresh CSR.
			err = l.register(ctx)
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			l.cfg.Logger.Warn("heartbeat failed; retrying every interval", "err", err)
			failing = true
		case err == nil && failing:
			l.cfg.Logger.Info("heartbeats reach the server again")
			failing = false
		}
	}
}

// statusReport builds what to send from what the agent holds: each pod's
// status, and Gone for pods being deleted that the agent no longer holds.
func (l *Link) statusReport(pods []corev1.Pod) api.PodStatusReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := map[string]bool{}
	rep := api.PodStatusReport{Pods: []api.PodStatus{}}
	for _, p := range pods {
		uid := string(p.UID)
		held[uid] = true
		if l.dropped[uid] || p.Status.Phase == "" {
			// An empty phase: the agent is still adopting the pod after a
			// restart and does not know its status yet; held, not reported.
			continue
		}
		rep.Pods = append(rep.Pods, api.PodStatus{Namespace: p.Namespace, Name: p.Name, UID: uid, Status: p.Status})
	}
	for uid := range l.dropped {
		if !held[uid] {
			delete(l.dropped, uid)
		}
	}
	for uid, ref := range l.deleting {
		if !held[uid] {
			rep.Pods = append(rep.Pods, api.PodStatus{Namespace: ref.namespace, Name: ref.name, UID: uid, Gone: true})
		}
	}
	rep.ClaimsDeleted = l.claimsGone
	rep.Fences = append([]api.Fence(nil), l.fences...)
	return rep
}

// fenceID names a fence for the server, which records each name once.
func fenceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// queueFence keeps a lifted fence for the next status reports, and only
// the newest maxPendingFences.
func (l *Link) queueFence(f api.Fence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fences = append(l.fences, f)
	if n := len(l.fences) - maxPendingFences; n > 0 {
		l.fences = slices.Delete(l.fences, 0, n)
	}
}

// reported forgets the fences a report the server answered carried.
func (l *Link) reported(sent []api.Fence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fences = slices.DeleteFunc(l.fences, func(f api.Fence) bool {
		return slices.ContainsFunc(sent, func(s api.Fence) bool { return s.At.Equal(f.At) })
	})
}

func (l *Link) reportStatus(ctx context.Context, a Agent) {
	t := l.cfg.Clock.NewTicker(l.cfg.StatusPoll)
	defer t.Stop()
	var lastHash [32]byte
	var lastSent, retryAt time.Time
	bo := l.newBackoff()
	failing := false
	var pending []api.Event // taken from the agent, not yet sent
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-l.kick:
		}
		now := l.cfg.Clock.Now()
		if now.Before(retryAt) {
			continue
		}
		if et, ok := a.(eventTaker); ok {
			pending = append(pending, et.TakeEvents()...)
			if n := len(pending); n > maxPendingEvents {
				pending = append(pending[:0], pending[n-maxPendingEvents:]...)
			}
		}
		rep := l.statusReport(a.Status())
		rep.Events = pending
		b, _ := json.Marshal(rep)
		h := sha256.Sum256(b)
		if h == lastHash && now.Sub(lastSent) < l.cfg.StatusResend {
			continue
		}
		resp, err := l.api().ReportStatus(ctx, rep)
		if needsRegister(err) {
			if err = l.register(ctx); err == nil {
				resp, err = l.api().ReportStatus(ctx, rep)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				l.cfg.Logger.Warn("status report failed; retrying", "err", err)
				failing = true
			}
			retryAt = now.Add(bo.Step())
			continue
		}
		failing = false
		bo = l.newBackoff()
		retryAt = time.Time{}
		lastHash, lastSent = h, now
		pending = nil
		l.reported(rep.Fences)
		l.mu.Lock()
		for _, uid := range resp.Drop {
			if _, ok := l.deleting[uid]; ok {
				delete(l.deleting, uid) // Gone acknowledged
				continue
			}
			l.dropped[uid] = true
		}
		l.mu.Unlock()
	}
}

// newBackoff is the link's back-off between failed calls: MinBackoff
// doubling to MaxBackoff (apimachinery's wait.Backoff, the one back-off
// berth uses everywhere). Reset it by assigning a new one.
func (l *Link) newBackoff() wait.Backoff {
	return wait.Backoff{Duration: l.cfg.MinBackoff, Factor: 2, Cap: l.cfg.MaxBackoff, Steps: math.MaxInt32}
}

// sleep waits the back-off's next step on the link's clock.
func (l *Link) sleep(ctx context.Context, bo *wait.Backoff) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-l.cfg.Clock.After(bo.Step()):
		return nil
	}
}

// RunAgent is a whole node joined to a server: it registers (retrying
// until the server answers), starts a nodeagent.Agent on the pod subnet
// the server gave, and runs it fed by the link until ctx ends. The
// agent's NodeName defaults to link.NodeName and the other way round;
// link.LogDir defaults to the agent's LogDir. Pods keep running when it
// returns.
func RunAgent(ctx context.Context, link Config, agent nodeagent.Config) error {
	if link.Configs == nil {
		link.Configs = nodeagent.NewConfigStore()
	}
	agent.Configs = link.Configs
	if err := agent.Validate(); err != nil { // fills NodeName and LogDir
		return err
	}
	if link.NodeName == "" {
		link.NodeName = agent.NodeName
	}
	agent.NodeName = link.NodeName
	if link.LogDir == "" {
		link.LogDir = agent.LogDir
	}
	if link.CredentialFile == "" {
		link.CredentialFile = filepath.Join(agent.RunDir, "node-token")
	}
	if link.Logger == nil {
		link.Logger = agent.Logger
	}
	l, err := Connect(ctx, link)
	if err != nil {
		return err
	}
	agent.PodSubnet = l.PodCIDR()
	if link.Network != nil {
		// The node serves cluster DNS only with the pod network on; pods
		// of other nodes keep the host's resolvers.
		agent.ClusterDNS, agent.ClusterDomain = l.ClusterDNS()
		agent.PodNetwork = true
	}
	a, err := nodeagent.New(ctx, agent)
	if err != nil {
		l.Close()
		return fmt.Errorf("start agent on pod subnet %s: %w", agent.PodSubnet, err)
	}
	defer a.Close()
	var network *clusternet.Applier
	if link.Network != nil {
		nctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// The rules, routes and DNS stay when the agent stops, as its pods
		// do: a restarted agent takes them over.
		if network, err = startNetwork(nctx, l, link.Network); err != nil {
			l.Close()
			return err
		}
	}
	err = l.Run(ctx, a)
	if link.DrainOnExit {
		link.Logger.Info("draining: stopping every pod of this node")
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := a.Drain(dctx); derr != nil {
			link.Logger.Error("drain", "err", derr)
		}
		// With its pods gone, the node leaves the cluster network too.
		if network != nil {
			if cerr := network.Close(dctx); cerr != nil {
				link.Logger.Error("drain: remove the cluster network", "err", cerr)
			}
		}
	}
	return err
}
