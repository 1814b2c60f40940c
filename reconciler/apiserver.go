package reconciler

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
)

// APIConfig configures the HTTP API. Zero fields take the defaults named.
type APIConfig struct {
	// Store holds the records the API reads and the agents' reports go to.
	Store Store
	// Objects returns the applied Git objects; Deployments, Jobs and
	// CronJobs take their spec from them. Nil means none.
	Objects func() []manifest.Object
	// Tokens are the two powers' bearer tokens (see EnsureTokens).
	Tokens Tokens
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
	// WatchTimeout is the longest a pod watch waits for a change
	// (default 30s).
	WatchTimeout time.Duration
	// MaxBodyBytes bounds request bodies (default 4 MiB).
	MaxBodyBytes int64
	// LogTransport carries log requests to the agents (default
	// http.DefaultTransport).
	LogTransport http.RoundTripper
	// Clock drives timeouts and timestamps (default: real).
	Clock clock.WithTicker
	// Logger receives the API's logs (default slog.Default()).
	Logger *slog.Logger
}

// Pod subnets are /24s of the benchmarking range, the only one the agents
// accept.
var allowedClusterNet = &net.IPNet{IP: net.IPv4(198, 18, 0, 0).To4(), Mask: net.CIDRMask(15, 32)}

func (c *APIConfig) validate() (*net.IPNet, error) {
	if c.Store == nil {
		return nil, errors.New("api: no store")
	}
	if c.Tokens.Agent == "" || c.Tokens.Admin == "" || c.Tokens.Agent == c.Tokens.Admin {
		return nil, errors.New("api: the agent and admin tokens must be set and differ")
	}
	if c.Objects == nil {
		c.Objects = func() []manifest.Object { return nil }
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
	dur(&c.WatchTimeout, 30*time.Second)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.LogTransport == nil {
		c.LogTransport = http.DefaultTransport
	}
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

// APIServer is the HTTP API of the control plane: the agent endpoints
// (register, heartbeat, watch pods, report status) and the users' reads.
type APIServer struct {
	cfg     APIConfig
	store   Store
	cluster *net.IPNet
	mux     *http.ServeMux
	done    chan struct{}
	once    sync.Once

	hbMu    sync.Mutex
	pending map[string]time.Time // heartbeats not yet in the store
	seen    map[string]time.Time // newest heartbeat per node

	idxMu sync.Mutex
	idx   *agentPodIndex
}

// NewAPIServer returns the API's handler. Call Run to persist heartbeats.
func NewAPIServer(cfg APIConfig) (*APIServer, error) {
	cidr, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &APIServer{
		cfg: cfg, store: cfg.Store, cluster: cidr, mux: http.NewServeMux(), done: make(chan struct{}),
		pending: map[string]time.Time{}, seen: map[string]time.Time{},
	}
	agent := func(h http.HandlerFunc) http.Handler { return s.authorize(needNode, h) }
	admin := func(h http.HandlerFunc) http.Handler { return s.authorize(needAdmin, h) }
	s.mux.Handle("POST "+api.PathRegister, s.authorize(needRegister, s.register))
	s.mux.Handle("POST "+api.PathHeartbeat, agent(s.heartbeat))
	s.mux.Handle("GET "+api.PathAgentPods, agent(s.watchPods))
	s.mux.Handle("POST "+api.PathPodStatus, agent(s.reportStatus))

	s.mux.Handle("GET "+api.PathStatus, admin(s.syncStatus))
	s.mux.Handle("GET "+api.PathNodes, admin(s.listNodes))
	s.mux.Handle("GET "+api.PathNodes+"/{name}", admin(s.getNode))
	s.mux.Handle("GET "+api.PathEvents, admin(s.listEvents))
	// Each namespaced kind: all namespaces, one namespace, one object.
	for _, r := range []struct {
		base string
		get  func(w http.ResponseWriter, r *http.Request, ns, name string)
	}{
		{api.PathPods, s.listPods},
		{api.PathDeploy, s.listDeployments},
		{api.PathJobs, s.listJobs},
		{api.PathCronJobs, s.listCronJobs},
	} {
		s.mux.Handle("GET "+r.base, admin(func(w http.ResponseWriter, req *http.Request) { r.get(w, req, "", "") }))
		i := strings.LastIndex(r.base, "/")
		nsPath := r.base[:i] + "/namespaces/{ns}" + r.base[i:]
		s.mux.Handle("GET "+nsPath, admin(func(w http.ResponseWriter, req *http.Request) {
			r.get(w, req, req.PathValue("ns"), "")
		}))
		s.mux.Handle("GET "+nsPath+"/{name}", admin(func(w http.ResponseWriter, req *http.Request) {
			r.get(w, req, req.PathValue("ns"), req.PathValue("name"))
		}))
	}
	s.mux.Handle("GET /api/v1/namespaces/{ns}/pods/{name}/log", admin(s.podLogs))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !s.anyToken(w, r) {
			return
		}
		// A path served for other methods only is a 405, not a 404.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			other := r.Clone(r.Context())
			other.Method = m
			if _, pattern := s.mux.Handler(other); m != r.Method && pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			api.WriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no such path: %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// anyToken answers 401 unless the request carries one of the server's
// tokens; paths that exist for no one still do not answer strangers.
func (s *APIServer) anyToken(w http.ResponseWriter, r *http.Request) bool {
	tok := api.BearerToken(r)
	if tok != "" && (subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Tokens.Admin)) == 1 ||
		subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Tokens.Agent)) == 1 || s.isNodeToken(tok)) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
	api.WriteError(w, http.StatusUnauthorized, "Unauthorized", "a valid bearer token is required")
	return false
}

// ServeHTTP implements http.Handler.
func (s *APIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Run writes the heartbeats kept in memory to the store every
// HeartbeatFlush until ctx ends, then once more; open watches return when
// it ends, so an http.Server can shut down without waiting for them.
func (s *APIServer) Run(ctx context.Context) error {
	t := s.cfg.Clock.NewTicker(s.cfg.HeartbeatFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.once.Do(func() { close(s.done) })
			return s.FlushHeartbeats()
		case <-t.C():
			if err := s.FlushHeartbeats(); err != nil {
				s.cfg.Logger.Error("persist heartbeats", "err", err)
			}
		}
	}
}

// LastHeartbeat returns the newest heartbeat of a node this server has
// seen, which may be newer than the store's by up to HeartbeatFlush.
func (s *APIServer) LastHeartbeat(node string) (time.Time, bool) {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	t, ok := s.seen[node]
	return t, ok
}

// FlushHeartbeats writes pending heartbeats in one transaction. A
// heartbeat is not a scheduling fact, so it does not raise a node's
// Generation and cannot refuse a plan.
func (s *APIServer) FlushHeartbeats() error {
	s.hbMu.Lock()
	pending := s.pending
	s.pending = map[string]time.Time{}
	s.hbMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return s.store.Update(func(tx Tx) error {
		for name, t := range pending {
			n, err := tx.Node(name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.After(n.LastHeartbeat) {
				n.LastHeartbeat = t
				if err := tx.PutNode(n); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ---- authentication -------------------------------------------------

// apiPower is what a bearer token allows.
type apiPower int

const (
	apiPowerNone apiPower = iota
	// apiPowerJoin is the join token: it registers nodes, nothing more.
	apiPowerJoin
	// apiPowerNode is a node's own token, issued at register, for the
	// node named in X-Berth-Node only.
	apiPowerNode
	// apiPowerAdmin reads everything.
	apiPowerAdmin
)

// What an endpoint needs.
type apiNeed int

const (
	needAdmin    apiNeed = iota
	needNode             // heartbeat, watch, status: the node's token
	needRegister         // the join token, or the node's token
)

type powerKey struct{}

// nodeKey holds the record of the node whose token authorize accepted, so
// the handler need not read it again.
type nodeKey struct{}

// callerPower is the power authorize granted the request.
func callerPower(r *http.Request) apiPower {
	p, _ := r.Context().Value(powerKey{}).(apiPower)
	return p
}

func credentialHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// authorize checks the bearer token in constant time: no or unknown
// token is 401, a token of another power (or of another node) 403.
// Agent calls must name their node in X-Berth-Node.
func (s *APIServer) authorize(need apiNeed, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, node, code, msg := s.power(r, need)
		if code != 0 {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			}
			api.WriteError(w, code, strings.ReplaceAll(http.StatusText(code), " ", ""), msg)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		ctx := context.WithValue(r.Context(), powerKey{}, p)
		if node != nil {
			ctx = context.WithValue(ctx, nodeKey{}, node)
		}
		h(w, r.WithContext(ctx))
	})
}

// power decides what the request may do (with the caller's node record
// for a node token), or the status and message of its refusal.
func (s *APIServer) power(r *http.Request, need apiNeed) (apiPower, *NodeRecord, int, string) {
	tok := api.BearerToken(r)
	if tok == "" {
		return apiPowerNone, nil, http.StatusUnauthorized, "a valid bearer token is required"
	}
	// Compare with both so the time taken does not say which one matched.
	admin := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Tokens.Admin)) == 1
	join := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Tokens.Agent)) == 1
	node := r.Header.Get(api.HeaderNodeName)
	if need == needAdmin {
		switch {
		case admin:
			return apiPowerAdmin, nil, 0, ""
		case join || s.isNodeToken(tok):
			return apiPowerNone, nil, http.StatusForbidden, "agent tokens cannot read the cluster: use the admin token"
		}
		return apiPowerNone, nil, http.StatusUnauthorized, "a valid bearer token is required"
	}
	if admin {
		return apiPowerNone, nil, http.StatusForbidden, "this endpoint is for node agents, not the admin token"
	}
	if msgs := validation.IsDNS1123Subdomain(node); len(msgs) > 0 {
		if !join && !s.isNodeToken(tok) {
			return apiPowerNone, nil, http.StatusUnauthorized, "a valid bearer token is required"
		}
		return apiPowerNone, nil, http.StatusBadRequest, fmt.Sprintf("header %s %q: %s", api.HeaderNodeName, node, strings.Join(msgs, "; "))
	}
	if !join {
		var rec *NodeRecord
		_ = s.store.View(func(tx ReadTx) (err error) { rec, err = tx.Node(node); return err })
		if rec != nil && rec.CredentialHash != "" &&
			subtle.ConstantTimeCompare([]byte(credentialHash(tok)), []byte(rec.CredentialHash)) == 1 {
			return apiPowerNode, rec, 0, ""
		}
		if s.isNodeToken(tok) {
			return apiPowerNone, nil, http.StatusForbidden, fmt.Sprintf("this token belongs to another node, not %s", node)
		}
		return apiPowerNone, nil, http.StatusUnauthorized, "a valid bearer token is required"
	}
	if need == needRegister {
		return apiPowerJoin, nil, 0, ""
	}
	return apiPowerNone, nil, http.StatusForbidden, "the join token only registers a node: use the node token the register answer gave"
}

// isNodeToken reports whether tok is some node's token; it is asked only
// to choose between 401 and 403 for a refused request.
func (s *APIServer) isNodeToken(tok string) bool {
	want := credentialHash(tok)
	found := false
	_ = s.store.View(func(tx ReadTx) error {
		nodes, err := tx.Nodes()
		for _, n := range nodes {
			if n.CredentialHash != "" && subtle.ConstantTimeCompare([]byte(want), []byte(n.CredentialHash)) == 1 {
				found = true
			}
		}
		return err
	})
	return found
}

// ---- answers ----------------------------------------------------------

func respondJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// fail answers an internal error without leaking the store's details.
func (s *APIServer) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	api.WriteError(w, http.StatusInternalServerError, "Internal", "internal error; see the server's log")
}

// decodeBody reads a JSON body into v: malformed, oversized or trailing data
// is a 400/413 that has changed nothing.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		api.WriteError(w, http.StatusRequestEntityTooLarge, "BadRequest", fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
		return false
	case err != nil:
		api.WriteError(w, http.StatusBadRequest, "BadRequest", "read body: "+err.Error())
		return false
	case len(bytes.TrimSpace(b)) == 0 && allowEmpty:
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", "malformed JSON body: data after the object")
		return false
	}
	return true
}

// ---- agent endpoints --------------------------------------------------

func (s *APIServer) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	node := r.Header.Get(api.HeaderNodeName)
	if req.Name != node {
		api.WriteError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("agent for node %q cannot register node %q", node, req.Name))
		return
	}
	if msg := validateRegister(&req); msg != "" {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", msg)
		return
	}
	now := s.cfg.Clock.Now().UTC()
	fresh, err := newToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token := fresh
	if callerPower(r) == apiPowerNode {
		token = api.BearerToken(r) // the node's own: kept, so its other calls go on
	}
	var cidr string
	err = s.store.Update(func(tx Tx) error {
		n, err := tx.Node(req.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			nodes, err := tx.Nodes()
			if err != nil {
				return err
			}
			if cidr, err = s.allocateSubnet(nodes); err != nil {
				return err
			}
			n = &NodeRecord{Name: req.Name, PodCIDR: cidr, Registered: now}
		case err != nil:
			return err
		case callerPower(r) == apiPowerJoin && n.CredentialHash != "" && s.alive(n, now):
			// The join token is shared by every agent: it must not take
			// over a node whose agent is alive and holds its token.
			return fmt.Errorf("%w: node %q is registered and sending heartbeats; its agent re-registers with the node token, "+
				"a new agent may take the name once the node has timed out (%s)", errNodeAlive, n.Name, s.cfg.NodeTimeout)
		default:
			// Stable across re-registers: pods keep their addresses.
			cidr = n.PodCIDR
		}
		n.CredentialHash = credentialHash(token)
		wasReady := n.Ready
		n.Labels, n.Taints = req.Labels, req.Taints
		n.Capacity, n.Allocatable, n.Address = req.Capacity, req.Allocatable, req.Address
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
		api.WriteError(w, http.StatusConflict, "Conflict", err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.hbMu.Lock()
	s.seen[req.Name] = now
	delete(s.pending, req.Name)
	s.hbMu.Unlock()
	s.cfg.Logger.Info("node registered", "node", req.Name, "podCIDR", cidr, "address", req.Address)
	respondJSON(w, http.StatusOK, &api.RegisterResponse{PodCIDR: cidr, HeartbeatInterval: api.Duration{Duration: s.cfg.HeartbeatInterval}, NodeToken: token})
}

var errNodeAlive = errors.New("node alive")

// alive reports whether the node is Ready and its newest heartbeat is
// within the node timeout.
func (s *APIServer) alive(n *NodeRecord, now time.Time) bool {
	return n.Ready && now.Sub(s.newestHeartbeat(n)) <= s.cfg.NodeTimeout
}

// newestHeartbeat is the later of the stored heartbeat and the one kept
// in memory until the next flush.
func (s *APIServer) newestHeartbeat(n *NodeRecord) time.Time {
	hb := n.LastHeartbeat
	if t, ok := s.LastHeartbeat(n.Name); ok && t.After(hb) {
		hb = t
	}
	return hb
}

func newToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a token: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

func validateRegister(req *api.RegisterRequest) string {
	for k, v := range req.Labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Sprintf("label %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return fmt.Sprintf("label %s=%q: %s", k, v, strings.Join(msgs, "; "))
		}
	}
	for _, rl := range []corev1.ResourceList{req.Capacity, req.Allocatable} {
		for name, q := range rl {
			if q.Sign() < 0 {
				return fmt.Sprintf("resource %s: negative quantity %s", name, q.String())
			}
		}
	}
	if req.Address != "" {
		host, port, err := net.SplitHostPort(req.Address)
		if err != nil || host == "" || port == "" {
			return fmt.Sprintf("address %q: want host:port", req.Address)
		}
	}
	return ""
}

var errSubnetsExhausted = errors.New("no free /24 left in the cluster CIDR")

// allocateSubnet returns the lowest /24 of the cluster CIDR no node holds.
// It runs inside the Update that stores the node, so two registers cannot
// take the same subnet.
func (s *APIServer) allocateSubnet(nodes []*NodeRecord) (string, error) {
	used := map[string]bool{}
	for _, n := range nodes {
		used[n.PodCIDR] = true
	}
	ones, _ := s.cluster.Mask.Size()
	base := binary.BigEndian.Uint32(s.cluster.IP.To4())
	for i := uint32(0); i < 1<<(24-ones); i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i<<8)
		cidr := (&net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}).String()
		if !used[cidr] {
			return cidr, nil
		}
	}
	return "", fmt.Errorf("%w %s", errSubnetsExhausted, s.cluster)
}

// registeredNode is the calling node's record as authorize read it with
// its token; it answers 404 (register first) when there is none.
func (s *APIServer) registeredNode(w http.ResponseWriter, r *http.Request) (*NodeRecord, bool) {
	if n, ok := r.Context().Value(nodeKey{}).(*NodeRecord); ok {
		return n, true
	}
	api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("node %q is not registered; register first", r.Header.Get(api.HeaderNodeName)))
	return nil, false
}

// heartbeat keeps the time in memory for Run to write, except when the
// node was NotReady: coming back is a scheduling fact, written at once.
func (s *APIServer) heartbeat(w http.ResponseWriter, r *http.Request) {
	var req api.HeartbeatRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	n, ok := s.registeredNode(w, r)
	if !ok {
		return
	}
	now := s.cfg.Clock.Now().UTC()
	if !n.Ready {
		err := s.store.Update(func(tx Tx) error {
			n, err := tx.Node(n.Name)
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
			s.fail(w, r, err)
			return
		}
		s.cfg.Logger.Info("node ready again", "node", n.Name)
	}
	s.hbMu.Lock()
	s.seen[n.Name] = now
	if n.Ready {
		s.pending[n.Name] = now
	}
	s.hbMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// agentPodIndex is the pods of every node at one store version, shared by all
// watches woken by that version so each change is read once, not once
// per node.
type agentPodIndex struct {
	version uint64
	nodes   map[string]*agentPodList
	// pods are the bound pods by store key, kept to rebuild the next
	// index without decoding the records that did not change.
	pods map[string]*indexedPod
}

// agentPodList is one node's list. rv is the store version at which the list
// last changed, so a watch's resourceVersion names a list content exactly:
// the version counter is persisted and only rises, so the content at a
// version never changes meaning, even across server restarts.
type agentPodList struct {
	rv    uint64
	hash  [32]byte
	items []corev1.Pod
}

// indexedPod is one bound pod as agents get it: metadata and spec, no
// status, so a status report does not wake the watch of the node that
// sent it.
type indexedPod struct {
	raw  []byte // the stored record, when the store offers it
	key  string
	node string
	pod  corev1.Pod
	hash [32]byte // of the pod as sent
}

// rawPodLister is an optional fast path of a store: the stored bytes of
// every pod record, so the index decodes only records that changed.
type rawPodLister interface {
	rawPods(fn func(key, value []byte) error) error
}

func (t *boltTx) rawPods(fn func(key, value []byte) error) error {
	return t.tx.Bucket(bucketPods).ForEach(fn)
}

func newIndexedPod(key string, raw []byte, rec *PodRecord) (*indexedPod, error) {
	ip := &indexedPod{key: key, node: rec.Pod.Spec.NodeName, pod: corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: rec.Pod.ObjectMeta,
		Spec:       rec.Pod.Spec,
	}}
	if raw != nil {
		ip.raw = bytes.Clone(raw)
	}
	b, err := json.Marshal(&ip.pod)
	if err != nil {
		return nil, err
	}
	ip.hash = sha256.Sum256(b)
	return ip, nil
}

func (s *APIServer) podIndex() (*agentPodIndex, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	prev := s.idx
	if prev == nil {
		prev = &agentPodIndex{nodes: map[string]*agentPodList{}, pods: map[string]*indexedPod{}}
	}
	var idx *agentPodIndex
	err := s.store.View(func(tx ReadTx) error {
		v := tx.Version()
		if s.idx != nil && s.idx.version == v {
			idx = s.idx
			return nil
		}
		idx = &agentPodIndex{version: v, nodes: map[string]*agentPodList{}, pods: map[string]*indexedPod{}}
		if raw, ok := tx.(rawPodLister); ok {
			err := raw.rawPods(func(k, val []byte) error {
				if p := prev.pods[string(k)]; p != nil && bytes.Equal(p.raw, val) {
					idx.pods[p.key] = p
					return nil
				}
				var rec PodRecord
				if err := json.Unmarshal(val, &rec); err != nil {
					return fmt.Errorf("decode pod %s: %w", k, err)
				}
				if rec.Pod.Spec.NodeName == "" {
					return nil
				}
				ip, err := newIndexedPod(string(k), val, &rec)
				if err == nil {
					idx.pods[ip.key] = ip
				}
				return err
			})
			if err != nil {
				return err
			}
		} else {
			recs, err := tx.Pods()
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if rec.Pod.Spec.NodeName == "" {
					continue
				}
				ip, err := newIndexedPod(rec.Pod.Namespace+"/"+rec.Pod.Name, nil, rec)
				if err != nil {
					return err
				}
				idx.pods[ip.key] = ip
			}
		}
		byNode := map[string][]*indexedPod{}
		// Every registered node gets a list, empty ones too, so the
		// watch of a node without pods has a stable version.
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			byNode[n.Name] = nil
		}
		for name := range prev.nodes {
			byNode[name] = nil
		}
		for _, ip := range idx.pods {
			byNode[ip.node] = append(byNode[ip.node], ip)
		}
		for name, pods := range byNode {
			sort.Slice(pods, func(i, j int) bool { return pods[i].key < pods[j].key })
			h := sha256.New()
			for _, p := range pods {
				h.Write(p.hash[:])
			}
			np := &agentPodList{rv: v}
			copy(np.hash[:], h.Sum(nil))
			if old := prev.nodes[name]; old != nil && old.hash == np.hash {
				np.rv, np.items = old.rv, old.items
			} else {
				np.items = make([]corev1.Pod, len(pods))
				for i, p := range pods {
					np.items[i] = p.pod
				}
			}
			idx.nodes[name] = np
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.idx = idx
	return idx, nil
}

// list returns the node's pods; a node with none gets an empty list at
// the index's version.
func (idx *agentPodIndex) list(node string) *api.PodList {
	np := idx.nodes[node]
	if np == nil {
		return &api.PodList{ResourceVersion: idx.version, Items: []corev1.Pod{}}
	}
	return &api.PodList{ResourceVersion: np.rv, Items: np.items}
}

// watchPods is a long poll: the full list of the node's pods, at once if
// it differs from resourceVersion, else when it changes or the wait ends.
func (s *APIServer) watchPods(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var rv uint64
	if v := q.Get(api.ParamResourceVersion); v != "" {
		var err error
		if rv, err = strconv.ParseUint(v, 10, 64); err != nil {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("resourceVersion %q: not a number", v))
			return
		}
	}
	wait := s.cfg.WatchTimeout
	if v := q.Get(api.ParamTimeoutSeconds); v != "" {
		sec, err := strconv.ParseFloat(v, 64)
		if err != nil || sec < 0 {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("timeoutSeconds %q: not a non-negative number", v))
			return
		}
		wait = min(wait, time.Duration(sec*float64(time.Second)))
	}
	n, ok := s.registeredNode(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	timer := s.cfg.Clock.NewTimer(wait)
	defer timer.Stop()
	go func() {
		select {
		case <-timer.C():
		case <-s.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	for {
		idx, err := s.podIndex()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		list := idx.list(n.Name)
		if list.ResourceVersion != rv || ctx.Err() != nil {
			if r.Context().Err() == nil {
				respondJSON(w, http.StatusOK, list)
			}
			return
		}
		if _, err := s.store.WaitChange(ctx, idx.version); err != nil && ctx.Err() == nil {
			s.fail(w, r, err)
			return
		}
	}
}

// reportStatus stores what the node observed, for the pods bound to it;
// anything else is ignored and named in Drop.
func (s *APIServer) reportStatus(w http.ResponseWriter, r *http.Request) {
	var rep api.PodStatusReport
	if !decodeBody(w, r, &rep, false) {
		return
	}
	for i, p := range rep.Pods {
		if p.UID == "" || p.Name == "" || p.Namespace == "" {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("pods[%d]: namespace, name and uid are required", i))
			return
		}
	}
	n, ok := s.registeredNode(w, r)
	if !ok {
		return
	}
	now := s.cfg.Clock.Now().UTC()
	var resp api.PodStatusResponse
	err := s.store.Update(func(tx Tx) error {
		resp.Drop = nil
		for _, p := range rep.Pods {
			rec, err := tx.Pod(p.Namespace, p.Name)
			if errors.Is(err, ErrNotFound) || err == nil && (string(rec.Pod.UID) != p.UID || rec.Pod.Spec.NodeName != n.Name) {
				resp.Drop = append(resp.Drop, p.UID)
				continue
			}
			if err != nil {
				return err
			}
			if p.Gone {
				// Only a pod being deleted may go; a wanted pod the node
				// lost is the loop's to replace, from its status.
				if rec.Pod.DeletionTimestamp != nil {
					if err := tx.DeletePod(p.Namespace, p.Name); err != nil {
						return err
					}
					resp.Drop = append(resp.Drop, p.UID)
				}
				continue
			}
			if err := applyPodStatus(tx, rec, p.Status, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, &resp)
}

// applyPodStatus writes a changed status, keeps ReadySince, and records the
// kubelet's events that can be read off the change.
func applyPodStatus(tx Tx, rec *PodRecord, st corev1.PodStatus, now time.Time) error {
	old := rec.Pod.Status
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(st)
	if string(a) == string(b) {
		return nil
	}
	rec.Pod.Status = st
	rec.StatusTime = now
	if ready := readyCondition(&st); ready != nil && ready.Status == corev1.ConditionTrue {
		if oldReady := readyCondition(&old); rec.ReadySince.IsZero() || oldReady == nil || oldReady.Status != corev1.ConditionTrue {
			rec.ReadySince = ready.LastTransitionTime.UTC()
			if rec.ReadySince.IsZero() {
				rec.ReadySince = now
			}
		}
	} else {
		rec.ReadySince = time.Time{}
	}
	if err := tx.PutPod(rec); err != nil {
		return err
	}
	for _, e := range podStatusEvents(&rec.Pod, &old, now) {
		if err := tx.AddEvent(e); err != nil {
			return err
		}
	}
	return nil
}

func readyCondition(st *corev1.PodStatus) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady {
			return &st.Conditions[i]
		}
	}
	return nil
}

// podStatusEvents derives the kubelet's Pulling, Started, BackOff and Failed
// events from how the containers' states changed.
func podStatusEvents(pod *corev1.Pod, old *corev1.PodStatus, now time.Time) []api.Event {
	prev := map[string]*corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{old.InitContainerStatuses, old.ContainerStatuses} {
		for i := range list {
			prev[list[i].Name] = &list[i]
		}
	}
	var out []api.Event
	ev := func(typ, reason, msg string) {
		out = append(out, api.Event{Time: now, Type: typ, Reason: reason, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Message: msg})
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			cs := &list[i]
			p := prev[cs.Name]
			switch {
			case cs.State.Running != nil:
				if p == nil || p.State.Running == nil || !p.State.Running.StartedAt.Equal(&cs.State.Running.StartedAt) {
					ev("Normal", "Started", fmt.Sprintf("Started container %s", cs.Name))
				}
			case cs.State.Waiting != nil:
				reason := cs.State.Waiting.Reason
				if p != nil && p.State.Waiting != nil && p.State.Waiting.Reason == reason {
					continue
				}
				switch reason {
				case "ContainerCreating", "PodInitializing":
					if p == nil {
						ev("Normal", "Pulling", fmt.Sprintf("Pulling image %q", cs.Image))
					}
				case "CrashLoopBackOff":
					ev("Warning", "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s", cs.Name, pod.Name, pod.Namespace))
				case "ErrImagePull":
					ev("Warning", "Failed", fmt.Sprintf("Failed to pull image %q: %s", cs.Image, cs.State.Waiting.Message))
				case "ImagePullBackOff":
					ev("Normal", "BackOff", fmt.Sprintf("Back-off pulling image %q", cs.Image))
				}
			case cs.State.Terminated != nil:
				if t := cs.State.Terminated; t.Reason == "OOMKilled" && (p == nil || p.State.Terminated == nil) {
					ev("Warning", "OOMKilled", fmt.Sprintf("Container %s was killed: out of memory", cs.Name))
				}
			}
		}
	}
	return out
}

// ---- user reads -------------------------------------------------------

func (s *APIServer) view(w http.ResponseWriter, r *http.Request, fn func(ReadTx) error) bool {
	if err := s.store.View(fn); err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

func respondNotFound(w http.ResponseWriter, kind, ns, name string) {
	what := name
	if ns != "" {
		what = ns + "/" + name
	}
	api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", kind, what))
}

func (s *APIServer) syncStatus(w http.ResponseWriter, r *http.Request) {
	var st api.SyncStatus
	ok := s.view(w, r, func(tx ReadTx) error {
		rec, err := tx.Sync()
		if err != nil {
			return err
		}
		st = rec.Status
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Pod.Spec.NodeName == "" && p.Pod.DeletionTimestamp == nil && p.Unschedulable != "" {
				st.Unschedulable = append(st.Unschedulable, api.UnplaceablePod{Namespace: p.Pod.Namespace, Name: p.Pod.Name, Message: p.Unschedulable})
			}
		}
		return nil
	})
	if !ok {
		return
	}
	if st.State == "" {
		st.State = "Unknown"
	}
	sort.Slice(st.Unschedulable, func(i, j int) bool {
		a, b := st.Unschedulable[i], st.Unschedulable[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	respondJSON(w, http.StatusOK, &st)
}

// nodeForUser shows a node record as kubectl expects a Node.
func (s *APIServer) nodeForUser(n *NodeRecord, now time.Time) corev1.Node {
	hb := s.newestHeartbeat(n)
	ready := corev1.NodeCondition{Type: corev1.NodeReady, LastHeartbeatTime: metav1.NewTime(hb)}
	switch {
	case !n.Ready:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "NodeNotReady", "the agent stopped sending heartbeats"
	case now.Sub(hb) > s.cfg.NodeTimeout:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "no heartbeat for "+now.Sub(hb).Round(time.Second).String()
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
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "berth"},
		},
	}
	if host, _, err := net.SplitHostPort(n.Address); err == nil {
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
	}
	return node
}

func (s *APIServer) listNodes(w http.ResponseWriter, r *http.Request) {
	var recs []*NodeRecord
	if !s.view(w, r, func(tx ReadTx) (err error) { recs, err = tx.Nodes(); return err }) {
		return
	}
	now := s.cfg.Clock.Now()
	list := corev1.NodeList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NodeList"}, Items: []corev1.Node{}}
	for _, n := range recs {
		list.Items = append(list.Items, s.nodeForUser(n, now))
	}
	respondJSON(w, http.StatusOK, &list)
}

func (s *APIServer) getNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var rec *NodeRecord
	err := s.store.View(func(tx ReadTx) (err error) { rec, err = tx.Node(name); return err })
	if errors.Is(err, ErrNotFound) {
		respondNotFound(w, "node", "", name)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n := s.nodeForUser(rec, s.cfg.Clock.Now())
	respondJSON(w, http.StatusOK, &n)
}

// podForUser shows a pod record as a Pod, with the scheduler's message as
// the PodScheduled condition while it is unbound.
func podForUser(rec *PodRecord) corev1.Pod {
	p := rec.Pod
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	if p.CreationTimestamp.IsZero() {
		p.CreationTimestamp = metav1.NewTime(rec.Created)
	}
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.PodPending
	}
	if p.Spec.NodeName == "" && rec.Unschedulable != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: rec.Unschedulable,
		})
	}
	return p
}

func (s *APIServer) listPods(w http.ResponseWriter, r *http.Request, ns, name string) {
	if name != "" {
		var rec *PodRecord
		err := s.store.View(func(tx ReadTx) (err error) { rec, err = tx.Pod(ns, name); return err })
		if errors.Is(err, ErrNotFound) {
			respondNotFound(w, "pod", ns, name)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p := podForUser(rec)
		respondJSON(w, http.StatusOK, &p)
		return
	}
	var recs []*PodRecord
	if !s.view(w, r, func(tx ReadTx) (err error) { recs, err = tx.Pods(); return err }) {
		return
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}, Items: []corev1.Pod{}}
	for _, rec := range recs {
		if ns == "" || rec.Pod.Namespace == ns {
			list.Items = append(list.Items, podForUser(rec))
		}
	}
	respondJSON(w, http.StatusOK, &list)
}

func (s *APIServer) objects(kind manifest.Kind, ns, name string) []manifest.Object {
	var out []manifest.Object
	for _, o := range s.cfg.Objects() {
		if o.Kind == kind && (ns == "" || o.Namespace == ns) && (name == "" || o.Name == name) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

func (s *APIServer) listDeployments(w http.ResponseWriter, r *http.Request, ns, name string) {
	objs := s.objects(manifest.KindDeployment, ns, name)
	items := []appsv1.Deployment{}
	ok := s.view(w, r, func(tx ReadTx) error {
		for _, o := range objs {
			d := o.Deployment.DeepCopy()
			d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
			rec, err := tx.Deployment(o.Namespace, o.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if d.Generation == 0 {
				d.Generation = 1
			}
			if rec != nil {
				if !rec.Created.IsZero() {
					d.CreationTimestamp = metav1.NewTime(rec.Created)
				}
				d.Status = rec.Status
				// Observed once the rollout works on this template, so
				// `rollout status` does not report the previous one done.
				d.Status.ObservedGeneration = 0
				if rec.TemplateHash == DeploymentTemplateHash(d) {
					d.Status.ObservedGeneration = d.Generation
				}
			}
			items = append(items, *d)
		}
		return nil
	})
	if !ok {
		return
	}
	respondNamedOrList(w, "deployment", ns, name, items, &appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeploymentList"}, Items: items})
}

// respondNamedOrList answers the object asked for by name (404 when items
// is empty), or the whole list when no name was asked.
func respondNamedOrList[T any](w http.ResponseWriter, kind, ns, name string, items []T, list any) {
	switch {
	case name == "":
		respondJSON(w, http.StatusOK, list)
	case len(items) == 0:
		respondNotFound(w, kind, ns, name)
	default:
		respondJSON(w, http.StatusOK, &items[0])
	}
}

// DeploymentTemplateHash is the pod-template-hash the loop gives the pods
// of d's current template.
func DeploymentTemplateHash(d *appsv1.Deployment) string {
	return templateHash(&d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec)
}

// listJobs shows Job records (Git's and those CronJobs made), and Jobs of
// Git the loop has not recorded yet.
func (s *APIServer) listJobs(w http.ResponseWriter, r *http.Request, ns, name string) {
	items := []batchv1.Job{}
	ok := s.view(w, r, func(tx ReadTx) error {
		recs, err := tx.Jobs()
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, rec := range recs {
			j := rec.Job
			if (ns != "" && j.Namespace != ns) || (name != "" && j.Name != name) {
				continue
			}
			have[j.Namespace+"/"+j.Name] = true
			j.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
			items = append(items, j)
		}
		for _, o := range s.objects(manifest.KindJob, ns, name) {
			if !have[o.Namespace+"/"+o.Name] {
				j := o.Job.DeepCopy()
				j.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
				items = append(items, *j)
			}
		}
		return nil
	})
	if !ok {
		return
	}
	sort.Slice(items, func(i, j int) bool {
		return items[i].Namespace+"/"+items[i].Name < items[j].Namespace+"/"+items[j].Name
	})
	respondNamedOrList(w, "job", ns, name, items, &batchv1.JobList{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "JobList"}, Items: items})
}

func (s *APIServer) listCronJobs(w http.ResponseWriter, r *http.Request, ns, name string) {
	objs := s.objects(manifest.KindCronJob, ns, name)
	items := []batchv1.CronJob{}
	ok := s.view(w, r, func(tx ReadTx) error {
		for _, o := range objs {
			c := o.CronJob.DeepCopy()
			c.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}
			rec, err := tx.CronJob(o.Namespace, o.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if rec != nil {
				c.Status = rec.Status
				// Objects in Git have no creation time: AGE counts from
				// when berth first saw the CronJob.
				if !rec.State.Since.IsZero() {
					c.CreationTimestamp = metav1.NewTime(rec.State.Since)
				}
			}
			items = append(items, *c)
		}
		return nil
	})
	if !ok {
		return
	}
	respondNamedOrList(w, "cronjob", ns, name, items, &batchv1.CronJobList{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJobList"}, Items: items})
}

func (s *APIServer) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, ns, name := q.Get(api.ParamKind), q.Get(api.ParamNamespace), q.Get(api.ParamName)
	var all []api.Event
	if !s.view(w, r, func(tx ReadTx) (err error) { all, err = tx.Events(MaxEvents); return err }) {
		return
	}
	list := api.EventList{Items: []api.Event{}}
	for _, e := range all {
		if (kind == "" || strings.EqualFold(e.Kind, kind)) && (ns == "" || e.Namespace == ns) && (name == "" || e.Name == name) {
			list.Items = append(list.Items, e)
		}
	}
	respondJSON(w, http.StatusOK, &list)
}

// podLogs proxies a log request to the agent that runs the pod, at the
// address it registered, with the join token.
func (s *APIServer) podLogs(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	opts, err := api.ParseLogOptions(r.URL.Query())
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var rec *PodRecord
	var node *NodeRecord
	err = s.store.View(func(tx ReadTx) error {
		var err error
		if rec, err = tx.Pod(ns, name); err != nil {
			return err
		}
		if rec.Pod.Spec.NodeName == "" {
			return nil
		}
		node, err = tx.Node(rec.Pod.Spec.NodeName)
		return err
	})
	if errors.Is(err, ErrNotFound) && rec == nil {
		respondNotFound(w, "pod", ns, name)
		return
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	var names []string
	for _, cs := range [][]corev1.Container{rec.Pod.Spec.InitContainers, rec.Pod.Spec.Containers} {
		for _, c := range cs {
			names = append(names, c.Name)
		}
	}
	switch {
	case opts.Container == "" && len(rec.Pod.Spec.Containers) == 1:
		opts.Container = rec.Pod.Spec.Containers[0].Name
	case opts.Container == "":
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", name, names))
		return
	case !slices.Contains(names, opts.Container):
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("container %s is not valid for pod %s", opts.Container, name))
		return
	}
	if node == nil || node.Address == "" {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("pod %s/%s runs on no node that serves logs", ns, name))
		return
	}
	u := url.URL{Scheme: "http", Host: node.Address, Path: api.AgentLogPath(string(rec.Pod.UID), opts.Container), RawQuery: opts.Query().Encode()}
	// A follow ends when the caller goes or the server shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Tokens.Agent)
	resp, err := s.cfg.LogTransport.RoundTrip(req)
	if err != nil {
		api.WriteError(w, http.StatusBadGateway, "BadGateway", fmt.Sprintf("node %s at %s: %v", node.Name, node.Address, err))
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// Tokens are the bearer tokens of the two powers.
type Tokens struct {
	// Agent is the join token: agents register and speak for their node.
	Agent string
	// Admin reads everything (the CLI).
	Admin string
}

// Token file names in the server's data dir.
const (
	AgentTokenFile = "agent.token"
	AdminTokenFile = "admin.token"
)

// EnsureTokens returns the tokens kept in dataDir, creating each missing
// one (32 random bytes, hex, mode 0600) on first start.
func EnsureTokens(dataDir string) (Tokens, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	var t Tokens
	for _, f := range []struct {
		name string
		dst  *string
	}{{AgentTokenFile, &t.Agent}, {AdminTokenFile, &t.Admin}} {
		tok, err := ensureTokenFile(filepath.Join(dataDir, f.name))
		if err != nil {
			return Tokens{}, err
		}
		*f.dst = tok
	}
	if t.Agent == t.Admin {
		return Tokens{}, fmt.Errorf("tokens in %s: the agent and admin tokens are equal; remove one to make a new one", dataDir)
	}
	return t, nil
}

func ensureTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", fmt.Errorf("token %s: too short; remove it to make a new one", path)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	tok, err := newToken()
	if err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	// O_EXCL: two servers starting at once on one data dir cannot both
	// write a token and hand out different ones.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return ensureTokenFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	return tok, nil
}
