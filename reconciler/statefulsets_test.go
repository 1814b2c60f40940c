package reconciler

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/endpoints"
)

// statefulYAML is a StatefulSet web of n replicas with one claim
// template, data, of 1Gi.
func statefulYAML(replicas int, image, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: %d
  serviceName: web
  selector: {matchLabels: {app: web}}
%s  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: %q
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
`, replicas, extra, image)
}

// claimYAML is a claim in Git and a Pod using it; class "" is the
// default class.
func claimYAML(name, class string) string {
	cls := ""
	if class != "" {
		cls = "  storageClassName: " + class + "\n"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
%[2]s---
apiVersion: v1
kind: Pod
metadata: {name: use-%[1]s}
spec:
  containers:
  - {name: app, image: "busybox:1", resources: {requests: {cpu: 100m, memory: 64Mi}}, volumeMounts: [{name: d, mountPath: /d}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: %[1]s}}]
---
`, name, cls)
}

const retainClassYAML = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: berth.dev/local
reclaimPolicy: Retain
---
`

// addStorageNode is a node offering storage for claims.
func (h *harness) addStorageNode(name, storage string) {
	h.t.Helper()
	h.addNode(name, "2", "2Gi")
	if err := h.store.Update(func(tx Tx) error {
		n, err := tx.Node(name)
		if err != nil {
			return err
		}
		n.Allocatable[api.ResourceClaimStorage] = resource.MustParse(storage)
		return tx.PutNode(n)
	}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) claims() map[string]*ClaimRecord {
	h.t.Helper()
	out := map[string]*ClaimRecord{}
	if err := h.store.View(func(tx ReadTx) error {
		recs, err := tx.Claims()
		for _, c := range recs {
			out[c.Claim.Name] = c
		}
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// removeClaimData acts for node's agent on the claims its pod list says
// to delete: it reports them removed, through PodReports as an agent does.
func (h *harness) removeClaimData(node string) []api.ClaimRef {
	h.t.Helper()
	list, _, err := NewAgentPods(h.store).NodePods(node)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(list.DeleteClaims) > 0 {
		if _, err := NewPodReports(h.store, h.clock).Report(node, &api.PodStatusReport{ClaimsDeleted: list.DeleteClaims}); err != nil {
			h.t.Fatal(err)
		}
	}
	return list.DeleteClaims
}

// statefulPods maps pod name to node, for the live pods of set web.
func (h *harness) statefulPods() map[string]string {
	out := map[string]string{}
	for _, p := range h.pods() {
		if p.Owner.Kind == OwnerStatefulSet && !p.deleting() {
			out[p.Pod.Name] = p.Pod.Spec.NodeName
		}
	}
	return out
}

func TestStatefulSetOrderedReadyMakesOnePodAtATimeWithItsClaim(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	h.addStorageNode("n2", "10Gi")
	h.src.push("r1", decodeObjs(t, statefulYAML(3, "busybox:1", "")))
	h.reconcile()
	if got := h.statefulPods(); len(got) != 1 || got["web-0"] == "" {
		t.Fatalf("after one pass: pods %v, want web-0 alone, bound", got)
	}
	c := h.claims()["data-web-0"]
	if c == nil || c.Node != h.statefulPods()["web-0"] || c.Claim.Status.Phase != corev1.ClaimBound {
		t.Fatalf("claim data-web-0 %+v, want bound to web-0's node", c)
	}
	// web-1 waits for web-0 to run and be ready.
	h.reconcile()
	if got := h.statefulPods(); len(got) != 1 {
		t.Fatalf("web-0 not ready yet, pods %v", got)
	}
	h.converge("n1", "n2")
	pods := h.statefulPods()
	claims := h.claims()
	for o := range 3 {
		pod, claim := fmt.Sprintf("web-%d", o), fmt.Sprintf("data-web-%d", o)
		if pods[pod] == "" || claims[claim] == nil || claims[claim].Node != pods[pod] {
			t.Fatalf("%s on %q, its claim %+v", pod, pods[pod], claims[claim])
		}
	}
	for _, p := range h.pods() {
		if p.Pod.Spec.Hostname != p.Pod.Name || p.Pod.Spec.Subdomain != "web" || p.Pod.Labels[labelStatefulPodName] != p.Pod.Name {
			t.Fatalf("pod %s: hostname %q subdomain %q labels %v", p.Pod.Name, p.Pod.Spec.Hostname, p.Pod.Spec.Subdomain, p.Pod.Labels)
		}
	}
}

func TestStatefulSetScaleDownKeepsClaimsAndScaleUpReturnsToThem(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		h.addStorageNode(n, "10Gi")
	}
	h.src.push("r1", decodeObjs(t, statefulYAML(3, "busybox:1", "")))
	h.converge("n1", "n2", "n3")
	before := h.statefulPods()
	uids := map[string]string{}
	for n, c := range h.claims() {
		uids[n] = string(c.Claim.UID)
	}
	h.src.push("r2", decodeObjs(t, statefulYAML(1, "busybox:1", "")))
	h.converge("n1", "n2", "n3")
	if got := h.statefulPods(); len(got) != 1 || got["web-0"] != before["web-0"] {
		t.Fatalf("scaled to 1: pods %v", got)
	}
	if got := h.claims(); len(got) != 3 {
		t.Fatalf("scale down dropped claims: %v", got)
	}
	h.src.push("r3", decodeObjs(t, statefulYAML(3, "busybox:1", "")))
	h.converge("n1", "n2", "n3")
	after := h.statefulPods()
	for pod, node := range before {
		if after[pod] != node {
			t.Errorf("%s came back on %q, its claim is on %q", pod, after[pod], node)
		}
	}
	for n, c := range h.claims() {
		if uids[n] != string(c.Claim.UID) {
			t.Errorf("claim %s was made again", n)
		}
	}
}

func TestStatefulSetWhenScaledDeleteRemovesClaimData(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	policy := "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete}\n"
	h.src.push("r1", decodeObjs(t, statefulYAML(2, "busybox:1", policy)))
	h.converge("n1")
	h.src.push("r2", decodeObjs(t, statefulYAML(1, "busybox:1", policy)))
	h.converge("n1")
	if c := h.claims()["data-web-1"]; c == nil || !c.deleting() {
		t.Fatalf("data-web-1 %+v, want being deleted", c)
	}
	if refs := h.removeClaimData("n1"); len(refs) != 1 || refs[0].Name != "data-web-1" {
		t.Fatalf("n1 told to delete %v", refs)
	}
	if got := h.claims(); len(got) != 1 || got["data-web-0"] == nil {
		t.Fatalf("claims %v, want data-web-0 alone", got)
	}
}

// TestLostNodeKeepsItsClaimsPods: a pod whose claim is bound to a node
// that goes NotReady is not replaced, as Kubernetes leaves the pod of an
// unreachable node to its StatefulSet: it stays bound there with its UID,
// marked not Ready, and is the same pod when the node returns. A pod
// without a claim moves. A node deleted by the admin takes the pod with
// it: the new one waits, pending, for the claim's node.
func TestLostNodeKeepsItsClaimsPods(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		pod      string // the pod on the node that is lost
		deleted  bool   // the admin deletes the node instead of it coming back
		keepsUID bool
		// pending is the unschedulable message the pod's replacement
		// starts with ("" when there is none).
		pending string
	}{
		{name: "StatefulSet pod keeps its UID", yaml: statefulYAML(2, "busybox:1", ""), pod: "web-1", keepsUID: true},
		{name: "Pod with a claim in Git keeps its UID", yaml: claimYAML("db", "") + podYAML("a", "64Mi") + podYAML("b", "64Mi"), pod: "use-db", keepsUID: true},
		{name: "pod without a claim moves", yaml: statefulYAML(1, "busybox:1", "") + podYAML("solo", "64Mi"), pod: "solo"},
		{name: "deleted node: StatefulSet pod waits for its claim's node", yaml: statefulYAML(2, "busybox:1", ""), pod: "web-1", deleted: true,
			pending: "claim data-web-1 is bound to node %s, which is not in the cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addStorageNode("n1", "10Gi")
			h.addStorageNode("n2", "10Gi")
			h.src.push("r1", decodeObjs(t, tt.yaml))
			h.converge("n1", "n2")
			before := h.pod(tt.pod)
			node := before.Pod.Spec.NodeName
			other := map[string]string{"n1": "n2", "n2": "n1"}[node]
			for range 6 { // node stops heartbeating past the timeout and the fencing grace
				h.clock.Step(10 * time.Second)
				h.heartbeat(other)
				h.reconcile()
				h.agents(other)
			}
			if tt.deleted {
				if err := h.store.Update(func(tx Tx) error { return tx.DeleteNode(node) }); err != nil {
					t.Fatal(err)
				}
				h.reconcile()
				after := h.pod(tt.pod)
				if after.Pod.UID == before.Pod.UID || after.bound() || !strings.HasPrefix(after.Unschedulable, fmt.Sprintf(tt.pending, node)) {
					t.Fatalf("%s: uid %s (was %s) on %q, unschedulable %q; want a new pod pending with %q",
						tt.pod, after.Pod.UID, before.Pod.UID, after.Pod.Spec.NodeName, after.Unschedulable, fmt.Sprintf(tt.pending, node))
				}
				return
			}
			away := h.pod(tt.pod)
			if tt.keepsUID {
				if away.Pod.UID != before.Pod.UID || away.Pod.Spec.NodeName != node || away.ready() || away.deleting() {
					t.Fatalf("while %s is NotReady: %s uid %s (was %s) on %q, ready %v, deleting %v; want it kept on %s, not ready",
						node, tt.pod, away.Pod.UID, before.Pod.UID, away.Pod.Spec.NodeName, away.ready(), away.deleting(), node)
				}
			} else if away.Pod.Spec.NodeName != other {
				t.Fatalf("while %s is NotReady: %s on %q, want moved to %s", node, tt.pod, away.Pod.Spec.NodeName, other)
			}
			// The node returns: its agent reports its pods running again.
			h.heartbeat(node)
			h.reportRunning(node)
			h.converge("n1", "n2")
			back := h.pod(tt.pod)
			if got := back.Pod.UID == before.Pod.UID; got != tt.keepsUID {
				t.Fatalf("after %s returned: %s uid %s, was %s; same UID %v, want %v", node, tt.pod, back.Pod.UID, before.Pod.UID, got, tt.keepsUID)
			}
			if !back.ready() || (tt.keepsUID && back.Pod.Spec.NodeName != node) {
				t.Fatalf("after %s returned: %s on %q, ready %v", node, tt.pod, back.Pod.Spec.NodeName, back.ready())
			}
		})
	}
}

// pod is the live record of the pod named name.
func (h *harness) pod(name string) *PodRecord {
	h.t.Helper()
	for _, p := range h.pods() {
		if p.Pod.Name == name && !p.deleting() {
			return p
		}
	}
	h.t.Fatalf("pod %s has no live record", name)
	return nil
}

// reportRunning reports, through PodReports as node's agent does, every
// pod bound to node Running and Ready.
func (h *harness) reportRunning(node string) {
	h.t.Helper()
	rep := &api.PodStatusReport{}
	now := metav1.NewTime(h.clock.Now())
	for _, p := range h.pods() {
		if p.Pod.Spec.NodeName == node && !p.deleting() {
			rep.Pods = append(rep.Pods, api.PodStatus{Namespace: p.Pod.Namespace, Name: p.Pod.Name, UID: string(p.Pod.UID),
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}})
		}
	}
	if _, err := NewPodReports(h.store, h.clock).Report(node, rep); err != nil {
		h.t.Fatal(err)
	}
}

func TestLostClaimNodeDoesNotKeepLaterRevisionsOut(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	h.addStorageNode("n2", "10Gi")
	h.src.push("r1", decodeObjs(t, statefulYAML(2, "busybox:1", "")))
	h.converge("n1", "n2")
	node := h.statefulPods()["web-1"]
	other := map[string]string{"n1": "n2", "n2": "n1"}[node]
	for range 5 {
		h.clock.Step(10 * time.Second)
		h.heartbeat(other)
		h.reconcile()
		h.agents(other)
	}
	h.src.push("r2", decodeObjs(t, statefulYAML(2, "busybox:1", "")+podYAML("extra", "64Mi")))
	h.reconcile()
	if st := h.sync(); st.Applied == nil || st.Applied.SHA != "r2" {
		t.Fatalf("a revision was held back by web-1 waiting for %s: %+v", node, st.Rejected)
	}
}

func TestClaimRemovedFromGitFollowsReclaimPolicy(t *testing.T) {
	tests := []struct {
		name        string
		class       string
		wantDeleted bool
	}{
		{name: "Delete removes the data once no pod uses it", class: "", wantDeleted: true},
		{name: "Retain keeps the data and shows Released", class: "keep", wantDeleted: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addStorageNode("n1", "10Gi")
			h.src.push("r1", decodeObjs(t, retainClassYAML+claimYAML("db", tt.class)))
			h.converge("n1")
			c := h.claims()["db"]
			if c == nil || c.Node != "n1" || c.Claim.Status.Phase != corev1.ClaimBound {
				t.Fatalf("claim %+v, want bound to n1", c)
			}
			// The claim leaves Git with its pod; its data goes (or not)
			// only once the pod is gone.
			h.src.push("r2", decodeObjs(t, retainClassYAML+podYAML("other", "64Mi")))
			h.reconcile()
			if c := h.claims()["db"]; c == nil || c.deleting() || c.Claim.Status.Phase != corev1.ClaimBound {
				t.Fatalf("claim %+v released while its pod is still on n1", c)
			}
			h.converge("n1")
			refs := h.removeClaimData("n1")
			c = h.claims()["db"]
			if tt.wantDeleted {
				if len(refs) != 1 || c != nil {
					t.Fatalf("n1 told to delete %v, claim left %+v", refs, c)
				}
				return
			}
			if len(refs) != 0 || c == nil || c.Claim.Status.Phase != ClaimReleased || c.Node != "n1" {
				t.Fatalf("n1 told to delete %v, claim %+v, want Released on n1", refs, c)
			}
		})
	}
}

func TestStatefulSetThatDoesNotFitIsRefusedWhole(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "2Gi") // room for two claims of 1Gi
	h.src.push("r1", decodeObjs(t, podYAML("a", "64Mi")))
	h.converge("n1")
	h.src.push("r2", decodeObjs(t, podYAML("a", "64Mi")+statefulYAML(3, "busybox:1", "")))
	h.converge("n1")
	st := h.sync()
	if st.State != "Rejected" || st.Applied.SHA != "r1" || st.Rejected == nil || len(st.Rejected.Unplaceable) == 0 {
		t.Fatalf("status %+v", st)
	}
	if len(h.statefulPods()) != 0 || len(h.claims()) != 0 {
		t.Fatalf("a refused revision made pods %v or claims %v", h.statefulPods(), h.claims())
	}
}

func TestStatefulSetRollingUpdateHighestOrdinalFirst(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	h.src.push("r1", decodeObjs(t, statefulYAML(3, "busybox:1", "")))
	h.converge("n1")
	old := h.pods()[0].TemplateHash
	h.src.push("r2", decodeObjs(t, statefulYAML(3, "busybox:2", "  updateStrategy: {rollingUpdate: {partition: 1}}\n")))
	var order []string
	for range 30 {
		h.reconcile()
		for _, p := range h.pods() {
			if p.deleting() && (len(order) == 0 || order[len(order)-1] != p.Pod.Name) {
				order = append(order, p.Pod.Name)
			}
		}
		h.agents("n1")
		h.clock.Step(time.Second)
		h.heartbeat("n1")
	}
	if strings.Join(order, ",") != "web-2,web-1" {
		t.Fatalf("replaced %v, want web-2 then web-1 (partition 1 keeps web-0)", order)
	}
	for _, p := range h.pods() {
		if (p.Pod.Name == "web-0") != (p.TemplateHash == old) {
			t.Errorf("%s at %s (old %s)", p.Pod.Name, p.TemplateHash, old)
		}
	}
}

func TestClaimDeletionWakesOnlyItsNodesList(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	h.addStorageNode("n2", "10Gi")
	put := func(c *ClaimRecord) {
		if err := h.store.Update(func(tx Tx) error { return tx.PutClaim(c) }); err != nil {
			t.Fatal(err)
		}
	}
	c := &ClaimRecord{Claim: corev1.PersistentVolumeClaim{}, Node: "n1"}
	c.Claim.Namespace, c.Claim.Name, c.Claim.UID = "default", "data", "uid-data"
	put(c)
	pods := NewAgentPods(h.store)
	before := map[string]uint64{}
	for _, n := range []string{"n1", "n2"} {
		l, _, err := pods.NodePods(n)
		if err != nil {
			t.Fatal(err)
		}
		before[n] = l.ResourceVersion
	}
	now := metav1.NewTime(h.clock.Now())
	c.Claim.DeletionTimestamp = &now
	put(c)
	l1, _, err := pods.NodePods("n1")
	if err != nil {
		t.Fatal(err)
	}
	l2, _, err := pods.NodePods("n2")
	if err != nil {
		t.Fatal(err)
	}
	if l1.ResourceVersion == before["n1"] || len(l1.DeleteClaims) != 1 || l1.DeleteClaims[0] != (api.ClaimRef{Namespace: "default", Name: "data", UID: "uid-data"}) {
		t.Fatalf("n1's list: rv %d (was %d), delete %v", l1.ResourceVersion, before["n1"], l1.DeleteClaims)
	}
	if l2.ResourceVersion != before["n2"] || len(l2.DeleteClaims) != 0 {
		t.Fatalf("n2's list moved: rv %d (was %d), delete %v", l2.ResourceVersion, before["n2"], l2.DeleteClaims)
	}
	// A report from the wrong node, or with another UID, forgets nothing.
	reports := NewPodReports(h.store, h.clock)
	for _, bad := range []struct {
		node string
		ref  api.ClaimRef
	}{
		{node: "n2", ref: api.ClaimRef{Namespace: "default", Name: "data", UID: "uid-data"}},
		{node: "n1", ref: api.ClaimRef{Namespace: "default", Name: "data", UID: "other"}},
	} {
		if _, err := reports.Report(bad.node, &api.PodStatusReport{ClaimsDeleted: []api.ClaimRef{bad.ref}}); err != nil {
			t.Fatal(err)
		}
		if h.claims()["data"] == nil {
			t.Fatalf("claim forgotten on a report from %s of %+v", bad.node, bad.ref)
		}
	}
}

// TestStatefulPodsHaveStableDNSNames: with serviceName naming a headless
// Service, each pod's endpoint carries its hostname, which cluster DNS
// serves as web-0.web.<ns>.svc.<domain>.
func TestStatefulPodsHaveStableDNSNames(t *testing.T) {
	h := newHarness(t)
	h.addStorageNode("n1", "10Gi")
	h.src.push("r1", decodeObjs(t, statefulYAML(2, "busybox:1", "")+serviceYAML("web", "  clusterIP: None\n")))
	h.converge("n1")
	var pods []*corev1.Pod
	for _, p := range h.pods() {
		p.Pod.Status.PodIP = "198.18.0." + strconv.Itoa(10+len(pods))
		pods = append(pods, &p.Pod)
	}
	var svc *corev1.Service
	for _, s := range h.rec.Services() {
		if s.Name == "web" {
			svc = s
		}
	}
	if svc == nil {
		t.Fatal("no Service web")
	}
	hosts := map[string]bool{}
	for _, sl := range endpoints.ForService(svc, pods) {
		for _, ep := range sl.Endpoints {
			if ep.Hostname != nil {
				hosts[*ep.Hostname] = true
			}
		}
	}
	if !hosts["web-0"] || !hosts["web-1"] {
		t.Fatalf("endpoint hostnames %v, want web-0 and web-1", hosts)
	}
}
