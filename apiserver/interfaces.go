package apiserver

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// What the API needs of the control plane. Each is a small interface so the
// HTTP layer decides nothing but transport, authentication and powers: the
// implementations (in berth, reconciler.Membership, reconciler.AgentPods,
// reconciler.PodReports and reconciler.Reads) decide what a report or a
// register means and what users see.
//
// A refusal the caller should see (404, 409, 400) is returned as an
// *api.Error, answered with its Code, Reason and Message; any other error
// is a 500 whose details go to the log only.

// NodeRegistry is node membership: registration, node credentials and
// heartbeats, and the Node objects users read.
type NodeRegistry interface {
	// Authenticate reports whether token is the credential issued to node.
	Authenticate(node, token string) (bool, error)
	// IsNodeToken reports whether token is any node's credential; it only
	// chooses between 401 and 403 for a refused request.
	IsNodeToken(token string) bool
	// AuthenticateCert reports whether a client certificate for the key
	// pinned by keyHash (pki.Hash) is the current one of node.
	AuthenticateCert(node, keyHash string) (bool, error)
	// Register records the node of req. self says the caller proved it is
	// that node (by certificate, or by its node token in ownToken); else
	// it came with a join token and registers a new name only.
	Register(req *api.RegisterRequest, self bool, ownToken string) (*api.RegisterResponse, error)
	// Heartbeat notes that the node's agent is alive.
	Heartbeat(node string) error
	// Delete removes a node, its credential and its subnet (admin).
	Delete(node string) error
	// Nodes and Node show the nodes as Nodes.
	Nodes() ([]corev1.Node, error)
	Node(name string) (*corev1.Node, error)
}

// PodFeed is what agents are told to run.
type PodFeed interface {
	// NodePods returns the node's pod list and the version it was read
	// at.
	NodePods(node string) (list *api.PodList, version uint64, err error)
	// WaitNodeChange blocks until the node's list has a resourceVersion
	// other than rv, or ctx ends; changes to other nodes' lists do not
	// wake it.
	WaitNodeChange(ctx context.Context, node string, rv uint64) error
}

// StatusSink takes the pod statuses a node reports.
type StatusSink interface {
	Report(node string, rep *api.PodStatusReport) (*api.PodStatusResponse, error)
}

// ClusterReader is the users' view of the cluster. The list methods filter
// by namespace and name when those are not empty; a name that matches
// nothing is an empty list.
type ClusterReader interface {
	SyncStatus() (*api.SyncStatus, error)
	Pods(ns, name string) ([]corev1.Pod, error)
	Deployments(ns, name string) ([]appsv1.Deployment, error)
	DaemonSets(ns, name string) ([]appsv1.DaemonSet, error)
	StatefulSets(ns, name string) ([]appsv1.StatefulSet, error)
	Claims(ns, name string) ([]corev1.PersistentVolumeClaim, error)
	Jobs(ns, name string) ([]batchv1.Job, error)
	CronJobs(ns, name string) ([]batchv1.CronJob, error)
	// ConfigMaps and Secrets of the applied revision; Secrets as keys
	// and sizes only.
	ConfigMaps(ns, name string) ([]corev1.ConfigMap, error)
	Secrets(ns, name string) ([]api.SecretSummary, error)
	Events(kind, ns, name string) ([]api.Event, error)
	// PodLogTarget returns the pod and the address of the agent that
	// serves its logs ("" when none does).
	PodLogTarget(ns, name string) (pod *corev1.Pod, agentAddress string, err error)
	// Snapshot is what admission reads of the cluster, for `berth plan`.
	Snapshot(now time.Time) (*api.ClusterSnapshot, error)
}

// Planner plans a ref of the server's own repository for `berth plan
// --server URL --ref REF`: it fetches the ref into the server's clone
// (without changing what the server follows) and answers the plan (a
// JSON value) against the applied revision and the cluster as it is.
type Planner interface {
	Plan(ctx context.Context, ref string) (any, error)
}

// TokenStore holds the admin's bootstrap tokens (api.Token).
type TokenStore interface {
	// Lookup returns the usages of a live token (api.TokenUsage*); an
	// unknown or expired one is not found.
	Lookup(token string) (usages []string, ok bool)
	Create(req api.TokenCreateRequest) (*api.Token, error)
	List() ([]api.Token, error)
	// Delete removes a token by ID; an unknown one is a 404 *api.Error.
	Delete(id string) error
}
