package scheduler

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestScorers(t *testing.T) {
	// A node of 4 cpu and 8Gi.
	node := func(usedCPU, usedMem int64) *nodeState {
		n := newNodeState(&Node{Name: "n", Ready: true, Allocatable: resources("4", "8Gi")})
		n.usedCPU, n.usedMem = usedCPU, usedMem
		return &n
	}
	pod := func(cpu, mem int64) *podInfo {
		return &podInfo{score: Resources{MilliCPU: cpu, Memory: mem}}
	}
	tests := []struct {
		name   string
		scorer scorer
		node   *nodeState
		pod    *podInfo
		want   float64
	}{
		{name: "least allocated: empty node after a quarter pod", scorer: leastAllocated{}, node: node(0, 0), pod: pod(1000, gi(2)), want: 75},
		{name: "least allocated: mixed fill", scorer: leastAllocated{}, node: node(1000, gi(4)), pod: pod(1000, 0), want: 50}, // cpu 50%, mem 50%
		{name: "least allocated: full node", scorer: leastAllocated{}, node: node(3000, gi(6)), pod: pod(1000, gi(2)), want: 0},
		{name: "least allocated: over-full counts as full", scorer: leastAllocated{}, node: node(8000, gi(16)), pod: pod(1000, gi(2)), want: 0},
		{name: "most allocated: empty node after a quarter pod", scorer: mostAllocated{}, node: node(0, 0), pod: pod(1000, gi(2)), want: 25},
		{name: "most allocated: full node", scorer: mostAllocated{}, node: node(3000, gi(6)), pod: pod(1000, gi(2)), want: 100},
		{name: "balanced: even fill", scorer: balancedAllocation{}, node: node(1000, gi(2)), pod: pod(1000, gi(2)), want: 100},
		{name: "balanced: cpu full, memory empty", scorer: balancedAllocation{}, node: node(3000, 0), pod: pod(1000, 0), want: 50},
		{name: "balanced: 75% cpu, 25% memory", scorer: balancedAllocation{}, node: node(2000, 0), pod: pod(1000, gi(2)), want: 75},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.scorer.score(usageWith(tt.pod, tt.node)); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("score = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScorersNodeWithoutResource(t *testing.T) {
	n := newNodeState(&Node{Name: "n", Ready: true, Allocatable: resources("4", "")})
	p := &podInfo{score: Resources{MilliCPU: 1000, Memory: mi(100)}}
	// Memory counts as full: least allocated sees (0.75 + 0) / 2.
	if got := (leastAllocated{}).score(usageWith(p, &n)); math.Abs(got-37.5) > 1e-9 {
		t.Errorf("least allocated = %v, want 37.5", got)
	}
}

// TestStrategies checks that the strategy picks the node: spread the
// emptier, binpack the fuller; and that the balance term steers a
// memory-heavy pod to the node whose memory is idle.
func TestStrategies(t *testing.T) {
	nodes := []Node{mkNode("empty", "8", "16Gi"), mkNode("busy", "8", "16Gi")}
	bound := []Bound{boundOn("busy", "old", "4", "8Gi")}
	tests := []struct {
		name     string
		nodes    []Node
		bound    []Bound
		pod      *corev1.Pod
		strategy Strategy
		want     string
	}{
		{name: "spread picks the emptier node", nodes: nodes, bound: bound, pod: one("p", "1", "2Gi"), strategy: StrategySpread, want: "empty"},
		{name: "default is spread", nodes: nodes, bound: bound, pod: one("p", "1", "2Gi"), strategy: "", want: "empty"},
		{name: "binpack picks the fuller node", nodes: nodes, bound: bound, pod: one("p", "1", "2Gi"), strategy: StrategyBinpack, want: "busy"},
		{
			name:  "balance sends a memory-heavy pod where memory idles",
			nodes: []Node{mkNode("cpu-busy", "8", "16Gi"), mkNode("mem-busy", "8", "16Gi")},
			bound: []Bound{boundOn("cpu-busy", "a", "6", "2Gi"), boundOn("mem-busy", "b", "2", "12Gi")},
			// Both nodes are equally full on average; only balance differs.
			pod:      one("p", "500m", "4Gi"),
			strategy: StrategyBinpack,
			want:     "cpu-busy",
		},
		{
			name:     "pods without requests rank with kube's non-zero defaults",
			nodes:    []Node{mkNode("a", "1", "1Gi"), mkNode("b", "1", "1Gi")},
			bound:    []Bound{boundOn("a", "x", "", ""), boundOn("a", "y", "", "")},
			pod:      one("p", "", ""),
			strategy: StrategySpread,
			want:     "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Place([]*corev1.Pod{tt.pod}, Cluster{Nodes: tt.nodes, Bound: tt.bound}, Options{Strategy: tt.strategy})
			if err != nil {
				t.Fatal(err)
			}
			if got := placedOn(plan)[tt.pod.Name]; got != tt.want {
				t.Errorf("placed on %q, want %q", got, tt.want)
			}
		})
	}
}
