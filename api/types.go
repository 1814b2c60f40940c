package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Paths of the agent API. User-facing resources follow the Kubernetes API
// layout (/api/v1/..., /apis/apps/v1/..., /apis/batch/v1/...) and return
// k8s.io/api types, so `-o yaml` looks like kubectl's.
const (
	PathRegister     = "/berth/v1/agent/register"
	PathHeartbeat    = "/berth/v1/agent/heartbeat"
	PathAgentPods    = "/berth/v1/agent/pods"   // GET: long-poll watch of the pods bound to the calling node
	PathPodStatus    = "/berth/v1/agent/status" // POST: pod statuses from the calling node
	PathStatus       = "/berth/v1/status"       // GET: sync state for `berth status`
	PathNodes        = "/api/v1/nodes"
	PathPods         = "/api/v1/pods"
	PathEvents       = "/api/v1/events"
	PathDeploy       = "/apis/apps/v1/deployments"
	PathDaemonSets   = "/apis/apps/v1/daemonsets"
	PathStatefulSets = "/apis/apps/v1/statefulsets"
	PathClaims       = "/api/v1/persistentvolumeclaims"
	PathJobs         = "/apis/batch/v1/jobs"
	PathCronJobs     = "/apis/batch/v1/cronjobs"
	HeaderNodeName   = "X-Berth-Node"
)

// ResourceClaimStorage is the resource a node offers claims in (bytes
// under the agent's --storage-dir), reported in its capacity and
// allocatable beside cpu and memory.
const ResourceClaimStorage corev1.ResourceName = "berth.dev/claim-storage"

// Annotations on the claims users read: the node holding a claim's data,
// and its reclaim policy (Kubernetes shows both on the PersistentVolume).
const (
	AnnotationClaimNode     = "berth.dev/node"
	AnnotationReclaimPolicy = "berth.dev/reclaim-policy"
)

// Labels and annotations berth puts on the pods it makes.
const (
	LabelOwnerKind     = "berth.dev/owner-kind"
	LabelOwnerName     = "berth.dev/owner-name"
	LabelTemplateHash  = "pod-template-hash"
	AnnotationRevision = "berth.dev/revision"
	// AnnotationRolloutRevision numbers a Deployment's rollouts, as
	// Kubernetes does.
	AnnotationRolloutRevision = "deployment.kubernetes.io/revision"
)

// RegisterRequest is what an agent says about itself when it starts.
type RegisterRequest struct {
	Name        string              `json:"name"`
	Labels      map[string]string   `json:"labels,omitempty"`
	Taints      []corev1.Taint      `json:"taints,omitempty"`
	Capacity    corev1.ResourceList `json:"capacity"`
	Allocatable corev1.ResourceList `json:"allocatable"`
	// Address is where the agent serves logs (host:port), for the server
	// to proxy `berth logs`.
	Address string `json:"address,omitempty"`
	// Build is the agent's build; the server refuses a protocol it cannot
	// speak (CheckAgentProtocol) and shows the version in `get nodes`.
	Build BuildInfo `json:"build"`
	// CSR is a PEM certificate request for the node's key: the server
	// signs it with the cluster CA, for the node's name and the host of
	// Address, and the agent's log server presents that certificate.
	CSR string `json:"csr,omitempty"`
}

// RegisterResponse gives the agent its pod subnet, allocated by the server
// from --cluster-cidr so no two nodes' pods share an address.
type RegisterResponse struct {
	PodCIDR string `json:"podCIDR"`
	// HeartbeatInterval is how often the server wants a heartbeat.
	HeartbeatInterval Duration `json:"heartbeatInterval"`
	// NodeToken is the node's own bearer token: every later agent call
	// (heartbeat, watch, status, and re-registering while the node is
	// alive) presents it instead of the join token.
	NodeToken string `json:"nodeToken,omitempty"`
	// Certificate is the node's certificate (PEM) signed from CSR, and CA
	// the cluster CA's (PEM): the agent's log server presents the one and
	// accepts only the server's client certificate of the other.
	Certificate string `json:"certificate,omitempty"`
	CA          string `json:"ca,omitempty"`
	// ClusterDNS is the address agents with the pod network on serve
	// cluster DNS at, and ClusterDomain its zone: what ClusterFirst pods
	// get in their resolv.conf.
	ClusterDNS    string `json:"clusterDNS,omitempty"`
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// NodeTimeout, FenceGrace and HeartbeatFlush are the server's side of
	// the partition rule (package fencing): the agent's lease ends a
	// margin before NodeTimeout; pods move FenceGrace after it. Zero from
	// a server without the rule: the agent does not fence.
	NodeTimeout    Duration `json:"nodeTimeout"`
	FenceGrace     Duration `json:"fenceGrace"`
	HeartbeatFlush Duration `json:"heartbeatFlush"`
}

// PodList is the full list of pods bound to one node. The agent makes the
// node match it. A pod with DeletionTimestamp set is to be stopped (with
// its grace period) and then reported gone.
type PodList struct {
	// ResourceVersion orders lists: a watch with ?resourceVersion=N returns
	// as soon as the node's list differs from version N, or after a timeout
	// with the same list.
	ResourceVersion uint64       `json:"resourceVersion"`
	Items           []corev1.Pod `json:"items"`
	// Configs are the ConfigMaps and Secrets the listed pods use, and no
	// others (the node restriction rule); a change to one is a new list.
	Configs []BoundConfig `json:"configs,omitempty"`
	// DeleteClaims are claims whose data this node keeps and is to remove
	// (reclaimPolicy Delete, no pod using them); the agent removes each
	// claim's directory and says so in ClaimsDeleted.
	DeleteClaims []ClaimRef `json:"deleteClaims,omitempty"`
}

// ClaimRef names one PersistentVolumeClaim kept on a node.
type ClaimRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// PodStatusReport is what an agent observed, for every pod it runs.
type PodStatusReport struct {
	Pods []PodStatus `json:"pods"`
	// ClaimsDeleted are claims of PodList.DeleteClaims whose data the
	// node removed; the server then forgets them.
	ClaimsDeleted []ClaimRef `json:"claimsDeleted,omitempty"`
	// Events are what the agent recorded about its pods since its last
	// report (lifecycle hooks that failed), as the kubelet's event
	// recorder sends them; the server keeps those of pods bound to the
	// node.
	Events []Event `json:"events,omitempty"`
	// Fences are the times the node fenced its pods (see Fence), sent
	// from when it reaches the server again until a report is answered.
	Fences []Fence `json:"fences,omitempty"`
}

// PodStatus is one pod's observed status, identified by UID.
type PodStatus struct {
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	UID       string           `json:"uid"`
	Status    corev1.PodStatus `json:"status"`
	// Gone is true once every trace of a pod that was to be deleted is
	// removed from the node; the server then forgets the pod.
	Gone bool `json:"gone,omitempty"`
}

// Event is something that happened to an object, as `kubectl describe`
// shows it.
type Event struct {
	Time      time.Time `json:"time"`
	Type      string    `json:"type"` // Normal or Warning
	Reason    string    `json:"reason"`
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	Message   string    `json:"message"`
	Count     int       `json:"count,omitempty"`
}

// EventList is a list of events, oldest first.
type EventList struct {
	Items []Event `json:"items"`
}

// SyncStatus is the state of the Git sync, for `berth status`.
type SyncStatus struct {
	Repository string `json:"repository"`
	Ref        string `json:"ref,omitempty"`
	Path       string `json:"path,omitempty"`
	// Applied is the revision whose objects are running.
	Applied *Revision `json:"applied,omitempty"`
	// Fetched is the newest revision fetched, applied or not yet: `berth
	// rollout status` waits until it is applied or refused.
	Fetched string `json:"fetched,omitempty"`
	// LastFetch and LastFetchError describe the newest fetch attempt.
	LastFetch        time.Time `json:"lastFetch,omitempty"`
	LastFetchSuccess time.Time `json:"lastFetchSuccess,omitempty"`
	LastFetchError   string    `json:"lastFetchError,omitempty"`
	// Rejected is the newest revision that was not applied, and why.
	Rejected *RejectedRevision `json:"rejected,omitempty"`
	// Warnings are what the newest good revision was accepted with but
	// should change, such as a Secret in clear text in Git.
	Warnings []ManifestError `json:"warnings,omitempty"`
	// State is Synced, Progressing, Rejected or Unknown.
	State string `json:"state"`
	// Unschedulable are pods of the applied revision that are bound to no
	// node right now (a node was lost, or a Job pod waits for room), with
	// the scheduler's reason. Filled by the API server from pod records.
	Unschedulable []UnplaceablePod `json:"unschedulable,omitempty"`
	// Skipped are the objects of the newest good revision whose kinds
	// .berth.yaml's skipKinds lists: read, validated as YAML, not run.
	Skipped []SkippedObject `json:"skipped,omitempty"`
}

// SkippedObject is an object berth read from Git and does not run.
type SkippedObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
}

// Revision names one commit.
type Revision struct {
	SHA     string    `json:"sha"`
	Subject string    `json:"subject,omitempty"`
	Author  string    `json:"author,omitempty"`
	Time    time.Time `json:"time,omitempty"`
	Applied time.Time `json:"applied,omitempty"`
}

// RejectedRevision is a commit berth refused, with every reason.
type RejectedRevision struct {
	Revision
	// Errors are manifest problems as file:line: field: message.
	Errors []ManifestError `json:"errors,omitempty"`
	// Unplaceable are pods the revision needs that cannot all be placed.
	Unplaceable []UnplaceablePod `json:"unplaceable,omitempty"`
	// Message is any other reason (signature, fetch of the tree).
	Message string `json:"message,omitempty"`
}

// ManifestError is one problem in one file.
type ManifestError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// UnplaceablePod says why a pod fits nowhere.
type UnplaceablePod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Message is in kube-scheduler's form: "0/2 nodes are available: 2
	// Insufficient memory."
	Message string `json:"message"`
	// Shortfall is what the best node lacks, e.g. "memory 512Mi".
	Shortfall string `json:"shortfall,omitempty"`
	// Count is how many pods this line stands for: pods of one owner that
	// fail for the same reason are one line (Name then says "302 pods of
	// deployment web").
	Count int `json:"count,omitempty"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"` // Unauthorized, Forbidden, BadRequest, NotFound, Conflict, Internal
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }

// WriteError answers with code and an Error body, as the server and the
// agents' log servers both do.
func WriteError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&Error{Code: code, Reason: reason, Message: msg})
}

// BearerToken is the token of the request's "Authorization: Bearer"
// header, or "".
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return token
}

// Duration is a time.Duration that reads and writes as "15s" in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string such as "15s".
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads a string such as "15s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return &Error{Code: 400, Reason: "BadRequest", Message: "duration must be a string such as \"15s\""}
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}
