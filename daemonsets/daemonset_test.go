package daemonsets

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

type dsOpt func(*appsv1.DaemonSet)

// agent is DaemonSet "agent", RollingUpdate with Kubernetes' defaults
// unless an option says otherwise.
func agent(opts ...dsOpt) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "agent", Generation: 1},
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func selector(k, v string) dsOpt {
	return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{k: v} }
}
func tolerate(key string) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}
func rolling(unavail, surge string) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		mu, ms := intstr.Parse(unavail), intstr.Parse(surge)
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &mu, MaxSurge: &ms}
	}
}
func onDelete(ds *appsv1.DaemonSet) {
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
}
func minReady(sec int32) dsOpt { return func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = sec } }

func node(name string, labels map[string]string, taints ...corev1.Taint) Node {
	return Node{Name: name, Labels: labels, Taints: taints}
}

var (
	ssd       = map[string]string{"disk": "ssd"}
	gpuTaint  = corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	cordoned  = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	notReady  = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	preferNot = corev1.Taint{Key: "slow", Effect: corev1.TaintEffectPreferNoSchedule}
)

// pod is the DaemonSet's pod on a node at a revision; kind is "ready"
// (Running, Ready since t0), "unready", "failed" or "deleting".
func pod(nodeName, rev, kind string) ObservedPod {
	name := PodName("agent", rev, nodeName)
	p := ObservedPod{Name: name, UID: types.UID("uid-" + name), Node: nodeName, Revision: rev, Phase: corev1.PodRunning, Created: t0}
	switch kind {
	case "ready":
		p.Ready, p.ReadySince = true, t0
	case "unready":
	case "failed":
		p.Phase = corev1.PodFailed
	case "deleting":
		p.Ready, p.ReadySince, p.Deleting = true, t0, true
	default:
		panic("unknown pod kind " + kind)
	}
	return p
}

func TestSyncDaemonSet(t *testing.T) {
	three := []Node{node("n1", nil), node("n2", nil), node("n3", nil)}
	tests := []struct {
		name        string
		ds          *appsv1.DaemonSet
		nodes       []Node
		pods        []ObservedPod
		now         time.Time
		wantCreate  []string // node names
		wantDelete  []string // pod name:reason
		wantRequeue time.Time
	}{
		{name: "one pod per node", ds: agent(), nodes: three, wantCreate: []string{"n1", "n2", "n3"}},
		{
			name: "nodeSelector picks the matching node only", ds: agent(selector("disk", "ssd")),
			nodes: []Node{node("n1", ssd), node("n2", nil)}, wantCreate: []string{"n1"},
		},
		{
			name: "an untolerated NoSchedule taint keeps the pod off", ds: agent(),
			nodes: []Node{node("n1", nil, gpuTaint), node("n2", nil, preferNot)}, wantCreate: []string{"n2"},
		},
		{
			name: "a tolerated taint does not", ds: agent(tolerate("dedicated")),
			nodes: []Node{node("n1", nil, gpuTaint)}, wantCreate: []string{"n1"},
		},
		{
			name: "a cordoned or not-ready node still runs its daemon pod", ds: agent(),
			nodes: []Node{node("n1", nil, cordoned), node("n2", nil, notReady)}, wantCreate: []string{"n1", "n2"},
		},
		{
			name: "a new node gets its pod", ds: agent(), nodes: three,
			pods:       []ObservedPod{pod("n1", "r2", "ready"), pod("n2", "r2", "ready")},
			wantCreate: []string{"n3"},
		},
		{
			name: "a node that left loses its pod", ds: agent(), nodes: three[:2],
			pods:       []ObservedPod{pod("n1", "r2", "ready"), pod("n2", "r2", "ready"), pod("n3", "r2", "ready")},
			wantDelete: []string{"agent-r2-n3:NodeNotEligible"},
		},
		{
			name: "a node that stops matching loses its pod", ds: agent(selector("disk", "ssd")),
			nodes:      []Node{node("n1", ssd), node("n2", nil)},
			pods:       []ObservedPod{pod("n1", "r2", "ready"), pod("n2", "r2", "ready")},
			wantDelete: []string{"agent-r2-n2:NodeNotEligible"},
		},
		{
			name: "a failed pod is deleted, and replaced once it is gone", ds: agent(), nodes: three[:1],
			pods:       []ObservedPod{pod("n1", "r2", "failed")},
			wantDelete: []string{"agent-r2-n1:Finished"},
		},
		{
			name: "its replacement comes when the failed pod is gone", ds: agent(), nodes: three[:1],
			pods: []ObservedPod{pod("n1", "r2", "deleting")}, wantCreate: nil,
		},
		{
			name: "a second pod on a node goes, the oldest stays", ds: agent(), nodes: three[:1],
			pods: []ObservedPod{pod("n1", "r2", "ready"), func() ObservedPod {
				p := pod("n1", "r1", "ready")
				p.Created = t0.Add(time.Second)
				return p
			}()},
			wantDelete: []string{"agent-r1-n1:Excess"},
		},
		{
			name: "RollingUpdate replaces one node at a time by default", ds: agent(), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "ready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
			wantDelete: []string{"agent-r1-n1:Update"},
		},
		{
			name: "the replacing node gets the new pod once the old one is deleting", ds: agent(), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "deleting"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
			wantCreate: []string{"n1"},
		},
		{
			name: "RollingUpdate waits while the new pod is not available", ds: agent(), nodes: three,
			pods: []ObservedPod{pod("n1", "r2", "unready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
		},
		{
			name: "an old pod that is not available is replaced first, and uses the budget", ds: agent(), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "ready"), pod("n2", "r1", "unready"), pod("n3", "r1", "ready")},
			wantDelete: []string{"agent-r1-n2:Update"},
		},
		{
			name: "unavailable old pods all go at once, even beyond the budget", ds: agent(), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "unready"), pod("n2", "r1", "unready"), pod("n3", "r1", "ready")},
			wantDelete: []string{"agent-r1-n1:Update", "agent-r1-n2:Update"},
		},
		{
			name: "maxUnavailable 2", ds: agent(rolling("2", "0")), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "ready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
			wantDelete: []string{"agent-r1-n1:Update", "agent-r1-n2:Update"},
		},
		{
			name: "maxSurge 1 starts the new pod beside the old one", ds: agent(rolling("0", "1")), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "ready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
			wantCreate: []string{"n1"},
		},
		{
			name: "with surge, the old pod goes once the new one is available", ds: agent(rolling("0", "1")), nodes: three,
			pods:       []ObservedPod{pod("n1", "r1", "ready"), pod("n1", "r2", "ready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
			wantCreate: []string{"n2"}, wantDelete: []string{"agent-r1-n1:Update"},
		},
		{
			name: "OnDelete leaves old pods running", ds: agent(onDelete), nodes: three,
			pods: []ObservedPod{pod("n1", "r1", "ready"), pod("n2", "r1", "ready"), pod("n3", "r1", "ready")},
		},
		{
			name: "minReadySeconds: a new pod ready 5s of 10 holds the update", ds: agent(minReady(10)), nodes: three[:2],
			pods: []ObservedPod{pod("n1", "r2", "ready"), func() ObservedPod {
				p := pod("n2", "r1", "ready")
				p.ReadySince = t0.Add(-time.Minute)
				return p
			}()}, now: t0.Add(5 * time.Second),
			wantRequeue: t0.Add(10 * time.Second),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			res, err := SyncDaemonSet(Input{DaemonSet: tc.ds, Revision: "r2", Nodes: tc.nodes, Pods: tc.pods, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var create, del []string
			for _, c := range res.Create {
				create = append(create, c.Node)
				if c.Name != PodName("agent", "r2", c.Node) {
					t.Errorf("created %s on %s", c.Name, c.Node)
				}
			}
			for _, d := range res.Delete {
				del = append(del, d.Name+":"+string(d.Reason))
			}
			if !slices.Equal(create, tc.wantCreate) || !slices.Equal(del, tc.wantDelete) {
				t.Errorf("create %v delete %v; want create %v delete %v", create, del, tc.wantCreate, tc.wantDelete)
			}
			if !res.RequeueAt.Equal(tc.wantRequeue) {
				t.Errorf("RequeueAt %v, want %v", res.RequeueAt, tc.wantRequeue)
			}
		})
	}
}

func TestDaemonSetStatus(t *testing.T) {
	ds := agent(selector("disk", "ssd"))
	nodes := []Node{node("n1", ssd), node("n2", ssd), node("n3", ssd), node("n4", nil)}
	pods := []ObservedPod{pod("n1", "r2", "ready"), pod("n2", "r1", "ready"), pod("n3", "r2", "unready"), pod("n4", "r1", "ready")}
	res, err := SyncDaemonSet(Input{DaemonSet: ds, Revision: "r2", Nodes: nodes, Pods: pods, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	got := res.State.Status
	want := appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
		NumberMisscheduled: 1, NumberReady: 2, NumberAvailable: 2, NumberUnavailable: 1, UpdatedNumberScheduled: 2}
	if got.String() != want.String() {
		t.Errorf("status\n%v, want\n%v", got.String(), want.String())
	}
}

func TestShouldRunSaysWhy(t *testing.T) {
	tests := []struct {
		name    string
		ds      *appsv1.DaemonSet
		node    Node
		wantWhy string
	}{
		{name: "selector", ds: agent(selector("disk", "ssd")), node: node("n1", nil), wantWhy: "node n1 does not match nodeSelector disk=ssd"},
		{name: "taint", ds: agent(), node: node("n2", nil, gpuTaint), wantWhy: "node n2 has untolerated taint {dedicated: gpu}"},
		{name: "fits", ds: agent(), node: node("n3", nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := ShouldRun(tc.ds, &tc.node)
			if why != tc.wantWhy || ok != (tc.wantWhy == "") {
				t.Errorf("ShouldRun = %v %q, want %q", ok, why, tc.wantWhy)
			}
		})
	}
}

func TestInvalidSpec(t *testing.T) {
	if _, err := SyncDaemonSet(Input{DaemonSet: agent(rolling("x%", "0")), Nodes: []Node{node("n1", nil)}, Now: t0}); err == nil {
		t.Error("bad maxUnavailable accepted")
	}
	if _, err := SyncDaemonSet(Input{Now: t0}); err == nil {
		t.Error("nil DaemonSet accepted")
	}
}
