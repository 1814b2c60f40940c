package scheduler

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestFilters judges one pod against one node: either the pod is bound
// there, or it is not with exactly the expected reasons and message.
func TestFilters(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name        string
		node        Node
		bound       []Bound
		pod         *corev1.Pod
		wantReasons map[Reason]int // nil: the pod is bound
		wantMessage string
	}{
		// Resources.
		{
			name: "fits in allocatable",
			node: mkNode("n1", "2", "2Gi"),
			pod:  one("p", "2", "2Gi"),
		},
		{
			name:        "memory short",
			node:        mkNode("n1", "2", "1Gi"),
			pod:         one("p", "1", "2Gi"),
			wantReasons: map[Reason]int{ReasonInsufficientMemory: 1},
			wantMessage: "0/1 nodes are available: 1 Insufficient memory.",
		},
		{
			name:        "cpu short",
			node:        mkNode("n1", "1", "4Gi"),
			pod:         one("p", "1500m", "1Gi"),
			wantReasons: map[Reason]int{ReasonInsufficientCPU: 1},
			wantMessage: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:        "both short count both",
			node:        mkNode("n1", "1", "1Gi"),
			pod:         one("p", "2", "2Gi"),
			wantReasons: map[Reason]int{ReasonInsufficientCPU: 1, ReasonInsufficientMemory: 1},
			wantMessage: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
		},
		{
			name:        "bound pods hold their share",
			node:        mkNode("n1", "4", "4Gi"),
			bound:       []Bound{boundOn("n1", "old", "1", "3Gi")},
			pod:         one("p", "1", "2Gi"),
			wantReasons: map[Reason]int{ReasonInsufficientMemory: 1},
			wantMessage: "0/1 nodes are available: 1 Insufficient memory.",
		},
		{
			name:  "bound pods on other nodes hold nothing here",
			node:  mkNode("n1", "4", "4Gi"),
			bound: []Bound{boundOn("gone", "old", "4", "4Gi")},
			pod:   one("p", "4", "4Gi"),
		},
		{
			name:  "a pod requesting nothing fits an overcommitted node",
			node:  mkNode("n1", "1", "1Gi"),
			bound: []Bound{boundOn("n1", "old", "2", "2Gi")},
			pod:   one("p", "", ""),
		},
		{
			name:        "an init container's peak counts",
			node:        mkNode("n1", "4", "2Gi"),
			pod:         mkPod("p", []corev1.Container{ctr("app", "1", "1Gi")}, withInit(ctr("init", "1", "3Gi"))),
			wantReasons: map[Reason]int{ReasonInsufficientMemory: 1},
			wantMessage: "0/1 nodes are available: 1 Insufficient memory.",
		},
		// Maximum pods per node.
		{
			name:        "pod slots run out",
			node:        mkNode("n1", "4", "4Gi", withMaxPods(1)),
			bound:       []Bound{boundOn("n1", "old", "100m", "1Mi")},
			pod:         one("p", "100m", "1Mi"),
			wantReasons: map[Reason]int{ReasonTooManyPods: 1},
			wantMessage: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name: "a node without a pods figure takes kubelet's 110",
			node: mkNode("n1", "4", "4Gi"),
			bound: func() []Bound {
				var bs []Bound
				for i := range 109 {
					bs = append(bs, boundOn("n1", "old-"+string(rune('a'+i/26))+string(rune('a'+i%26)), "", ""))
				}
				return bs
			}(),
			pod: one("p", "", ""),
		},
		// Readiness and cordon.
		{
			name:        "not ready",
			node:        mkNode("n1", "4", "4Gi", notReady),
			pod:         one("p", "1", "1Gi"),
			wantReasons: map[Reason]int{ReasonNotReady: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) were not ready.",
		},
		{
			name:        "cordoned",
			node:        mkNode("n1", "4", "4Gi", cordoned),
			pod:         one("p", "1", "1Gi"),
			wantReasons: map[Reason]int{ReasonUnschedulable: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
		{
			name: "cordoned but the pod tolerates it",
			node: mkNode("n1", "4", "4Gi", cordoned),
			pod: one("p", "1", "1Gi", withToleration(corev1.Toleration{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			})),
		},
		{
			name:        "not ready is judged before resources",
			node:        mkNode("n1", "1", "1Gi", notReady),
			pod:         one("p", "2", "2Gi"),
			wantReasons: map[Reason]int{ReasonNotReady: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) were not ready.",
		},
		// Taints.
		{
			name:        "NoSchedule taint not tolerated",
			node:        mkNode("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod:         one("p", "1", "1Gi"),
			wantReasons: map[Reason]int{ReasonTaint: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:        "NoExecute taint not tolerated",
			node:        mkNode("n1", "4", "4Gi", withTaint("maintenance", "", corev1.TaintEffectNoExecute)),
			pod:         one("p", "1", "1Gi"),
			wantReasons: map[Reason]int{ReasonTaint: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) had untolerated taint {maintenance: }.",
		},
		{
			name: "PreferNoSchedule taint does not filter",
			node: mkNode("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectPreferNoSchedule)),
			pod:  one("p", "1", "1Gi"),
		},
		{
			name: "taint tolerated by Equal",
			node: mkNode("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod: one("p", "1", "1Gi", withToleration(corev1.Toleration{
				Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule,
			})),
		},
		{
			name: "taint tolerated by Exists without effect",
			node: mkNode("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod:  one("p", "1", "1Gi", withToleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})),
		},
		{
			name: "toleration with another value does not match",
			node: mkNode("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod: one("p", "1", "1Gi", withToleration(corev1.Toleration{
				Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule,
			})),
			wantReasons: map[Reason]int{ReasonTaint: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name: "every taint must be tolerated",
			node: mkNode("n1", "4", "4Gi",
				withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule),
				withTaint("zone-drain", "true", corev1.TaintEffectNoSchedule)),
			pod:         one("p", "1", "1Gi", withToleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})),
			wantReasons: map[Reason]int{ReasonTaint: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) had untolerated taint {zone-drain: true}.",
		},
		// Node selector.
		{
			name: "selector matches",
			node: mkNode("n1", "4", "4Gi", withLabels("disk", "ssd", "zone", "a")),
			pod:  one("p", "1", "1Gi", withSelector("disk", "ssd", "zone", "a")),
		},
		{
			name:        "selector value differs",
			node:        mkNode("n1", "4", "4Gi", withLabels("disk", "hdd")),
			pod:         one("p", "1", "1Gi", withSelector("disk", "ssd")),
			wantReasons: map[Reason]int{ReasonNodeSelector: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't match Pod's node selector.",
		},
		{
			name:        "selector needs every label",
			node:        mkNode("n1", "4", "4Gi", withLabels("disk", "ssd")),
			pod:         one("p", "1", "1Gi", withSelector("disk", "ssd", "zone", "a")),
			wantReasons: map[Reason]int{ReasonNodeSelector: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't match Pod's node selector.",
		},
		{
			name:        "selector on a node without labels",
			node:        mkNode("n1", "4", "4Gi"),
			pod:         one("p", "1", "1Gi", withSelector("disk", "ssd")),
			wantReasons: map[Reason]int{ReasonNodeSelector: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't match Pod's node selector.",
		},
		// Node name.
		{
			name: "named node",
			node: mkNode("n1", "4", "4Gi"),
			pod:  one("p", "1", "1Gi", withNodeName("n1")),
		},
		{
			name:        "another node named",
			node:        mkNode("n1", "4", "4Gi"),
			pod:         one("p", "1", "1Gi", withNodeName("n2")),
			wantReasons: map[Reason]int{ReasonNodeName: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't match the requested node name.",
		},
		// Host ports.
		{
			name:        "host port taken",
			node:        mkNode("n1", "4", "4Gi"),
			bound:       []Bound{boundOn("n1", "old", "1", "1Gi", withHostPort(8080, ""))},
			pod:         one("p", "1", "1Gi", withHostPort(8080, corev1.ProtocolTCP)),
			wantReasons: map[Reason]int{ReasonHostPorts: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:  "same port on another protocol is free",
			node:  mkNode("n1", "4", "4Gi"),
			bound: []Bound{boundOn("n1", "old", "1", "1Gi", withHostPort(53, corev1.ProtocolUDP))},
			pod:   one("p", "1", "1Gi", withHostPort(53, corev1.ProtocolTCP)),
		},
		{
			name:  "another port is free",
			node:  mkNode("n1", "4", "4Gi"),
			bound: []Bound{boundOn("n1", "old", "1", "1Gi", withHostPort(8080, ""))},
			pod:   one("p", "1", "1Gi", withHostPort(8081, "")),
		},
		{
			name: "a bound sidecar's host port is taken",
			node: mkNode("n1", "4", "4Gi"),
			bound: []Bound{{Node: "n1", Pod: mkPod("old", []corev1.Container{ctr("app", "", "")}, withInit(corev1.Container{
				Name: "proxy", RestartPolicy: &always,
				Ports: []corev1.ContainerPort{{ContainerPort: 15001, HostPort: 15001}},
			}))}},
			pod:         one("p", "1", "1Gi", withHostPort(15001, "")),
			wantReasons: map[Reason]int{ReasonHostPorts: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name: "ports on different host addresses do not clash",
			node: mkNode("n1", "4", "4Gi"),
			bound: []Bound{{Node: "n1", Pod: mkPod("old", []corev1.Container{{
				Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, HostIP: "127.0.0.1"}},
			}})}},
			pod: mkPod("p", []corev1.Container{{
				Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, HostIP: "127.0.0.2"}},
			}}),
		},
		{
			name: "a port on every address clashes with one on a single address",
			node: mkNode("n1", "4", "4Gi"),
			bound: []Bound{{Node: "n1", Pod: mkPod("old", []corev1.Container{{
				Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, HostIP: "127.0.0.1"}},
			}})}},
			pod: mkPod("p", []corev1.Container{{
				Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, HostIP: "0.0.0.0"}},
			}}),
			wantReasons: map[Reason]int{ReasonHostPorts: 1},
			wantMessage: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Place([]*corev1.Pod{tt.pod}, Cluster{Nodes: []Node{tt.node}, Bound: tt.bound}, Options{})
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if tt.wantReasons == nil {
				if len(plan.Bindings) != 1 {
					t.Fatalf("pod not bound: %+v", plan.Unplaced)
				}
				return
			}
			if len(plan.Unplaced) != 1 {
				t.Fatalf("pod bound to %s, want it refused", plan.Bindings[0].Node)
			}
			u := plan.Unplaced[0]
			if u.Cause != CauseNoFit {
				t.Errorf("Cause = %s, want %s", u.Cause, CauseNoFit)
			}
			if !maps.Equal(u.Reasons, tt.wantReasons) {
				t.Errorf("Reasons = %v, want %v", u.Reasons, tt.wantReasons)
			}
			if u.Message != tt.wantMessage {
				t.Errorf("Message = %q\nwant      %q", u.Message, tt.wantMessage)
			}
		})
	}
}

// TestMessageCountsEveryNode checks the kube-scheduler message over several
// nodes: one reason per node, largest count first.
func TestMessageCountsEveryNode(t *testing.T) {
	nodes := []Node{
		mkNode("a", "4", "1Gi"),
		mkNode("b", "4", "1Gi"),
		mkNode("c", "4", "8Gi", withLabels("disk", "hdd")),
	}
	plan, err := Place([]*corev1.Pod{one("p", "1", "2Gi", withSelector("disk", "ssd"))}, Cluster{Nodes: nodes}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Unplaced) != 1 {
		t.Fatalf("want the pod unplaced, got %+v", plan.Bindings)
	}
	// Selector is judged before resources, so the small nodes count
	// under the selector too, as kube-scheduler's filter order does.
	want := "0/3 nodes are available: 3 node(s) didn't match Pod's node selector."
	if got := plan.Unplaced[0].Message; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}

	plan, err = Place([]*corev1.Pod{one("p", "1", "2Gi")}, Cluster{Nodes: append(nodes, mkNode("d", "4", "8Gi", notReady))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := placedOn(plan)["p"]; got != "c" {
		t.Errorf("p placed on %q, want c, the only node with room", got)
	}
}

func TestFitMessage(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
		hist  map[string]int
		want  string
	}{
		{
			name:  "issue example",
			nodes: 3,
			hist:  map[string]int{"Insufficient memory": 2, "node(s) didn't match Pod's node selector": 1},
			want:  "0/3 nodes are available: 2 Insufficient memory, 1 node(s) didn't match Pod's node selector.",
		},
		{
			name:  "equal counts in text order",
			nodes: 2,
			hist:  map[string]int{"Insufficient memory": 1, "Insufficient cpu": 1},
			want:  "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
		},
		{name: "no nodes", nodes: 0, hist: nil, want: "0/0 nodes are available."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fitMessage(tt.nodes, tt.hist); got != tt.want {
				t.Errorf("fitMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
