package api

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// PathSnapshot is where the server answers the cluster snapshot `berth
// plan` checks a revision against (GET, admin token).
const PathSnapshot = "/berth/v1/snapshot"

// PathPlan is where the server plans a ref of its own repository (GET
// ?ref=refs/pull/123/head, admin token): `berth plan --server --ref`.
const PathPlan = "/berth/v1/plan"

// ClusterSnapshot is what admission reads of a cluster, at one moment:
// the nodes as the scheduler sees them, the pods (bound or waiting) with
// what made them, and the Jobs. `berth get snapshot -o json` writes it for
// CI that cannot reach the server; `berth plan --snapshot` reads it.
type ClusterSnapshot struct {
	// Time is when the snapshot was read; Applied is the revision the
	// server had admitted then, so a stale plan is recognisable.
	Time    time.Time      `json:"time"`
	Applied *Revision      `json:"applied,omitempty"`
	Nodes   []SnapshotNode `json:"nodes"`
	Pods    []SnapshotPod  `json:"pods"`
	Jobs    []SnapshotJob  `json:"jobs"`
	// Claims are the PersistentVolumeClaims the server keeps, with the
	// node each bound one pins its pods to.
	Claims []SnapshotClaim `json:"claims,omitempty"`
	// ServiceCIDR is where the server allocates cluster IPs; Services
	// are the addresses its admitted Services hold, by "namespace/name".
	// A head whose Services clash with them is refused.
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
	// Strategy is the server's placement strategy (spread, binpack): a
	// plan places the head's pods as the server would.
	Strategy string                     `json:"strategy,omitempty"`
	Services map[string]SnapshotService `json:"services,omitempty"`
}

// SnapshotClaim is one claim and the node holding its data ("" while
// unbound).
type SnapshotClaim struct {
	Claim corev1.PersistentVolumeClaim `json:"claim"`
	Node  string                       `json:"node,omitempty"`
}

// SnapshotService is what one admitted Service holds.
type SnapshotService struct {
	ClusterIP string `json:"clusterIP,omitempty"`
	// NodePorts maps "port/protocol" to its node port.
	NodePorts map[string]int32 `json:"nodePorts,omitempty"`
}

// SnapshotNode is one node as the scheduler reads it.
type SnapshotNode struct {
	Name          string              `json:"name"`
	Labels        map[string]string   `json:"labels,omitempty"`
	Taints        []corev1.Taint      `json:"taints,omitempty"`
	Allocatable   corev1.ResourceList `json:"allocatable"`
	Ready         bool                `json:"ready"`
	Unschedulable bool                `json:"unschedulable,omitempty"`
}

// SnapshotPod is one pod the server keeps, with what made it (OwnerKind
// Pod, Deployment or Job and its name) and the template it was made from.
type SnapshotPod struct {
	Pod          corev1.Pod `json:"pod"`
	OwnerKind    string     `json:"ownerKind"`
	OwnerName    string     `json:"ownerName"`
	TemplateHash string     `json:"templateHash"`
}

// SnapshotJob is one Job the server keeps; CronJob names the CronJob that
// made it, if any.
type SnapshotJob struct {
	Job     batchv1.Job `json:"job"`
	CronJob string      `json:"cronJob,omitempty"`
}
