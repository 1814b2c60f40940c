package apiserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
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
	"github.com/berth-dev/berth/pki"
)

// Config configures the HTTP API. Zero fields take the defaults named.
type Config struct {
	// Nodes is node membership (required).
	Nodes NodeRegistry
	// Pods is what agents are told to run (required).
	Pods PodFeed
	// Status takes the agents' pod status reports (required).
	Status StatusSink
	// Reads is the users' view of the cluster (required).
	Reads ClusterReader
	// Network is the cluster network state agents watch (optional: without
	// it the network paths are not served).
	Network NetworkFeed
	// JoinToken is the agents' shared join token: it registers nodes,
	// nothing more, and is never sent anywhere. AdminToken reads
	// everything.
	// Both are required and differ.
	JoinToken, AdminToken string
	// NodeCerts says the API is served over TLS that asks for client
	// certificates of the cluster CA (pki.ClientAuthTLS): node endpoints
	// then accept a node's certificate only, and a node token left from
	// before is good for one thing, registering to get a certificate.
	// Without it (plain HTTP on loopback) nodes use node tokens.
	NodeCerts bool
	// Tokens are the admin's bootstrap tokens (optional: without them
	// only JoinToken joins, and PathTokens is not served).
	Tokens TokenStore
	// Build is the server's build: `berth version --server` shows it, and
	// an agent whose protocol it cannot speak is refused at register.
	Build api.BuildInfo
	// Ops serves sync and backup (optional: without it they answer 501).
	Ops Operator
	// Claims deletes claims by hand (optional: without it DELETE of a
	// claim is not served).
	Claims ClaimAdmin
	// Planner plans refs of the server's repository (optional: without it
	// GET PathPlan is 404).
	Planner Planner
	// Hooks are mounted as they are, without the API's authentication
	// (each checks its own secret): path → handler, e.g. Git webhooks.
	Hooks map[string]http.Handler
	// WatchTimeout is the longest a pod watch waits for a change
	// (default 30s).
	WatchTimeout time.Duration
	// MaxBodyBytes bounds request bodies (default 4 MiB).
	MaxBodyBytes int64
	// AgentTLS is how the log proxy reaches agents: the server's client
	// certificate and the cluster CA as roots. Each call also requires
	// the agent's certificate to name the node the pod is bound to, so
	// the server talks only to the address that node's certificate
	// allows, and sends no token. Nil: logs answer 503.
	AgentTLS *tls.Config
	// Clock drives the watch timeout (default: real).
	Clock clock.WithTicker
	// Logger receives the API's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Nodes == nil || c.Pods == nil || c.Status == nil || c.Reads == nil {
		return errors.New("api: Nodes, Pods, Status and Reads are required")
	}
	if c.JoinToken == "" || c.AdminToken == "" || c.JoinToken == c.AdminToken {
		return errors.New("api: the join and admin tokens must be set and differ")
	}
	if c.WatchTimeout <= 0 {
		c.WatchTimeout = 30 * time.Second
	}
	if c.Build.Protocol == 0 {
		c.Build.Protocol = api.ProtocolVersion
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is the HTTP API of the control plane: the agent endpoints
// (register, heartbeat, watch pods, report status), the users' reads, the
// log proxy and the mounted hooks.
type Server struct {
	cfg  Config
	mux  *http.ServeMux
	done chan struct{}
	once sync.Once
}

// New returns the API's handler. Run ends open watches and log follows
// when its context ends.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), done: make(chan struct{})}
	agent := func(h http.HandlerFunc) http.Handler { return s.authorize(needNode, h) }
	admin := func(h http.HandlerFunc) http.Handler { return s.authorize(needAdmin, h) }
	read := func(h http.HandlerFunc) http.Handler { return s.authorize(needRead, h) }
	s.mux.Handle("POST "+api.PathRegister, s.authorize(needRegister, s.register))
	s.mux.Handle("POST "+api.PathHeartbeat, agent(s.heartbeat))
	s.mux.Handle("GET "+api.PathAgentPods, agent(s.watchPods))
	s.mux.Handle("POST "+api.PathPodStatus, agent(s.reportStatus))
	if cfg.Network != nil {
		s.mux.Handle("GET "+api.PathAgentNetwork, agent(s.watchNetwork))
		s.mux.Handle("POST "+api.PathAgentNetworkSeen, agent(s.networkApplied))
	}

	s.mux.Handle("GET "+api.PathStatus, read(s.syncStatus))
	s.mux.Handle("GET "+api.PathNodes, read(s.listNodes))
	s.mux.Handle("GET "+api.PathNodes+"/{name}", read(s.getNode))
	s.mux.Handle("DELETE "+api.PathNodes+"/{name}", admin(s.deleteNode))
	s.mux.Handle("GET "+api.PathEvents, read(s.listEvents))
	s.mux.Handle("GET "+api.PathSnapshot, read(s.snapshot))
	s.mux.Handle("GET "+api.PathPlan, read(s.plan))
	// Each namespaced kind: all namespaces, one namespace, one object.
	type resource struct {
		base string
		get  func(w http.ResponseWriter, r *http.Request, ns, name string)
	}
	resources := []resource{
		{api.PathPods, s.listPods},
		{api.PathDeploy, s.listDeployments},
		{api.PathDaemonSets, s.listDaemonSets},
		{api.PathStatefulSets, s.listStatefulSets},
		{api.PathClaims, s.listClaims},
		{api.PathJobs, s.listJobs},
		{api.PathCronJobs, s.listCronJobs},
		{api.PathConfigMaps, s.listConfigMaps},
		{api.PathSecrets, s.listSecrets},
	}
	if cfg.Network != nil {
		resources = append(resources, resource{api.PathServices, s.listServices}, resource{api.PathEndpointSlices, s.listEndpointSlices})
	}
	for _, r := range resources {
		s.mux.Handle("GET "+r.base, read(func(w http.ResponseWriter, req *http.Request) { r.get(w, req, "", "") }))
		i := strings.LastIndex(r.base, "/")
		nsPath := r.base[:i] + "/namespaces/{ns}" + r.base[i:]
		s.mux.Handle("GET "+nsPath, read(func(w http.ResponseWriter, req *http.Request) {
			r.get(w, req, req.PathValue("ns"), "")
		}))
		s.mux.Handle("GET "+nsPath+"/{name}", read(func(w http.ResponseWriter, req *http.Request) {
			r.get(w, req, req.PathValue("ns"), req.PathValue("name"))
		}))
	}
	s.mux.Handle("GET /api/v1/namespaces/{ns}/pods/{name}/log", admin(s.podLogs))
	if cfg.Claims != nil {
		s.mux.Handle("DELETE /api/v1/namespaces/{ns}/persistentvolumeclaims/{name}", admin(s.deleteClaim))
	}
	s.mux.Handle("GET "+api.PathVersion, read(s.version))
	s.mux.Handle("POST "+api.PathSync, admin(s.sync))
	s.mux.Handle("GET "+api.PathBackup, admin(s.backup))
	if cfg.Tokens != nil {
		s.mux.Handle("GET "+api.PathTokens, admin(s.listTokens))
		s.mux.Handle("POST "+api.PathTokens, admin(s.createToken))
		s.mux.Handle("DELETE "+api.PathTokens+"/{id}", admin(s.deleteToken))
	}
	for path, h := range cfg.Hooks {
		s.mux.Handle(path, h)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !s.anyToken(w, r) {
			return
		}
		// A path served for other methods only is a 405, not a 404.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
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
// credentials; paths that exist for no one still do not answer strangers.
func (s *Server) anyToken(w http.ResponseWriter, r *http.Request) bool {
	if _, _, ok := pki.NodeFromPeer(r.TLS); ok {
		return true
	}
	if tok := api.BearerToken(r); tok != "" && s.knownToken(tok) {
		return true
	}
	s.refuse(w, r, http.StatusUnauthorized, "a valid bearer token is required")
	return false
}

// knownToken reports whether tok is any credential of the server.
func (s *Server) knownToken(tok string) bool {
	admin := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1
	join := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.JoinToken)) == 1
	if admin || join || s.cfg.Nodes.IsNodeToken(tok) {
		return true
	}
	if s.cfg.Tokens != nil {
		_, ok := s.cfg.Tokens.Lookup(tok)
		return ok
	}
	return false
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { instrument(s.mux, w, r) }

// Run waits for ctx to end, then returns open watches and log follows, so
// an http.Server can shut down without waiting for them.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.once.Do(func() { close(s.done) })
	return nil
}

// ---- authentication -------------------------------------------------

// apiPower is what a credential allows.
type apiPower int

const (
	apiPowerNone apiPower = iota
	// apiPowerJoin is a join token: it registers a new node name,
	// nothing more.
	apiPowerJoin
	// apiPowerNode is a node's own credential (its client certificate,
	// or on plain HTTP its node token), for that node only.
	apiPowerNode
	// apiPowerPlan is a plan token: it reads and plans, and changes
	// nothing.
	apiPowerPlan
	// apiPowerAdmin reads and operates everything.
	apiPowerAdmin
)

// What an endpoint needs.
type apiNeed int

const (
	needAdmin    apiNeed = iota
	needRead             // the reads and plans: admin or a plan token
	needNode             // heartbeat, watch, status: the node itself
	needRegister         // a join token, or the node itself
)

type powerKey struct{}

// callerPower is the power authorize granted the request.
func callerPower(r *http.Request) apiPower {
	p, _ := r.Context().Value(powerKey{}).(apiPower)
	return p
}

// grant is authorize's decision: the power, the node the caller speaks
// for (agent endpoints), or the status and message of a refusal.
type grant struct {
	power apiPower
	node  string
	code  int
	msg   string
}

func refused(code int, msg string) grant { return grant{power: apiPowerNone, code: code, msg: msg} }

// authorize checks the caller's credential: a node's client certificate,
// or a bearer token compared in constant time (tokens are looked up by
// hash, so a wrong one costs what a right one does). No or unknown
// credential is 401, one of another power (or of another node) 403.
// Agent calls name their node in X-Berth-Node; with a certificate the
// header, if any, must be the certificate's node.
func (s *Server) authorize(need apiNeed, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := s.power(r, need)
		if g.code != 0 {
			s.refuse(w, r, g.code, g.msg)
			return
		}
		if g.node != "" {
			r.Header.Set(api.HeaderNodeName, g.node)
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		h(w, r.WithContext(context.WithValue(r.Context(), powerKey{}, g.power)))
	})
}

// refuse answers a refused request. Refusals are what a stranger can
// cause at will, so they are logged at debug only.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.cfg.Logger.Debug("refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "code", code, "why", msg)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
	}
	api.WriteError(w, code, strings.ReplaceAll(http.StatusText(code), " ", ""), msg)
}

// power decides what the request may do.
func (s *Server) power(r *http.Request, need apiNeed) grant {
	if certNode, keyHash, ok := pki.NodeFromPeer(r.TLS); ok {
		return s.certPower(r, need, certNode, keyHash)
	}
	tok := api.BearerToken(r)
	if tok == "" {
		if need == needNode && s.cfg.NodeCerts {
			return refused(http.StatusUnauthorized, "node endpoints need the node's client certificate")
		}
		return refused(http.StatusUnauthorized, "a valid bearer token is required")
	}
	// Compare with both so the time taken does not say which one matched.
	admin := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1
	join := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.JoinToken)) == 1
	plan, bootstrap := false, false
	if !admin && !join && s.cfg.Tokens != nil {
		var usages []string
		if usages, bootstrap = s.cfg.Tokens.Lookup(tok); bootstrap {
			join, plan = slices.Contains(usages, api.TokenUsageJoin), slices.Contains(usages, api.TokenUsagePlan)
		}
	}
	node := r.Header.Get(api.HeaderNodeName)
	switch need {
	case needAdmin, needRead:
		switch {
		case admin:
			return grant{power: apiPowerAdmin}
		case plan && need == needRead:
			return grant{power: apiPowerPlan}
		case plan:
			return refused(http.StatusForbidden, "a plan token reads the cluster and plans; it changes nothing: use the admin token")
		case join || bootstrap || s.cfg.Nodes.IsNodeToken(tok):
			return refused(http.StatusForbidden, "agent tokens cannot read the cluster: use the admin token")
		}
		return refused(http.StatusUnauthorized, "a valid bearer token is required")
	}
	if admin {
		return refused(http.StatusForbidden, "this endpoint is for node agents, not the admin token")
	}
	if msgs := validation.IsDNS1123Subdomain(node); len(msgs) > 0 {
		if !join && !bootstrap && !s.cfg.Nodes.IsNodeToken(tok) {
			return refused(http.StatusUnauthorized, "a valid bearer token is required")
		}
		return refused(http.StatusBadRequest, fmt.Sprintf("header %s %q: %s", api.HeaderNodeName, node, strings.Join(msgs, "; ")))
	}
	if !join {
		if bootstrap {
			return refused(http.StatusForbidden, "a plan token cannot speak for a node")
		}
		if ok, _ := s.cfg.Nodes.Authenticate(node, tok); ok {
			if s.cfg.NodeCerts && need != needRegister {
				return refused(http.StatusForbidden, "node endpoints need the node's client certificate; a node token only registers, to get one")
			}
			return grant{power: apiPowerNode, node: node}
		}
		if s.cfg.Nodes.IsNodeToken(tok) {
			return refused(http.StatusForbidden, fmt.Sprintf("this token belongs to another node, not %s", node))
		}
		return refused(http.StatusUnauthorized, "a valid bearer token is required")
	}
	if need == needRegister {
		return grant{power: apiPowerJoin, node: node}
	}
	return refused(http.StatusForbidden, "a join token only registers a node: the node then authenticates by its own credential")
}

// certPower is what a node's verified client certificate may do: speak
// for its node, while the node is registered with that certificate's key.
func (s *Server) certPower(r *http.Request, need apiNeed, node, keyHash string) grant {
	if need == needAdmin || need == needRead {
		return refused(http.StatusForbidden, "a node certificate cannot read the cluster: use the admin token")
	}
	if h := r.Header.Get(api.HeaderNodeName); h != "" && h != node {
		return refused(http.StatusForbidden, fmt.Sprintf("this certificate is node %s's, not %s's", node, h))
	}
	ok, err := s.cfg.Nodes.AuthenticateCert(node, keyHash)
	if err != nil {
		s.cfg.Logger.Error("authenticate node certificate", "node", node, "err", err)
		return refused(http.StatusInternalServerError, "internal error; see the server's log")
	}
	if !ok {
		return refused(http.StatusUnauthorized, fmt.Sprintf("the certificate of node %s is not valid any more: the node was deleted or holds another certificate", node))
	}
	return grant{power: apiPowerNode, node: node}
}

// ---- answers ----------------------------------------------------------

func respondJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// fail answers a refusal the backend named (*api.Error) as it is, and any
// other error as a 500 without leaking the store's details.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae := (*api.Error)(nil); errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 500 {
		api.WriteError(w, ae.Code, ae.Reason, ae.Message)
		return
	}
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
	// A field berth does not know is refused, not silently dropped.
	dec.DisallowUnknownFields()
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

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	node := r.Header.Get(api.HeaderNodeName)
	if req.Name != node {
		api.WriteError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("agent for node %q cannot register node %q", node, req.Name))
		return
	}
	if err := api.CheckAgentProtocol(s.cfg.Build, req.Build); err != nil {
		api.WriteError(w, http.StatusBadRequest, "UnsupportedProtocol", err.Error())
		return
	}
	self, own := callerPower(r) == apiPowerNode, ""
	if _, _, byCert := pki.NodeFromPeer(r.TLS); self && !byCert {
		own = api.BearerToken(r) // the node's own: kept, so its other calls go on
	}
	resp, err := s.cfg.Nodes.Register(&req, self, own)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, resp)
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	var req api.HeartbeatRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	if err := s.cfg.Nodes.Heartbeat(r.Header.Get(api.HeaderNodeName)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// watchPods is a long poll: the full list of the node's pods, at once if
// it differs from resourceVersion, else when it changes or the wait ends.
func (s *Server) watchPods(w http.ResponseWriter, r *http.Request) {
	node := r.Header.Get(api.HeaderNodeName)
	s.longPoll(w, r, func() (any, uint64, uint64, error) {
		list, _, err := s.cfg.Pods.NodePods(node)
		if err != nil {
			return nil, 0, 0, err
		}
		return list, list.ResourceVersion, list.ResourceVersion, nil
	}, func(ctx context.Context, rv uint64) (uint64, error) {
		// Only a change to this node's list wakes its watch.
		return rv, s.cfg.Pods.WaitNodeChange(ctx, node, rv)
	})
}

// longPoll answers with read's body at once if its resourceVersion
// differs from the request's, else when it changes (wait wakes on every
// store change after the version read returned) or the wait ends.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, read func() (body any, rv, version uint64, err error), wait func(context.Context, uint64) (uint64, error)) {
	q := r.URL.Query()
	var rv uint64
	if v := q.Get(api.ParamResourceVersion); v != "" {
		var err error
		if rv, err = strconv.ParseUint(v, 10, 64); err != nil {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("resourceVersion %q: not a number", v))
			return
		}
	}
	timeout := s.cfg.WatchTimeout
	if v := q.Get(api.ParamTimeoutSeconds); v != "" {
		sec, err := strconv.ParseFloat(v, 64)
		if err != nil || sec < 0 {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("timeoutSeconds %q: not a non-negative number", v))
			return
		}
		timeout = min(timeout, time.Duration(sec*float64(time.Second)))
	}
	// A long poll outlives WriteTimeout by design: its own bound is the
	// timeout.
	extendDeadlines(w, time.Now().Add(timeout+watchSlack))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	timer := s.cfg.Clock.NewTimer(timeout)
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
		body, got, version, err := read()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if got != rv || ctx.Err() != nil {
			if r.Context().Err() == nil {
				respondJSON(w, http.StatusOK, body)
			}
			return
		}
		if _, err := wait(ctx, version); err != nil && ctx.Err() == nil {
			s.fail(w, r, err)
			return
		}
	}
}

// reportStatus hands what the node observed to the status sink.
func (s *Server) reportStatus(w http.ResponseWriter, r *http.Request) {
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
	resp, err := s.cfg.Status.Report(r.Header.Get(api.HeaderNodeName), &rep)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, resp)
}

// ---- user reads -------------------------------------------------------

func respondNotFound(w http.ResponseWriter, kind, ns, name string) {
	what := name
	if ns != "" {
		what = ns + "/" + name
	}
	api.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", kind, what))
}

func (s *Server) syncStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Reads.SyncStatus()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, st)
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := s.cfg.Reads.Snapshot(s.cfg.Clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, snap)
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	switch {
	case s.cfg.Planner == nil:
		api.WriteError(w, http.StatusNotFound, "NotFound", "this server does not plan refs")
		return
	case ref == "":
		api.WriteError(w, http.StatusBadRequest, "BadRequest", "ref is required, e.g. ?ref=refs/pull/123/head")
		return
	}
	p, err := s.cfg.Planner.Plan(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, p)
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.cfg.Nodes.Nodes()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := corev1.NodeList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NodeList"}, Items: nodes}
	if list.Items == nil {
		list.Items = []corev1.Node{}
	}
	respondJSON(w, http.StatusOK, &list)
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.cfg.Nodes.Node(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, n)
}

// deleteNode frees a node's name, subnet and credential.
func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Nodes.Delete(r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// list answers one kind's read: the object asked for by name (404 when
// there is none), or the whole list.
func list[T any](s *Server, w http.ResponseWriter, r *http.Request, kind, ns, name string,
	read func(ns, name string) ([]T, error), wrap func([]T) any) {
	items, err := read(ns, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []T{}
	}
	switch {
	case name == "":
		respondJSON(w, http.StatusOK, wrap(items))
	case len(items) == 0:
		respondNotFound(w, kind, ns, name)
	default:
		respondJSON(w, http.StatusOK, &items[0])
	}
}

func (s *Server) listPods(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "pod", ns, name, s.cfg.Reads.Pods, func(items []corev1.Pod) any {
		return &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}, Items: items}
	})
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "deployment", ns, name, s.cfg.Reads.Deployments, func(items []appsv1.Deployment) any {
		return &appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeploymentList"}, Items: items}
	})
}

func (s *Server) listDaemonSets(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "daemonset", ns, name, s.cfg.Reads.DaemonSets, func(items []appsv1.DaemonSet) any {
		return &appsv1.DaemonSetList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSetList"}, Items: items}
	})
}

func (s *Server) listStatefulSets(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "statefulset", ns, name, s.cfg.Reads.StatefulSets, func(items []appsv1.StatefulSet) any {
		return &appsv1.StatefulSetList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSetList"}, Items: items}
	})
}

func (s *Server) listClaims(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "persistentvolumeclaim", ns, name, s.cfg.Reads.Claims, func(items []corev1.PersistentVolumeClaim) any {
		return &corev1.PersistentVolumeClaimList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaimList"}, Items: items}
	})
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "job", ns, name, s.cfg.Reads.Jobs, func(items []batchv1.Job) any {
		return &batchv1.JobList{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "JobList"}, Items: items}
	})
}

func (s *Server) listCronJobs(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "cronjob", ns, name, s.cfg.Reads.CronJobs, func(items []batchv1.CronJob) any {
		return &batchv1.CronJobList{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJobList"}, Items: items}
	})
}

func (s *Server) listConfigMaps(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "configmap", ns, name, s.cfg.Reads.ConfigMaps, func(items []corev1.ConfigMap) any {
		return &corev1.ConfigMapList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}, Items: items}
	})
}

// listSecrets answers keys and sizes: the API never returns a value.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "secret", ns, name, s.cfg.Reads.Secrets, func(items []api.SecretSummary) any {
		return &api.SecretSummaryList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "SecretList"}, Items: items}
	})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	items, err := s.cfg.Reads.Events(q.Get(api.ParamKind), q.Get(api.ParamNamespace), q.Get(api.ParamName))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []api.Event{}
	}
	respondJSON(w, http.StatusOK, &api.EventList{Items: items})
}

// ---- logs -------------------------------------------------------------

// podLogs proxies a log request to the agent that runs the pod, at the
// address it registered, over mTLS: the agent must present a certificate
// of the cluster CA for that node and that address, and no token is sent.
func (s *Server) podLogs(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	opts, err := api.ParseLogOptions(r.URL.Query())
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	pod, addr, err := s.cfg.Reads.PodLogTarget(ns, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var names []string
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			names = append(names, c.Name)
		}
	}
	switch {
	case opts.Container == "" && len(pod.Spec.Containers) == 1:
		opts.Container = pod.Spec.Containers[0].Name
	case opts.Container == "":
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", name, names))
		return
	case !slices.Contains(names, opts.Container):
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("container %s is not valid for pod %s", opts.Container, name))
		return
	}
	if addr == "" {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("pod %s/%s runs on no node that serves logs", ns, name))
		return
	}
	if s.cfg.AgentTLS == nil {
		api.WriteError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "this server has no certificate to reach agents with")
		return
	}
	u := url.URL{Scheme: "https", Host: addr, Path: api.AgentLogPath(string(pod.UID), opts.Container), RawQuery: opts.Query().Encode()}
	// A follow ends when the caller goes or the server shuts down, not
	// at WriteTimeout.
	if opts.Follow {
		extendDeadlines(w, time.Time{})
	}
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
	tr := agentTransport(s.cfg.AgentTLS, pod.Spec.NodeName)
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		api.WriteError(w, http.StatusBadGateway, "BadGateway", fmt.Sprintf("node %s at %s: %v", pod.Spec.NodeName, addr, err))
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

// ---- bootstrap tokens -----------------------------------------------------

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Tokens.List()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, &api.TokenList{Items: items})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenCreateRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	t, err := s.cfg.Tokens.Create(req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Logger.Info("bootstrap token created", "id", t.ID, "usages", t.Usages, "expires", t.Expires)
	respondJSON(w, http.StatusCreated, t)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Tokens.Delete(r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
