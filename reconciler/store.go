package reconciler

import (
	"context"
	"errors"
	"github.com/berth-dev/berth/serviceaddr"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/jobs"
)

// ErrNotFound is returned by the store's getters for a missing record.
var ErrNotFound = errors.New("not found")

// Store holds what is not in Git. It is an interface so an etcd-backed
// implementation can follow for highly available control planes; the
// embedded one is bbolt (OpenBolt). Every state change the reconciler makes
// is one Update, so a crash leaves either all of it or none.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(fn func(ReadTx) error) error
	// Update runs fn in one read-write transaction: if fn returns an error
	// nothing it wrote is kept. Every committed Update that changed a
	// record raises Version by one, except for telemetry nothing waits
	// for: a node's LastHeartbeat and the sync record's fetch times, when
	// they are all that changed, are stored without raising it.
	Update(fn func(Tx) error) error
	// WaitChange blocks until the store's version is greater than since, or
	// ctx ends, and returns the version then.
	WaitChange(ctx context.Context, since uint64) (uint64, error)
	Close() error
}

// ReadTx reads records. Getters return ErrNotFound for missing records.
// Records returned are copies: changing them changes nothing until Put.
type ReadTx interface {
	Version() uint64
	Pod(namespace, name string) (*PodRecord, error)
	Pods() ([]*PodRecord, error)
	Node(name string) (*NodeRecord, error)
	Nodes() ([]*NodeRecord, error)
	Deployment(namespace, name string) (*DeploymentRecord, error)
	Deployments() ([]*DeploymentRecord, error)
	Job(namespace, name string) (*JobRecord, error)
	Jobs() ([]*JobRecord, error)
	CronJob(namespace, name string) (*CronJobRecord, error)
	CronJobs() ([]*CronJobRecord, error)
	DaemonSet(namespace, name string) (*DaemonSetRecord, error)
	DaemonSets() ([]*DaemonSetRecord, error)
	StatefulSet(namespace, name string) (*StatefulSetRecord, error)
	StatefulSets() ([]*StatefulSetRecord, error)
	Claim(namespace, name string) (*ClaimRecord, error)
	Claims() ([]*ClaimRecord, error)
	// Sync is the Git sync state; a zero record before the first sync.
	Sync() (*SyncRecord, error)
	// ServiceAddresses is every Service's cluster IP and node ports as
	// admitted last (empty before the first Service).
	ServiceAddresses() (serviceaddr.Table, error)
	// Events returns the newest events, oldest first, at most limit.
	Events(limit int) ([]api.Event, error)
}

// Tx reads and writes records inside one Update.
type Tx interface {
	ReadTx
	PutPod(*PodRecord) error
	DeletePod(namespace, name string) error
	// PutNode stores a node. The store raises its Generation whenever a
	// fact scheduling depends on changes (labels, taints, allocatable,
	// ready, unschedulable) — not for a heartbeat — so a plan made on an
	// older view of the node can be refused without heartbeats refusing
	// every plan.
	PutNode(*NodeRecord) error
	DeleteNode(name string) error
	PutDeployment(*DeploymentRecord) error
	DeleteDeployment(namespace, name string) error
	PutJob(*JobRecord) error
	DeleteJob(namespace, name string) error
	PutCronJob(*CronJobRecord) error
	DeleteCronJob(namespace, name string) error
	PutDaemonSet(*DaemonSetRecord) error
	DeleteDaemonSet(namespace, name string) error
	PutStatefulSet(*StatefulSetRecord) error
	DeleteStatefulSet(namespace, name string) error
	PutClaim(*ClaimRecord) error
	DeleteClaim(namespace, name string) error
	PutSync(*SyncRecord) error
	PutServiceAddresses(serviceaddr.Table) error
	// AddEvent records an event; an event equal to the newest one with the
	// same object and reason raises its Count instead. Old events are
	// dropped past a bound.
	AddEvent(api.Event) error
}

// Owner names what made a pod.
type Owner struct {
	Kind string `json:"kind"` // Pod (written in Git as a Pod), Deployment, Job
	Name string `json:"name"`
}

// PodRecord is one pod the server wants to exist (or to be removed).
// Pod holds metadata (with UID, labels, annotations), spec (with NodeName
// once bound) and the status last reported by the node; DeletionTimestamp
// set means the pod is being removed.
type PodRecord struct {
	Pod   corev1.Pod `json:"pod"`
	Owner Owner      `json:"owner"`
	// TemplateHash identifies the spec the pod was made from; a different
	// hash in Git means the pod is outdated.
	TemplateHash string `json:"templateHash"`
	// Revision is the Git revision that made the pod.
	Revision string `json:"revision,omitempty"`
	// Unschedulable is the scheduler's message while the pod is unbound.
	Unschedulable string    `json:"unschedulable,omitempty"`
	Created       time.Time `json:"created"`
	// StatusTime is when the node last reported the pod's status.
	StatusTime time.Time `json:"statusTime,omitzero"`
	// ReadySince is when the pod last became Ready (for minReadySeconds).
	ReadySince time.Time `json:"readySince,omitzero"`
	// Draining is set with DeletionTimestamp on a bound pod: the pod has
	// left every Service's endpoints, but its agent still runs it until
	// every Ready node confirmed a network version without it (the
	// rollout gate, Network.RunDrain), which clears it.
	Draining bool `json:"draining,omitempty"`
}

// NodeRecord is a registered agent.
type NodeRecord struct {
	Name          string              `json:"name"`
	Labels        map[string]string   `json:"labels,omitempty"`
	Taints        []corev1.Taint      `json:"taints,omitempty"`
	Capacity      corev1.ResourceList `json:"capacity"`
	Allocatable   corev1.ResourceList `json:"allocatable"`
	PodCIDR       string              `json:"podCIDR"`
	Address       string              `json:"address,omitempty"`
	Unschedulable bool                `json:"unschedulable,omitempty"`
	Registered    time.Time           `json:"registered"`
	LastHeartbeat time.Time           `json:"lastHeartbeat"`
	// Ready is false once heartbeats stop for the node timeout.
	Ready bool `json:"ready"`
	// FenceIDs are the IDs of the node's newest fences the server
	// recorded (api.Fence.ID), so a fence sent again is recorded once.
	FenceIDs []string `json:"fenceIDs,omitempty"`
	// Generation is raised by the store when a scheduling fact changes.
	Generation uint64 `json:"generation"`
	// CredentialHash is the SHA-256 (hex) of the node token the API
	// server issued at register: the agent's later calls carry that token,
	// so one node cannot speak for another even though all share the
	// join token.
	CredentialHash string `json:"credentialHash,omitempty"`
	// CertKeyHash is the pin (pki.Hash) of the key the node's certificate
	// was issued for: a client certificate authenticates the node only
	// while it names a registered node and is for this key, so a deleted
	// node's certificate, or an older key's, is refused.
	CertKeyHash string `json:"certKeyHash,omitempty"`
	// Build is what the node's agent said about its build at register.
	Build api.BuildInfo `json:"build"`
}

// DeploymentRecord keeps a Deployment's status and rollout bookkeeping.
type DeploymentRecord struct {
	Namespace string                  `json:"namespace"`
	Name      string                  `json:"name"`
	Status    appsv1.DeploymentStatus `json:"status"`
	// TemplateHash is the hash of the template being rolled out.
	TemplateHash string `json:"templateHash"`
	// LastProgress is when the rollout last made progress, for
	// progressDeadlineSeconds.
	LastProgress time.Time `json:"lastProgress,omitzero"`
	// Created is when berth first saw the Deployment (objects in Git have
	// no creation time of their own); it is the AGE the CLI shows.
	Created time.Time `json:"created,omitzero"`
	// RolloutRevision numbers the rollouts (deployment.kubernetes.io/revision).
	RolloutRevision int64 `json:"rolloutRevision,omitempty"`
	// Revision is the Git revision the loop last reconciled the
	// Deployment at (berth.dev/revision): `rollout status` reports
	// nothing until it is the revision it waits for.
	Revision string `json:"revision,omitempty"`
}

// DaemonSetRecord keeps a DaemonSet's status.
type DaemonSetRecord struct {
	Namespace string                 `json:"namespace"`
	Name      string                 `json:"name"`
	Status    appsv1.DaemonSetStatus `json:"status"`
	// Created is when berth first saw the DaemonSet.
	Created time.Time `json:"created,omitzero"`
}

// StatefulSetRecord keeps a StatefulSet's status and the pod templates
// of its current and update revisions: a pod below a RollingUpdate
// partition is made again from the current revision's template, which
// Git no longer holds (Kubernetes keeps ControllerRevisions for this).
type StatefulSetRecord struct {
	Namespace string                   `json:"namespace"`
	Name      string                   `json:"name"`
	Status    appsv1.StatefulSetStatus `json:"status"`
	// Created is when berth first saw the StatefulSet.
	Created time.Time `json:"created,omitzero"`
	// Templates are the pod templates by revision (template hash).
	Templates map[string]corev1.PodTemplateSpec `json:"templates,omitempty"`
}

// ClaimRecord is a PersistentVolumeClaim on node-local storage: from Git,
// or made from a StatefulSet's volumeClaimTemplates. Claim.Status.Phase
// is Pending until its first pod is placed, Bound (to Node) from then
// on, and Released once it left Git under reclaimPolicy Retain (its data
// stays on Node). Claim.DeletionTimestamp set means Node is told to
// remove its data; the record goes when the node reports it gone.
type ClaimRecord struct {
	Claim corev1.PersistentVolumeClaim `json:"claim"`
	// Owner is the StatefulSet whose template made the claim, or
	// {PersistentVolumeClaim, name} for a claim written in Git.
	Owner Owner `json:"owner"`
	// Node is the node holding the claim's directory, "" while Pending.
	Node string `json:"node,omitempty"`
	// ReclaimPolicy is its class's, resolved when the claim was made (as
	// a PersistentVolume keeps the class's policy).
	ReclaimPolicy corev1.PersistentVolumeReclaimPolicy `json:"reclaimPolicy"`
	// DeleteWithOwner is the StatefulSet's whenDeleted: Delete, kept so
	// the claim knows what to do once its set is gone from Git.
	DeleteWithOwner bool      `json:"deleteWithOwner,omitempty"`
	Created         time.Time `json:"created"`
}

// JobRecord is a Job: from Git, or made by a CronJob (then Spec is the
// only copy of it, so it is stored whole).
type JobRecord struct {
	Job      batchv1.Job      `json:"job"` // with UID and Status
	Progress jobs.JobProgress `json:"progress"`
	// CronJob names the CronJob that made the Job, or is empty.
	CronJob string `json:"cronJob,omitempty"`
	// Revision is the Git revision the Job (or its CronJob) came from.
	Revision string `json:"revision,omitempty"`
}

// CronJobRecord keeps a CronJob's schedule state and status.
type CronJobRecord struct {
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	State     jobs.CronJobState     `json:"state"`
	Status    batchv1.CronJobStatus `json:"status"`
}

// SyncRecord is the Git sync state shown by `berth status`.
type SyncRecord struct {
	Status api.SyncStatus `json:"status"`
}
