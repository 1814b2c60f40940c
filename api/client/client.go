// Package client is a small Go client of berth's HTTP API, for both powers:
// an agent (join token, the calls of one node) and an admin (the reads the
// CLI makes). Every call has a timeout except the long-poll watch and log
// follow, which carry their own.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// DefaultTimeout bounds every call that is neither a watch nor a follow.
const DefaultTimeout = 15 * time.Second

// maxErrorBody bounds how much of a failed answer is read.
const maxErrorBody = 64 << 10

// Client talks to one berth server with one token.
type Client struct {
	base    *url.URL
	token   string
	node    string
	hc      *http.Client
	timeout time.Duration
}

// Option changes a Client made by New.
type Option func(*Client)

// WithNode makes the client speak for the named node (the X-Berth-Node
// header of agent calls).
func WithNode(name string) Option { return func(c *Client) { c.node = name } }

// WithHTTPClient replaces the default http.Client. Its own Timeout should
// be zero: the client bounds calls by context, and watches outlast any
// single fixed timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout replaces DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client of the server at server ("http://host:port" or
// "host:port") that sends token as its bearer token.
func New(server, token string, opts ...Option) (*Client, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server address %q: want http(s)://host:port", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, token: token, hc: &http.Client{}, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// WithToken returns a copy of the client that sends token instead; an
// agent switches to its node token after Register.
func (c *Client) WithToken(token string) *Client {
	d := *c
	d.token = token
	return &d
}

// Server returns the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// IsNotFound reports whether err is the server's NotFound answer.
func IsNotFound(err error) bool { return hasCode(err, http.StatusNotFound) }

// IsUnauthorized reports whether the server refused the token (401/403).
func IsUnauthorized(err error) bool {
	return hasCode(err, http.StatusUnauthorized) || hasCode(err, http.StatusForbidden)
}

func hasCode(err error, code int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == code
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.node != "" {
		req.Header.Set(api.HeaderNodeName, c.node)
	}
	return req, nil
}

// send makes one request and returns the response of a 2xx answer; any
// other answer becomes an *api.Error.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	ae := &api.Error{}
	if json.Unmarshal(b, ae) != nil || ae.Reason == "" {
		ae = &api.Error{Code: resp.StatusCode, Reason: strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", ""), Message: strings.TrimSpace(string(b))}
	}
	ae.Code = resp.StatusCode
	return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ae)
}

// do runs one JSON call bounded by timeout (none if zero) and decodes the
// answer into out (unless nil).
func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, q url.Values, body, out any) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, c.timeout, http.MethodGet, path, q, nil, out)
}

// Register announces the node and returns its pod subnet. The client must
// have been made WithNode(req.Name).
func (c *Client) Register(ctx context.Context, req api.RegisterRequest) (*api.RegisterResponse, error) {
	var out api.RegisterResponse
	if err := c.do(ctx, c.timeout, http.MethodPost, api.PathRegister, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat tells the server the node is alive. A NotFound answer means
// the server forgot the node: register again.
func (c *Client) Heartbeat(ctx context.Context, req api.HeartbeatRequest) error {
	return c.do(ctx, c.timeout, http.MethodPost, api.PathHeartbeat, nil, req, nil)
}

// WatchPods returns the full list of pods bound to the node as soon as it
// differs from version rv (0: at once), or the same list after the
// server's wait (wait, or the server's default when zero) ends.
func (c *Client) WatchPods(ctx context.Context, rv uint64, wait time.Duration) (*api.PodList, error) {
	q := url.Values{}
	q.Set(api.ParamResourceVersion, strconv.FormatUint(rv, 10))
	timeout := 30*time.Second + c.timeout
	if wait > 0 {
		q.Set(api.ParamTimeoutSeconds, strconv.FormatFloat(wait.Seconds(), 'f', -1, 64))
		timeout = wait + c.timeout
	}
	var out api.PodList
	if err := c.do(ctx, timeout, http.MethodGet, api.PathAgentPods, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportStatus sends the statuses of the node's pods and returns the UIDs
// the server wants the agent to drop.
func (c *Client) ReportStatus(ctx context.Context, rep api.PodStatusReport) (*api.PodStatusResponse, error) {
	var out api.PodStatusResponse
	if err := c.do(ctx, c.timeout, http.MethodPost, api.PathPodStatus, nil, rep, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Nodes lists the registered nodes.
func (c *Client) Nodes(ctx context.Context) (*corev1.NodeList, error) {
	var out corev1.NodeList
	return &out, c.get(ctx, api.PathNodes, nil, &out)
}

// Node reads one node.
func (c *Client) Node(ctx context.Context, name string) (*corev1.Node, error) {
	var out corev1.Node
	return &out, c.get(ctx, api.PathNodes+"/"+url.PathEscape(name), nil, &out)
}

// Pods lists pods of one namespace, or of all when namespace is empty.
func (c *Client) Pods(ctx context.Context, namespace string) (*corev1.PodList, error) {
	var out corev1.PodList
	return &out, c.get(ctx, api.NamespacedPath(api.PathPods, namespace, ""), nil, &out)
}

// Pod reads one pod.
func (c *Client) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	var out corev1.Pod
	return &out, c.get(ctx, api.NamespacedPath(api.PathPods, namespace, name), nil, &out)
}

// Deployments lists Deployments of one namespace, or of all.
func (c *Client) Deployments(ctx context.Context, namespace string) (*appsv1.DeploymentList, error) {
	var out appsv1.DeploymentList
	return &out, c.get(ctx, api.NamespacedPath(api.PathDeploy, namespace, ""), nil, &out)
}

// Deployment reads one Deployment.
func (c *Client) Deployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	var out appsv1.Deployment
	return &out, c.get(ctx, api.NamespacedPath(api.PathDeploy, namespace, name), nil, &out)
}

// DaemonSets lists DaemonSets of one namespace, or of all.
func (c *Client) DaemonSets(ctx context.Context, namespace string) (*appsv1.DaemonSetList, error) {
	var out appsv1.DaemonSetList
	return &out, c.get(ctx, api.NamespacedPath(api.PathDaemonSets, namespace, ""), nil, &out)
}

// DaemonSet reads one DaemonSet.
func (c *Client) DaemonSet(ctx context.Context, namespace, name string) (*appsv1.DaemonSet, error) {
	var out appsv1.DaemonSet
	return &out, c.get(ctx, api.NamespacedPath(api.PathDaemonSets, namespace, name), nil, &out)
}

// StatefulSets lists StatefulSets of one namespace, or of all.
func (c *Client) StatefulSets(ctx context.Context, namespace string) (*appsv1.StatefulSetList, error) {
	var out appsv1.StatefulSetList
	return &out, c.get(ctx, api.NamespacedPath(api.PathStatefulSets, namespace, ""), nil, &out)
}

// StatefulSet reads one StatefulSet.
func (c *Client) StatefulSet(ctx context.Context, namespace, name string) (*appsv1.StatefulSet, error) {
	var out appsv1.StatefulSet
	return &out, c.get(ctx, api.NamespacedPath(api.PathStatefulSets, namespace, name), nil, &out)
}

// PersistentVolumeClaims lists the claims of one namespace, or of all.
func (c *Client) PersistentVolumeClaims(ctx context.Context, namespace string) (*corev1.PersistentVolumeClaimList, error) {
	var out corev1.PersistentVolumeClaimList
	return &out, c.get(ctx, api.NamespacedPath(api.PathClaims, namespace, ""), nil, &out)
}

// PersistentVolumeClaim reads one claim.
func (c *Client) PersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	var out corev1.PersistentVolumeClaim
	return &out, c.get(ctx, api.NamespacedPath(api.PathClaims, namespace, name), nil, &out)
}

// Jobs lists Jobs of one namespace, or of all.
func (c *Client) Jobs(ctx context.Context, namespace string) (*batchv1.JobList, error) {
	var out batchv1.JobList
	return &out, c.get(ctx, api.NamespacedPath(api.PathJobs, namespace, ""), nil, &out)
}

// Job reads one Job.
func (c *Client) Job(ctx context.Context, namespace, name string) (*batchv1.Job, error) {
	var out batchv1.Job
	return &out, c.get(ctx, api.NamespacedPath(api.PathJobs, namespace, name), nil, &out)
}

// CronJobs lists CronJobs of one namespace, or of all.
func (c *Client) CronJobs(ctx context.Context, namespace string) (*batchv1.CronJobList, error) {
	var out batchv1.CronJobList
	return &out, c.get(ctx, api.NamespacedPath(api.PathCronJobs, namespace, ""), nil, &out)
}

// CronJob reads one CronJob.
func (c *Client) CronJob(ctx context.Context, namespace, name string) (*batchv1.CronJob, error) {
	var out batchv1.CronJob
	return &out, c.get(ctx, api.NamespacedPath(api.PathCronJobs, namespace, name), nil, &out)
}

// ConfigMaps lists the ConfigMaps of one namespace, or of all.
func (c *Client) ConfigMaps(ctx context.Context, namespace string) (*corev1.ConfigMapList, error) {
	var out corev1.ConfigMapList
	return &out, c.get(ctx, api.NamespacedPath(api.PathConfigMaps, namespace, ""), nil, &out)
}

// ConfigMap reads one ConfigMap.
func (c *Client) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	var out corev1.ConfigMap
	return &out, c.get(ctx, api.NamespacedPath(api.PathConfigMaps, namespace, name), nil, &out)
}

// Secrets lists the Secrets of one namespace, or of all: keys and sizes.
func (c *Client) Secrets(ctx context.Context, namespace string) (*api.SecretSummaryList, error) {
	var out api.SecretSummaryList
	return &out, c.get(ctx, api.NamespacedPath(api.PathSecrets, namespace, ""), nil, &out)
}

// Secret reads one Secret's keys and sizes.
func (c *Client) Secret(ctx context.Context, namespace, name string) (*api.SecretSummary, error) {
	var out api.SecretSummary
	return &out, c.get(ctx, api.NamespacedPath(api.PathSecrets, namespace, name), nil, &out)
}

// EventFilter selects the events of one object; empty fields match all.
type EventFilter struct {
	Kind, Namespace, Name string
}

// Events returns events, oldest first.
func (c *Client) Events(ctx context.Context, f EventFilter) (*api.EventList, error) {
	q := url.Values{}
	for k, v := range map[string]string{api.ParamKind: f.Kind, api.ParamNamespace: f.Namespace, api.ParamName: f.Name} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out api.EventList
	return &out, c.get(ctx, api.PathEvents, q, &out)
}

// Status returns the state of the Git sync.
func (c *Client) Status(ctx context.Context) (*api.SyncStatus, error) {
	var out api.SyncStatus
	return &out, c.get(ctx, api.PathStatus, nil, &out)
}

// Snapshot returns what admission reads of the cluster, for `berth plan`.
func (c *Client) Snapshot(ctx context.Context) (*api.ClusterSnapshot, error) {
	var out api.ClusterSnapshot
	return &out, c.get(ctx, api.PathSnapshot, nil, &out)
}

// Plan asks the server to plan ref of its repository; out receives the
// plan (plan.Plan).
func (c *Client) Plan(ctx context.Context, ref string, out any) error {
	return c.get(ctx, api.PathPlan, url.Values{"ref": {ref}}, out)
}

// Logs opens the log of a container of a pod. Without Follow the whole
// read is bounded by the client's timeout; with Follow only ctx ends it.
// The caller closes the stream.
func (c *Client) Logs(ctx context.Context, namespace, name string, o api.LogOptions) (io.ReadCloser, error) {
	cancel := context.CancelFunc(func() {})
	if !o.Follow && c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	req, err := c.newRequest(ctx, http.MethodGet, api.NamespacedPath(api.PathPods, namespace, name)+"/log", o.Query(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.send(req)
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelBody{ReadCloser: resp.Body, cancel: cancel}, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
