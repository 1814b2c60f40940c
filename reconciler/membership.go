package reconciler

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/fencing"
	"github.com/berth-dev/berth/pki"
)

// MembershipConfig configures node membership. Zero fields take the
// defaults named.
type MembershipConfig struct {
	// Store holds the node records.
	Store Store
	// ClusterCIDR is where the /24 pod subnet of each node comes from
	// (default 198.18.0.0/16). It must lie in 198.18.0.0/15, the range the
	// agents accept, and be at least a /24.
	ClusterCIDR string
	// NodeTimeout is how old a heartbeat may be before a node still marked
	// Ready is shown as Unknown (default 40s).
	NodeTimeout time.Duration
	// HeartbeatInterval is how often agents are told to send heartbeats
	// (default 10s, or a quarter of NodeTimeout if that is shorter).
	HeartbeatInterval time.Duration
	// HeartbeatFlush is how often heartbeats, kept in memory, are written
	// to the store in one transaction for all nodes (default 5s, or an
	// eighth of NodeTimeout if that is shorter). Run does the writing; a
	// store heartbeat is thus at most HeartbeatInterval+HeartbeatFlush
	// old for a live node, well inside NodeTimeout.
	HeartbeatFlush time.Duration
	// FenceGrace is told to agents with NodeTimeout: the loop's
	// Config.FenceGrace (default fencing.DefaultGrace).
	FenceGrace time.Duration
	// CA signs the nodes' CSRs at register (nil: no node certificates,
	// and the log proxy has nothing to reach agents with).
	CA *pki.CA
	// CertOnly makes the node certificate the node's only credential
	// (the API is served over TLS): register needs a CSR, no node token is
	// issued, and a node token left from before is cleared once the node
	// holds a certificate. Without it (plain HTTP on loopback) register
	// issues node tokens as before.
	CertOnly bool
	// ClusterDNS and ClusterDomain are told to registering agents, for
	// their pods' resolv.conf (empty: none, pods use the node's resolvers).
	ClusterDNS, ClusterDomain string
	// Clock drives timestamps and the flush (default: real).
	Clock clock.WithTicker
	// Logger receives membership's logs (default slog.Default()).
	Logger *slog.Logger
}

// Pod subnets are /24s of the benchmarking range, the only one the agents
// accept.
var allowedClusterNet = &net.IPNet{IP: net.IPv4(198, 18, 0, 0).To4(), Mask: net.CIDRMask(15, 32)}

func (c *MembershipConfig) validate() (*net.IPNet, error) {
	if c.Store == nil {
		return nil, errors.New("membership: no store")
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "198.18.0.0/16"
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	dur(&c.NodeTimeout, 40*time.Second)
	// A node must get several heartbeats into the store within the
	// timeout, however short a test or a user makes it.
	dur(&c.HeartbeatInterval, min(10*time.Second, c.NodeTimeout/4))
	dur(&c.HeartbeatFlush, min(5*time.Second, c.NodeTimeout/8))
	dur(&c.FenceGrace, fencing.DefaultGrace(c.NodeTimeout))
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	ip, cidr, err := net.ParseCIDR(c.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR: %w", err)
	}
	ones, bits := cidr.Mask.Size()
	if ip.To4() == nil || bits != 32 || ones > 24 || ones < 15 || !allowedClusterNet.Contains(cidr.IP) {
		return nil, fmt.Errorf("cluster CIDR %s: must be an IPv4 /15 to /24 within %s", c.ClusterCIDR, allowedClusterNet)
	}
	return cidr, nil
}

// Membership is who the nodes are: registration with its pod subnet and
// node credential, heartbeats (kept in memory and written in batches), and
// the Node objects users read. The HTTP API calls it; the loop reads the
// node records it writes.
type Membership struct {
	cfg     MembershipConfig
	cluster *net.IPNet

	hbMu    sync.Mutex
	pending map[string]time.Time // heartbeats not yet in the store
	// seen is the newest heartbeat received per node, as read from the
	// clock (with its monotonic reading: never rounded, never UTC()'d):
	// liveness is measured from it, not from the stored wall times.
	seen    map[string]time.Time
	started time.Time // this process's first reading, for nodes not yet seen

	creds credentialIndex
}

// NewMembership returns node membership over cfg.Store. Call Run to
// persist heartbeats.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	cidr, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m := &Membership{cfg: cfg, cluster: cidr, pending: map[string]time.Time{}, seen: map[string]time.Time{}, started: cfg.Clock.Now()}
	if err := m.creds.load(cfg.Store); err != nil {
		return nil, err
	}
	return m, nil
}

// Run writes the heartbeats kept in memory to the store every
// HeartbeatFlush until ctx ends, then once more.
func (m *Membership) Run(ctx context.Context) error {
	t := m.cfg.Clock.NewTicker(m.cfg.HeartbeatFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return m.FlushHeartbeats()
		case <-t.C():
			if err := m.FlushHeartbeats(); err != nil {
				m.cfg.Logger.Error("persist heartbeats", "err", err)
			}
		}
	}
}

// LastHeartbeat returns the newest heartbeat of a node seen here, which
// may be newer than the store's by up to HeartbeatFlush.
func (m *Membership) LastHeartbeat(node string) (time.Time, bool) {
	m.hbMu.Lock()
	defer m.hbMu.Unlock()
	t, ok := m.seen[node]
	return t, ok
}

// FlushHeartbeats writes pending heartbeats in one transaction. A
// heartbeat is not a scheduling fact, so it does not raise a node's
// Generation and cannot refuse a plan.
func (m *Membership) FlushHeartbeats() error {
	m.hbMu.Lock()
	pending := m.pending
	m.pending = map[string]time.Time{}
	m.hbMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return m.cfg.Store.Update(func(tx Tx) error {
		for name, t := range pending {
			n, err := tx.Node(name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			// The newest received, even when the stored one is later on
			// the wall clock: after a backward jump of the clock the
			// stored time lies in the future, and a store that kept it
			// would show (and, read without this process's receipts,
			// mean) no heartbeat at all until the clock caught up.
			if !t.Equal(n.LastHeartbeat) {
				n.LastHeartbeat = t
				if err := tx.PutNode(n); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Authenticate reports whether token is the credential register issued to
// node.
func (m *Membership) Authenticate(node, token string) (bool, error) {
	return m.nodeHolds(node, func(n *NodeRecord) (string, string) { return n.CredentialHash, credentialHash(token) })
}

// nodeHolds reports whether node is registered and the credential hash
// field picks from its record is set and equals the presented one,
// compared in constant time.
func (m *Membership) nodeHolds(node string, field func(*NodeRecord) (stored, presented string)) (bool, error) {
	var rec *NodeRecord
	err := m.cfg.Store.View(func(tx ReadTx) (err error) { rec, err = tx.Node(node); return err })
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	stored, presented := field(rec)
	return stored != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(stored)) == 1, nil
}

// IsNodeToken reports whether token is some node's credential; the API
// asks it only to choose between 401 and 403 for a refused request. It is
// one hash and one map lookup, whatever the number of nodes, so a wrong
// token costs what a right one does.
func (m *Membership) IsNodeToken(token string) bool {
	_, ok := m.creds.node(credentialHash(token))
	return ok
}

var errNodeAlive = errors.New("name taken")

var errSubnetsExhausted = errors.New("no free /24 left in the cluster CIDR")

// Register records the node named in req. self says the caller proved
// it is that node (its certificate, or ownToken, its node token); else it
// came with a join token, and a new name only is registered: an existing
// node, Ready or not, cannot be taken over. A node token is issued at join
// unless CertOnly; a certificate is signed from req.CSR when there is a
// CA, and its key becomes the node's. Refusals are *api.Error (400 for a
// bad request, 409 for a taken name or no free subnet).
func (m *Membership) Register(req *api.RegisterRequest, self bool, ownToken string) (*api.RegisterResponse, error) {
	if msg := validateRegister(req); msg != "" {
		return nil, &api.Error{Code: http.StatusBadRequest, Reason: "BadRequest", Message: msg}
	}
	if m.cfg.CertOnly && (req.CSR == "" || m.cfg.CA == nil) {
		return nil, &api.Error{Code: http.StatusBadRequest, Reason: "BadRequest",
			Message: "this server authenticates nodes by client certificate: the register request needs a CSR"}
	}
	var certPEM []byte
	keyHash := ""
	if req.CSR != "" && m.cfg.CA != nil {
		host, _, _ := net.SplitHostPort(req.Address)
		var err error
		if certPEM, err = m.cfg.CA.SignNodeCSR([]byte(req.CSR), req.Name, host); err != nil {
			return nil, &api.Error{Code: http.StatusBadRequest, Reason: "BadRequest", Message: err.Error()}
		}
		leaf, err := pki.ParseCertPEM(certPEM)
		if err != nil {
			return nil, fmt.Errorf("register node %s: %w", req.Name, err)
		}
		keyHash = pki.Hash(leaf)
	}
	received := m.cfg.Clock.Now()
	now := received.UTC()
	token := ownToken
	if !self && !m.cfg.CertOnly {
		var err error
		if token, err = newToken(); err != nil {
			return nil, err
		}
	}
	var cidr, credHash string
	err := m.cfg.Store.Update(func(tx Tx) error {
		n, err := tx.Node(req.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			nodes, err := tx.Nodes()
			if err != nil {
				return err
			}
			if cidr, err = m.allocateSubnet(nodes); err != nil {
				return err
			}
			n = &NodeRecord{Name: req.Name, PodCIDR: cidr, Registered: now}
		case err != nil:
			return err
		case !self:
			// The join token is shared by every agent and only bootstraps:
			// it registers new names. A node keeps its name (and subnet)
			// while NotReady; taking it back is an admin act.
			return fmt.Errorf("%w: node %q is already registered; its agent re-registers with its own credential, "+
				"and `berth node delete %s` frees the name for a new agent", errNodeAlive, n.Name, n.Name)
		default:
			// Stable across re-registers: pods keep their addresses.
			cidr = n.PodCIDR
		}
		switch {
		case m.cfg.CertOnly:
			n.CredentialHash = ""
		case token != "":
			n.CredentialHash = credentialHash(token)
		}
		if keyHash != "" {
			n.CertKeyHash = keyHash
		}
		credHash = n.CredentialHash
		wasReady := n.Ready
		n.Labels, n.Taints = req.Labels, req.Taints
		n.Capacity, n.Allocatable, n.Address = req.Capacity, req.Allocatable, req.Address
		n.Build = req.Build
		n.LastHeartbeat, n.Ready = now, true
		if err := tx.PutNode(n); err != nil {
			return err
		}
		if !wasReady {
			return tx.AddEvent(api.Event{Time: now, Type: "Normal", Reason: "RegisteredNode", Kind: "Node", Name: n.Name,
				Message: fmt.Sprintf("Node %s registered with pod CIDR %s", n.Name, n.PodCIDR)})
		}
		return nil
	})
	if errors.Is(err, errSubnetsExhausted) || errors.Is(err, errNodeAlive) {
		return nil, &api.Error{Code: http.StatusConflict, Reason: "Conflict", Message: err.Error()}
	}
	if err != nil {
		return nil, fmt.Errorf("register node %s: %w", req.Name, err)
	}
	m.creds.set(req.Name, credHash)
	m.hbMu.Lock()
	m.seen[req.Name] = received
	delete(m.pending, req.Name)
	m.hbMu.Unlock()
	m.cfg.Logger.Info("node registered", "node", req.Name, "podCIDR", cidr, "address", req.Address, "version", req.Build.Version)
	resp := &api.RegisterResponse{PodCIDR: cidr, HeartbeatInterval: api.Duration{Duration: m.cfg.HeartbeatInterval},
		ClusterDNS: m.cfg.ClusterDNS, ClusterDomain: m.cfg.ClusterDomain,
		NodeTimeout: api.Duration{Duration: m.cfg.NodeTimeout}, FenceGrace: api.Duration{Duration: m.cfg.FenceGrace},
		HeartbeatFlush: api.Duration{Duration: m.cfg.HeartbeatFlush}}
	if !m.cfg.CertOnly {
		resp.NodeToken = token
	}
	if certPEM != nil {
		resp.Certificate, resp.CA = string(certPEM), string(m.cfg.CA.CertPEM)
	}
	return resp, nil
}

// AuthenticateCert reports whether a client certificate for the key
// pinned by keyHash speaks for node: the node is registered and its
// current certificate was issued for that key. A deleted node's
// certificate, or one for a key the node no longer uses, is refused.
func (m *Membership) AuthenticateCert(node, keyHash string) (bool, error) {
	return m.nodeHolds(node, func(n *NodeRecord) (string, string) { return n.CertKeyHash, keyHash })
}

// newestHeartbeat is the last heartbeat received, which the store holds
// only after the next flush, or else the stored one. Newest by arrival,
// not by wall time, which a clock jump can turn around.
func (m *Membership) newestHeartbeat(n *NodeRecord) time.Time {
	if t, ok := m.LastHeartbeat(n.Name); ok {
		return t
	}
	return n.LastHeartbeat
}

// allocateSubnet returns the lowest /24 of the cluster CIDR no node holds.
// It runs inside the Update that stores the node, so two registers cannot
// take the same subnet.
func (m *Membership) allocateSubnet(nodes []*NodeRecord) (string, error) {
	used := map[string]bool{}
	for _, n := range nodes {
		used[n.PodCIDR] = true
	}
	ones, _ := m.cluster.Mask.Size()
	base := binary.BigEndian.Uint32(m.cluster.IP.To4())
	for i := uint32(0); i < 1<<(24-ones); i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i<<8)
		cidr := (&net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}).String()
		if !used[cidr] {
			return cidr, nil
		}
	}
	return "", fmt.Errorf("%w %s (%d nodes): `berth node delete NAME` frees the subnet of a node that is gone", errSubnetsExhausted, m.cluster, len(nodes))
}

// Heartbeat notes that the node's agent is alive. The time is kept in
// memory for Run to write, except when the node was NotReady: coming back
// is a scheduling fact, written at once. A node not registered is a 404
// *api.Error.
func (m *Membership) Heartbeat(node string) error {
	var n *NodeRecord
	err := m.cfg.Store.View(func(tx ReadTx) (err error) { n, err = tx.Node(node); return err })
	if errors.Is(err, ErrNotFound) {
		return &api.Error{Code: http.StatusNotFound, Reason: "NotFound", Message: fmt.Sprintf("node %q is not registered; register first", node)}
	}
	if err != nil {
		return err
	}
	received := m.cfg.Clock.Now()
	now := received.UTC()
	if !n.Ready {
		err := m.cfg.Store.Update(func(tx Tx) error {
			n, err := tx.Node(node)
			if err != nil {
				return err
			}
			n.Ready, n.LastHeartbeat = true, now
			if err := tx.PutNode(n); err != nil {
				return err
			}
			return tx.AddEvent(api.Event{Time: now, Type: "Normal", Reason: "NodeReady", Kind: "Node", Name: n.Name,
				Message: fmt.Sprintf("Node %s status is now: NodeReady", n.Name)})
		})
		if err != nil {
			return fmt.Errorf("heartbeat of %s: %w", node, err)
		}
		m.cfg.Logger.Info("node ready again", "node", node)
	}
	m.hbMu.Lock()
	m.seen[node] = received
	if n.Ready {
		m.pending[node] = now
	}
	m.hbMu.Unlock()
	return nil
}

// Nodes returns every node as kubectl expects a Node.
func (m *Membership) Nodes() ([]corev1.Node, error) {
	var recs []*NodeRecord
	if err := m.cfg.Store.View(func(tx ReadTx) (err error) { recs, err = tx.Nodes(); return err }); err != nil {
		return nil, err
	}
	now := m.cfg.Clock.Now()
	out := make([]corev1.Node, 0, len(recs))
	for _, n := range recs {
		out = append(out, m.nodeForUser(n, now))
	}
	return out, nil
}

// Node returns one node as a Node, or a 404 *api.Error.
func (m *Membership) Node(name string) (*corev1.Node, error) {
	var rec *NodeRecord
	err := m.cfg.Store.View(func(tx ReadTx) (err error) { rec, err = tx.Node(name); return err })
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("node", "", name)
	}
	if err != nil {
		return nil, err
	}
	n := m.nodeForUser(rec, m.cfg.Clock.Now())
	return &n, nil
}

// nodeForUser shows a node record as kubectl expects a Node.
func (m *Membership) nodeForUser(n *NodeRecord, now time.Time) corev1.Node {
	hb := m.newestHeartbeat(n)
	ready := corev1.NodeCondition{Type: corev1.NodeReady, LastHeartbeatTime: metav1.NewTime(hb)}
	// The age is read on this process's clock, as the loop reads it
	// (nodes.go): from the last heartbeat received, or from this
	// process's start, never from the stored wall time.
	since, ok := m.LastHeartbeat(n.Name)
	if !ok {
		since = m.started
	}
	switch age := now.Sub(since); {
	case !n.Ready:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "NodeNotReady", "the agent stopped sending heartbeats"
	case age > m.cfg.NodeTimeout:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "no heartbeat for "+age.Round(time.Second).String()
	default:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionTrue, "AgentReady", "berth agent is posting ready status"
	}
	node := corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: metav1.NewTime(n.Registered), Generation: int64(n.Generation)},
		Spec:       corev1.NodeSpec{PodCIDR: n.PodCIDR, PodCIDRs: []string{n.PodCIDR}, Unschedulable: n.Unschedulable, Taints: n.Taints},
		Status: corev1.NodeStatus{
			Capacity:    n.Capacity,
			Allocatable: n.Allocatable,
			Conditions:  []corev1.NodeCondition{ready},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: n.Build.Version},
		},
	}
	if host, _, err := net.SplitHostPort(n.Address); err == nil {
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
	}
	return node
}

// notFound is the 404 the API answers for a missing object.
func notFound(kind, ns, name string) error {
	what := name
	if ns != "" {
		what = ns + "/" + name
	}
	return &api.Error{Code: http.StatusNotFound, Reason: "NotFound", Message: fmt.Sprintf("%s %q not found", kind, what)}
}

// Delete removes a node: its record, its credential and, with the
// record, its pod subnet and the address its certificate was issued for
// (the log proxy reaches no node that is not registered). Its pods are
// moved by the loop as pods of a lost node. A node not registered is a
// 404 *api.Error.
func (m *Membership) Delete(name string) error {
	err := m.cfg.Store.Update(func(tx Tx) error {
		if _, err := tx.Node(name); err != nil {
			return err
		}
		if err := tx.DeleteNode(name); err != nil {
			return err
		}
		return tx.AddEvent(api.Event{Time: m.cfg.Clock.Now().UTC(), Type: "Normal", Reason: "RemovingNode", Kind: "Node", Name: name,
			Message: fmt.Sprintf("Node %s deleted by the admin", name)})
	})
	if errors.Is(err, ErrNotFound) {
		return notFound("node", "", name)
	}
	if err != nil {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	m.creds.set(name, "")
	m.hbMu.Lock()
	delete(m.seen, name)
	delete(m.pending, name)
	m.hbMu.Unlock()
	m.cfg.Logger.Info("node deleted", "node", name)
	return nil
}
