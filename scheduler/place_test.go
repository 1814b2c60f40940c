package scheduler

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The first placement of the Pod design: a pod of A (1Gi) and B (512Mi)
// needs 1.5Gi on one node.
func TestPodDesignTwoContainerPod(t *testing.T) {
	pod := func() *corev1.Pod {
		return mkPod("web", []corev1.Container{ctr("a", "", "1Gi"), ctr("b", "", "512Mi")})
	}
	tests := []struct {
		name        string
		cluster     Cluster
		wantNode    string // "" : pending
		wantMessage string
		wantNeeds   string
	}{
		{
			name:     "goes to the node with 2Gi free",
			cluster:  Cluster{Nodes: []Node{mkNode("small", "4", "1280Mi"), mkNode("big", "4", "2Gi")}},
			wantNode: "big",
		},
		{
			name: "free space counts, not size",
			cluster: Cluster{
				Nodes: []Node{mkNode("small", "4", "8Gi"), mkNode("big", "4", "8Gi")},
				Bound: []Bound{boundOn("small", "x", "", "6912Mi"), boundOn("big", "y", "", "6Gi")}, // 1.25Gi and 2Gi free
			},
			wantNode: "big",
		},
		{
			name:        "stays pending with only 1.25Gi",
			cluster:     Cluster{Nodes: []Node{mkNode("small", "4", "1280Mi")}},
			wantMessage: "0/1 nodes are available: 1 Insufficient memory.",
			wantNeeds:   "needs 256Mi more memory on small",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Place([]*corev1.Pod{pod()}, tt.cluster, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNode != "" {
				if got := placedOn(plan)["web"]; got != tt.wantNode {
					t.Fatalf("placed on %q, want %q (unplaced: %+v)", got, tt.wantNode, plan.Unplaced)
				}
				return
			}
			if len(plan.Bindings) != 0 {
				t.Fatalf("bound to %s, want pending", plan.Bindings[0].Node)
			}
			u := plan.Unplaced[0]
			if u.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", u.Message, tt.wantMessage)
			}
			if got := u.Needs(); got != tt.wantNeeds {
				t.Errorf("Needs = %q, want %q", got, tt.wantNeeds)
			}
		})
	}
}

// The second placement of the Pod design: three 1Gi containers need one
// node with 3Gi; 2.5Gi on one node does not do even though it is "most" of
// it.
func TestPodDesignThreeContainerPod(t *testing.T) {
	pod := mkPod("trio", []corev1.Container{ctr("a", "", "1Gi"), ctr("b", "", "1Gi"), ctr("c", "", "1Gi")})
	for _, strategy := range []Strategy{StrategySpread, StrategyBinpack} {
		t.Run(string(strategy), func(t *testing.T) {
			nodes := []Node{mkNode("n-2.5", "4", "2560Mi"), mkNode("n-3", "4", "3Gi")}
			plan, err := Place([]*corev1.Pod{pod}, Cluster{Nodes: nodes}, Options{Strategy: strategy})
			if err != nil {
				t.Fatal(err)
			}
			if got := placedOn(plan)["trio"]; got != "n-3" {
				t.Errorf("placed on %q, want n-3", got)
			}
		})
	}
}

func TestBatchNeverOvercommits(t *testing.T) {
	plan, err := Place(
		[]*corev1.Pod{one("a", "1", "3Gi"), one("b", "1", "3Gi")},
		Cluster{Nodes: []Node{mkNode("n", "4", "4Gi")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Bindings) != 1 || len(plan.Unplaced) != 1 {
		t.Fatalf("want one bound and one pending, got %d and %d", len(plan.Bindings), len(plan.Unplaced))
	}
	if got, want := plan.Unplaced[0].Message, "0/1 nodes are available: 1 Insufficient memory."; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

func TestShortfallNamesTheClosestNode(t *testing.T) {
	nodes := []Node{
		mkNode("far", "4", "1Gi"),
		mkNode("near", "4", "1536Mi"),
		mkNode("tainted", "4", "1900Mi", withTaint("x", "y", corev1.TaintEffectNoSchedule)),
	}
	plan, err := Place([]*corev1.Pod{one("p", "1", "2Gi")}, Cluster{Nodes: nodes}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := plan.Unplaced[0]
	if u.ShortfallNode != "near" || u.Shortfall != (Resources{Memory: mi(512)}) {
		t.Errorf("shortfall %+v on %q, want 512Mi memory on near (a tainted node is no candidate)", u.Shortfall, u.ShortfallNode)
	}
	if want := "0/3 nodes are available: 2 Insufficient memory, 1 node(s) had untolerated taint {x: y}."; u.Message != want {
		t.Errorf("Message = %q, want %q", u.Message, want)
	}
	if u.Reasons[ReasonInsufficientMemory] != 2 || u.Reasons[ReasonTaint] != 1 {
		t.Errorf("Reasons = %v", u.Reasons)
	}
}

// TestLargestFirst: in input order, spreading four small pods over two
// nodes leaves no node for the big one; placing largest first fits all.
func TestLargestFirst(t *testing.T) {
	pods := []*corev1.Pod{
		one("s1", "", "1Gi"), one("s2", "", "1Gi"), one("s3", "", "1Gi"), one("s4", "", "1Gi"),
		one("big", "", "4Gi"),
	}
	plan, err := Place(pods, Cluster{Nodes: []Node{mkNode("a", "4", "4Gi"), mkNode("b", "4", "4Gi")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Complete() {
		t.Fatalf("unplaced: %+v", plan.Unplaced)
	}
}

func TestGangs(t *testing.T) {
	type want struct {
		bound    []string
		causes   map[string]Cause
		messages map[string]string // substring per pod
	}
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		cluster Cluster
		want    want
	}{
		{
			name: "whole gang fits",
			pods: []*corev1.Pod{
				one("w0", "1", "1Gi", withGang("train", "3")),
				one("w1", "1", "1Gi", withGang("train", "3")),
				one("w2", "1", "1Gi", withGang("train", "3")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi"), mkNode("b", "2", "2Gi")}},
			want:    want{bound: []string{"w0", "w1", "w2"}},
		},
		{
			name: "gang short of its minimum holds nothing",
			pods: []*corev1.Pod{
				one("w0", "1", "1Gi", withGang("train", "3")),
				one("w1", "1", "1Gi", withGang("train", "3")),
				one("w2", "1", "1Gi", withGang("train", "3")),
				// Smaller, so placed after the gang gave its space back.
				one("solo", "500m", "512Mi"),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi")}},
			want: want{
				bound:  []string{"solo"},
				causes: map[string]Cause{"w0": CauseGang, "w1": CauseGang, "w2": CauseGang},
				messages: map[string]string{
					"w0": `gang "train" needs 3 more pods placed together but only 2 fit, so none is bound`,
					"w2": "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. gang",
				},
			},
		},
		{
			name: "minimum below the gang size binds what fits",
			pods: []*corev1.Pod{
				one("w0", "1", "1Gi", withGang("train", "2")),
				one("w1", "1", "1Gi", withGang("train", "2")),
				one("w2", "1", "1Gi", withGang("train", "2")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi")}},
			want: want{
				bound:    []string{"w0", "w1"},
				causes:   map[string]Cause{"w2": CauseNoFit},
				messages: map[string]string{"w2": "0/1 nodes are available"},
			},
		},
		{
			name: "bound members count toward the minimum",
			pods: []*corev1.Pod{one("w2", "1", "1Gi", withGang("train", "3"))},
			cluster: Cluster{
				Nodes: []Node{mkNode("a", "4", "4Gi")},
				Bound: []Bound{
					boundOn("a", "w0", "1", "1Gi", withGang("train", "3")),
					boundOn("a", "w1", "1", "1Gi", withGang("train", "3")),
				},
			},
			want: want{bound: []string{"w2"}},
		},
		{
			name: "bound members in another namespace do not count",
			pods: []*corev1.Pod{one("w2", "1", "1Gi", withGang("train", "3"))},
			cluster: Cluster{
				Nodes: []Node{mkNode("a", "4", "4Gi")},
				Bound: []Bound{
					boundOn("a", "other/w0", "1", "1Gi", withGang("train", "3")),
					boundOn("a", "other/w1", "1", "1Gi", withGang("train", "3")),
				},
			},
			want: want{
				causes:   map[string]Cause{"w2": CauseGang},
				messages: map[string]string{"w2": `gang "train" needs 3 pods running together but has only 1 (1 pending, 0 bound)`},
			},
		},
		{
			name: "without a minimum the whole gang is the minimum",
			pods: []*corev1.Pod{
				one("w0", "1", "1Gi", withGang("train", "")),
				one("w1", "1", "1Gi", withGang("train", "")),
				one("w2", "1", "1Gi", withGang("train", "")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi")}},
			want:    want{causes: map[string]Cause{"w0": CauseGang, "w1": CauseGang, "w2": CauseGang}},
		},
		{
			name:    "a minimum that is not a number",
			pods:    []*corev1.Pod{one("w0", "1", "1Gi", withGang("train", "two"))},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi")}},
			want: want{
				causes:   map[string]Cause{"w0": CauseInvalid},
				messages: map[string]string{"w0": `annotation berth.dev/gang-min: "two" is not a positive whole number`},
			},
		},
		{
			name:    "a minimum of zero",
			pods:    []*corev1.Pod{one("w0", "1", "1Gi", withGang("train", "0"))},
			cluster: Cluster{Nodes: []Node{mkNode("a", "2", "2Gi")}},
			want:    want{causes: map[string]Cause{"w0": CauseInvalid}},
		},
		{
			name: "members disagree on the minimum",
			pods: []*corev1.Pod{
				one("w0", "1", "1Gi", withGang("train", "2")),
				one("w1", "1", "1Gi", withGang("train", "3")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "4", "4Gi")}},
			want: want{
				causes:   map[string]Cause{"w0": CauseInvalid, "w1": CauseInvalid},
				messages: map[string]string{"w1": "disagree"},
			},
		},
		{
			name:    "a minimum without a gang",
			pods:    []*corev1.Pod{one("w0", "1", "1Gi", withGang("", "2"))},
			cluster: Cluster{Nodes: []Node{mkNode("a", "4", "4Gi")}},
			want: want{
				causes:   map[string]Cause{"w0": CauseInvalid},
				messages: map[string]string{"w0": "annotation berth.dev/gang-min is set without berth.dev/gang"},
			},
		},
		{
			name: "same gang name in two namespaces are two gangs",
			pods: []*corev1.Pod{
				one("a/w0", "1", "1Gi", withGang("train", "2")),
				one("a/w1", "1", "1Gi", withGang("train", "2")),
				one("b/w2", "1", "1Gi", withGang("train", "2")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("a", "4", "4Gi")}},
			want: want{
				bound:    []string{"w0", "w1"},
				causes:   map[string]Cause{"w2": CauseGang},
				messages: map[string]string{"w2": "has only 1"},
			},
		},
		{
			// The Docker Swarm failure the Pod design exists to avoid:
			// two gangs each grabbing part of the space and neither
			// completing. Here one gang completes and the other holds
			// nothing.
			name: "two gangs competing for the same space do not deadlock",
			pods: []*corev1.Pod{
				one("a0", "1", "2Gi", withGang("alpha", "")),
				one("b0", "1", "2Gi", withGang("beta", "")),
				one("a1", "1", "2Gi", withGang("alpha", "")),
				one("b1", "1", "2Gi", withGang("beta", "")),
			},
			cluster: Cluster{Nodes: []Node{mkNode("n1", "2", "2Gi"), mkNode("n2", "2", "2Gi")}},
			want: want{
				bound:  []string{"a0", "a1"}, // same size: the first gang in input order goes first
				causes: map[string]Cause{"b0": CauseGang, "b1": CauseGang},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Place(tt.pods, tt.cluster, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var bound []string
			for _, b := range plan.Bindings {
				bound = append(bound, b.Pod.Name)
			}
			if !reflect.DeepEqual(bound, tt.want.bound) {
				t.Errorf("bound %v, want %v", bound, tt.want.bound)
			}
			un := unplacedByName(plan)
			if len(un) != len(tt.want.causes) {
				t.Errorf("%d unplaced, want %d: %+v", len(un), len(tt.want.causes), plan.Unplaced)
			}
			for name, cause := range tt.want.causes {
				if un[name].Cause != cause {
					t.Errorf("%s: Cause = %q, want %q (%s)", name, un[name].Cause, cause, un[name].Message)
				}
			}
			for name, msg := range tt.want.messages {
				if !strings.Contains(un[name].Message, msg) {
					t.Errorf("%s: Message = %q, want it to contain %q", name, un[name].Message, msg)
				}
			}
			for _, u := range plan.Unplaced {
				if u.Gang != u.Pod.Annotations[AnnotationGang] {
					t.Errorf("%s: Gang = %q", u.Pod.Name, u.Gang)
				}
			}
		})
	}
}

func TestAllOrNothing(t *testing.T) {
	nodes := []Node{mkNode("a", "4", "4Gi"), mkNode("b", "4", "4Gi")}
	fitting := []*corev1.Pod{one("p1", "2", "2Gi"), one("p2", "2", "2Gi"), one("p3", "2", "2Gi")}

	t.Run("everything fits: the same plan as without", func(t *testing.T) {
		all, err := Place(fitting, Cluster{Nodes: nodes}, Options{AllOrNothing: true})
		if err != nil {
			t.Fatal(err)
		}
		some, err := Place(fitting, Cluster{Nodes: nodes}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !all.Complete() || !reflect.DeepEqual(all, some) {
			t.Errorf("all-or-nothing plan %+v differs from %+v", all, some)
		}
	})

	t.Run("one pod too many: nothing is bound", func(t *testing.T) {
		pods := append(append([]*corev1.Pod{}, fitting...), one("huge", "8", "1Gi"))
		plan, err := Place(pods, Cluster{Nodes: nodes}, Options{AllOrNothing: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Bindings) != 0 || len(plan.NodeGenerations) != 0 {
			t.Fatalf("bindings %v, generations %v; want none", plan.Bindings, plan.NodeGenerations)
		}
		un := unplacedByName(plan)
		if u := un["huge"]; u.Cause != CauseNoFit || u.Message != "0/2 nodes are available: 2 Insufficient cpu." {
			t.Errorf("huge: %s %q", u.Cause, u.Message)
		}
		for _, name := range []string{"p1", "p2", "p3"} {
			u := un[name]
			if u.Cause != CauseBatch || u.Message != "the batch is all-or-nothing and 1 of its 4 pods cannot be placed" {
				t.Errorf("%s: %s %q", name, u.Cause, u.Message)
			}
		}
	})
}

func TestNodeGenerations(t *testing.T) {
	nodes := []Node{
		mkNode("a", "4", "4Gi", generation(7)),
		mkNode("b", "1", "1Gi", generation(3)),
		mkNode("c", "4", "4Gi", generation(9), notReady),
	}
	plan, err := Place([]*corev1.Pod{one("p", "2", "2Gi")}, Cluster{Nodes: nodes}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"a": 7}; !reflect.DeepEqual(plan.NodeGenerations, want) {
		t.Errorf("NodeGenerations = %v, want %v", plan.NodeGenerations, want)
	}

	tests := []struct {
		name    string
		current map[string]uint64
		wantErr string
	}{
		{name: "unchanged", current: map[string]uint64{"a": 7, "b": 4}},
		{name: "the bound node moved on", current: map[string]uint64{"a": 8}, wantErr: "stale plan: node a is at generation 8, the plan saw 7"},
		{name: "the bound node is gone", current: map[string]uint64{"b": 3}, wantErr: "stale plan: node a is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := plan.Verify(func(n string) (uint64, bool) { g, ok := tt.current[n]; return g, ok })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrStale) || err.Error() != tt.wantErr {
				t.Errorf("Verify = %v, want %q wrapping ErrStale", err, tt.wantErr)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	nodes := []Node{mkNode("a", "4", "4Gi")}
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		cluster Cluster
		opts    Options
		wantErr string
	}{
		{name: "nil pod", pods: []*corev1.Pod{nil}, cluster: Cluster{Nodes: nodes}, wantErr: "pending pod 0 is nil"},
		{name: "pod twice", pods: []*corev1.Pod{one("p", "", ""), one("p", "", "")}, cluster: Cluster{Nodes: nodes}, wantErr: "pod default/p is given twice"},
		{
			name:    "pending and bound",
			pods:    []*corev1.Pod{one("p", "", "")},
			cluster: Cluster{Nodes: nodes, Bound: []Bound{boundOn("a", "p", "", "")}},
			wantErr: "pod default/p is given twice",
		},
		{name: "bound twice", cluster: Cluster{Nodes: nodes, Bound: []Bound{boundOn("a", "p", "", ""), boundOn("a", "p", "", "")}}, wantErr: "pod default/p is bound twice"},
		{name: "nil bound pod", cluster: Cluster{Nodes: nodes, Bound: []Bound{{Node: "a"}}}, wantErr: "bound pod 0 is nil"},
		{name: "node twice", cluster: Cluster{Nodes: []Node{mkNode("a", "", ""), mkNode("a", "", "")}}, wantErr: "node a is listed twice"},
		{name: "node without a name", cluster: Cluster{Nodes: []Node{mkNode("", "", "")}}, wantErr: "node 0 has no name"},
		{name: "unknown strategy", opts: Options{Strategy: "random"}, wantErr: `unknown strategy "random"`},
		{name: "percentage above 100", opts: Options{PercentageOfNodesToScore: 101}, wantErr: "PercentageOfNodesToScore 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(tt.pods, tt.cluster, tt.opts)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Place error = %v, want ErrInvalid with %q", err, tt.wantErr)
			}
		})
	}
}

func TestUnsupportedFields(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{
			name: "node affinity",
			pod: one("p", "1", "1Gi", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}
			}),
			want: "berth's scheduler does not implement spec.affinity",
		},
		{
			name: "topology spread",
			pod: one("p", "1", "1Gi", func(p *corev1.Pod) {
				p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1}}
			}),
			want: "berth's scheduler does not implement spec.topologySpreadConstraints",
		},
		{
			name: "extended resource",
			pod: mkPod("p", []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"nvidia.com/gpu": resources("1", "")[corev1.ResourceCPU]},
			}}}),
			want: "berth's scheduler accounts only for cpu and memory, not nvidia.com/gpu",
		},
		{
			name: "negative request",
			pod:  one("p", "-1", "1Gi"),
			want: "negative quantity: container app requests cpu -1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Place([]*corev1.Pod{tt.pod}, Cluster{Nodes: []Node{mkNode("a", "4", "4Gi")}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Unplaced) != 1 || plan.Unplaced[0].Cause != CauseInvalid || plan.Unplaced[0].Message != tt.want {
				t.Errorf("got %+v, want Invalid %q", plan.Unplaced, tt.want)
			}
		})
	}
}

// TestReplay: the same input gives the same plan; the seed changes how
// ties between equal nodes are broken.
func TestReplay(t *testing.T) {
	var nodes []Node
	for i := range 20 {
		nodes = append(nodes, mkNode(fmt.Sprintf("n%02d", i), "4", "8Gi"))
	}
	var pods []*corev1.Pod
	for i := range 10 {
		pods = append(pods, one(fmt.Sprintf("p%d", i), "1", "1Gi"))
	}
	first, err := Place(pods, Cluster{Nodes: nodes}, Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Place(pods, Cluster{Nodes: nodes}, Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("same input, different plans:\n%v\n%v", placedOn(first), placedOn(again))
	}
	differs := false
	for seed := uint64(0); seed < 10 && !differs; seed++ {
		other, err := Place(pods, Cluster{Nodes: nodes}, Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		differs = !reflect.DeepEqual(placedOn(first), placedOn(other))
	}
	if !differs {
		t.Error("ten other seeds all gave the plan of seed 42: ties are not broken by the seed")
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		name       string
		nodes      int
		percentage int
		want       int
	}{
		{name: "small clusters rank every node", nodes: 99, want: 99},
		{name: "100 nodes: adaptive 50% but at least 100", nodes: 100, want: 100},
		{name: "1000 nodes: adaptive 42%", nodes: 1000, want: 420},
		{name: "5000 nodes: adaptive 10%", nodes: 5000, want: 500},
		{name: "10000 nodes: adaptive floor of 5%", nodes: 10000, want: 500},
		{name: "explicit percentage", nodes: 5000, percentage: 30, want: 1500},
		{name: "explicit percentage, at least 100", nodes: 1000, percentage: 1, want: 100},
		{name: "100 percent", nodes: 5000, percentage: 100, want: 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := numFeasibleNodesToFind(tt.nodes, tt.percentage); got != tt.want {
				t.Errorf("numFeasibleNodesToFind(%d, %d) = %d, want %d", tt.nodes, tt.percentage, got, tt.want)
			}
		})
	}
}

// TestSamplingStillFindsRareNodes: with sampling on a big cluster, a pod
// that fits on a single node still finds it, and a pod's selector is
// served from the label index.
func TestSamplingStillFindsRareNodes(t *testing.T) {
	var nodes []Node
	for i := range 2000 {
		nodes = append(nodes, mkNode(fmt.Sprintf("n%04d", i), "2", "2Gi", withLabels("zone", fmt.Sprint(i%4))))
	}
	nodes[1234].Allocatable = resources("64", "256Gi")
	nodes[1500].Labels["gpu"] = "yes"
	pods := []*corev1.Pod{one("big", "32", "128Gi"), one("gpu", "1", "1Gi", withSelector("gpu", "yes", "zone", "0"))}
	plan, err := Place(pods, Cluster{Nodes: nodes}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := placedOn(plan)
	if got["big"] != "n1234" || got["gpu"] != "n1500" {
		t.Errorf("placed %v, want big on n1234 and gpu on n1500", got)
	}
}
