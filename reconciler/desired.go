package reconciler

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/deployments"
	"github.com/berth-dev/berth/manifest"
)

// Desired is one revision of desired state: what a Git commit says.
type Desired struct {
	Revision   string
	Subject    string
	Author     string
	CommitTime time.Time
	Objects    []manifest.Object
}

// Owner kinds.
const (
	OwnerPod        = "Pod"
	OwnerDeployment = "Deployment"
	OwnerJob        = "Job"
	OwnerDaemonSet  = "DaemonSet"
)

// templateHash names a pod template: the same metadata and spec give the
// same hash, so a pod made from it is up to date exactly when its hash
// equals the template's. FNV over the JSON form, as Kubernetes hashes
// templates for pod-template-hash.
func templateHash(meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	return fmt.Sprintf("%010x", hashJSON(meta.Labels, meta.Annotations, spec))[:10]
}

// hashJSON is FNV-64a over the JSON form of values.
func hashJSON(values ...any) uint64 {
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	for _, v := range values {
		_ = enc.Encode(v)
	}
	return h.Sum64()
}

// newUID returns a random RFC 4122 version 4 UID. Pod UIDs need not be
// deterministic: names are, and a name is created once.
func newUID() types.UID {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return types.UID(s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:])
}

// newPodRecord makes the record of a pod to create from a template.
func newPodRecord(namespace, name string, owner Owner, meta *metav1.ObjectMeta, spec *corev1.PodSpec, hash, revision string, now time.Time) *PodRecord {
	labels := maps.Clone(meta.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[api.LabelOwnerKind] = owner.Kind
	labels[api.LabelOwnerName] = owner.Name
	labels[api.LabelTemplateHash] = hash
	ann := maps.Clone(meta.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if revision != "" {
		ann[api.AnnotationRevision] = revision
	}
	pod := corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         namespace,
			Name:              name,
			UID:               newUID(),
			Labels:            labels,
			Annotations:       ann,
			CreationTimestamp: metav1.NewTime(now),
		},
		Spec:   *spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	pod.Spec.NodeName = ""
	return &PodRecord{Pod: pod, Owner: owner, TemplateHash: hash, Revision: revision, Created: now}
}

// deleting reports whether the pod is being removed.
func (p *PodRecord) deleting() bool { return p.Pod.DeletionTimestamp != nil }

// markDeleted asks for the pod to be stopped. An unbound pod has nothing
// on any node and can be forgotten at once; the caller checks bound(). A
// bound one drains first: it leaves the endpoints now and its agent is
// told to stop it once the nodes confirmed that (Network.RunDrain).
func (p *PodRecord) markDeleted(now time.Time) {
	if p.Pod.DeletionTimestamp == nil {
		t := metav1.NewTime(now)
		p.Pod.DeletionTimestamp = &t
		p.Draining = p.bound()
	}
}

func (p *PodRecord) bound() bool { return p.Pod.Spec.NodeName != "" }

func (p *PodRecord) key() string { return p.Pod.Namespace + "/" + p.Pod.Name }

// ready reports the pod's Ready condition as last reported.
func (p *PodRecord) ready() bool {
	for _, c := range p.Pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readySince is when the pod became Ready: ReadySince if the server
// recorded it, else the transition time its node reported.
func (p *PodRecord) readySince() time.Time {
	if !p.ReadySince.IsZero() {
		return p.ReadySince
	}
	for _, c := range p.Pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// finished reports whether the pod ran to an end (it will not run again).
func (p *PodRecord) finished() bool { return terminalPhase(p.Pod.Status.Phase) }

// terminalPhase: Succeeded and Failed are final.
func terminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// observeForDeployment is what the Deployment controller reads of a pod.
func (p *PodRecord) observeForDeployment() deployments.ObservedPod {
	o := deployments.ObservedPod{
		Name:         p.Pod.Name,
		UID:          p.Pod.UID,
		TemplateHash: p.TemplateHash,
		Bound:        p.bound(),
		Phase:        p.Pod.Status.Phase,
		Ready:        p.ready(),
		ReadySince:   p.readySince(),
		Deleting:     p.deleting(),
		Created:      p.Created,
	}
	for _, cs := range p.Pod.Status.ContainerStatuses {
		o.Restarts = max(o.Restarts, cs.RestartCount)
	}
	return o
}
