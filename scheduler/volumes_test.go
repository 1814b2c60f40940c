package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"pgregory.net/rapid"
)

func withClaim(names ...string) podOpt {
	return func(p *corev1.Pod) {
		for _, n := range names {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: n, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n}}})
		}
	}
}

func withStorage(bytes int64) nodeOpt { return func(n *Node) { n.StorageCapacity = bytes } }

func claim(name string, request int64, node string) Claim {
	return Claim{Namespace: "default", Name: name, Request: request, Node: node}
}

func TestClaims(t *testing.T) {
	tests := []struct {
		name       string
		nodes      []Node
		claims     []Claim
		pods       []*corev1.Pod
		opts       Options
		wantPlaced map[string]string
		wantClaims map[string]string
		// wantMsg: for each unplaced pod, a substring of its message.
		wantMsg map[string]string
	}{
		{
			name:       "a bound claim pins its pod to its node",
			nodes:      []Node{mkNode("n1", "4", "8Gi", withStorage(gi(10))), mkNode("n2", "4", "8Gi", withStorage(gi(10)))},
			claims:     []Claim{claim("data-web-0", gi(1), "n2")},
			pods:       []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0"))},
			wantPlaced: map[string]string{"web-0": "n2"},
		},
		{
			name:   "the claim's node is full: volume node affinity conflict, naming the node",
			nodes:  []Node{mkNode("n1", "4", "8Gi", withStorage(gi(10))), mkNode("n2", "1", "8Gi", withStorage(gi(10)))},
			claims: []Claim{claim("data-web-0", gi(1), "n2")},
			pods:   []*corev1.Pod{one("web-0", "2", "1Gi", withClaim("data-web-0"))},
			wantMsg: map[string]string{"web-0": "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had volume node affinity conflict. " +
				"Claim data-web-0 is bound to node n2."},
		},
		{
			name:    "the claim's node is NotReady: the pod waits for it, saying so",
			nodes:   []Node{mkNode("n1", "4", "8Gi", withStorage(gi(10))), mkNode("n2", "4", "8Gi", withStorage(gi(10)), notReady)},
			claims:  []Claim{claim("data-web-0", gi(1), "n2")},
			pods:    []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0"))},
			wantMsg: map[string]string{"web-0": "claim data-web-0 is bound to node n2, which is NotReady; 0/2 nodes are available"},
		},
		{
			name:    "the claim's node left the cluster",
			nodes:   []Node{mkNode("n1", "4", "8Gi", withStorage(gi(10)))},
			claims:  []Claim{claim("data-web-0", gi(1), "n9")},
			pods:    []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0"))},
			wantMsg: map[string]string{"web-0": "claim data-web-0 is bound to node n9, which is not in the cluster"},
		},
		{
			name:       "a new claim goes only where there is room, and is bound there",
			nodes:      []Node{mkNode("n1", "4", "8Gi", withStorage(gi(1))), mkNode("n2", "4", "8Gi", withStorage(gi(5)))},
			claims:     []Claim{claim("data-web-0", gi(2), "")},
			pods:       []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0"))},
			wantPlaced: map[string]string{"web-0": "n2"},
			wantClaims: map[string]string{"default/data-web-0": "n2"},
		},
		{
			name:    "bound claims hold their requests: no room left for a new one",
			nodes:   []Node{mkNode("n1", "4", "8Gi", withStorage(gi(3))), mkNode("n2", "4", "8Gi")},
			claims:  []Claim{claim("old", gi(2), "n1"), claim("data-web-0", gi(2), "")},
			pods:    []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0"))},
			wantMsg: map[string]string{"web-0": "0/2 nodes are available: 2 node(s) did not have enough free storage."},
		},
		{
			name:       "two pods of one batch sharing a new claim land together, and it is charged once",
			nodes:      []Node{mkNode("n1", "4", "8Gi", withStorage(gi(3))), mkNode("n2", "4", "8Gi", withStorage(gi(3)))},
			claims:     []Claim{claim("shared", gi(3), "")},
			pods:       []*corev1.Pod{one("a", "1", "1Gi", withClaim("shared")), one("b", "1", "1Gi", withClaim("shared"))},
			wantClaims: map[string]string{"default/shared": "SAME"},
		},
		{
			name:       "claims filling one node spread the next to the other",
			nodes:      []Node{mkNode("n1", "4", "8Gi", withStorage(gi(2))), mkNode("n2", "4", "8Gi", withStorage(gi(2)))},
			claims:     []Claim{claim("data-web-0", gi(2), ""), claim("data-web-1", gi(2), "")},
			pods:       []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0")), one("web-1", "1", "1Gi", withClaim("data-web-1"))},
			wantClaims: map[string]string{"default/data-web-0": "DIFFERENT", "default/data-web-1": "DIFFERENT"},
		},
		{
			name:    "a claim that does not exist",
			nodes:   []Node{mkNode("n1", "4", "8Gi", withStorage(gi(3)))},
			pods:    []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("nope"))},
			wantMsg: map[string]string{"web-0": `persistentvolumeclaim "nope" not found`},
		},
		{
			name:   "all-or-nothing: a rejected batch binds no claim",
			nodes:  []Node{mkNode("n1", "2", "8Gi", withStorage(gi(3)))},
			claims: []Claim{claim("data-web-0", gi(1), "")},
			pods:   []*corev1.Pod{one("web-0", "1", "1Gi", withClaim("data-web-0")), one("big", "8", "1Gi")},
			opts:   Options{AllOrNothing: true},
			wantMsg: map[string]string{"web-0": "the batch is all-or-nothing",
				"big": "Insufficient cpu"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Place(tc.pods, Cluster{Nodes: tc.nodes, Claims: tc.claims}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantPlaced != nil && !maps.Equal(placedOn(plan), tc.wantPlaced) {
				t.Errorf("placed %v, want %v", placedOn(plan), tc.wantPlaced)
			}
			got := plan.ClaimNodes
			switch {
			case tc.wantClaims["default/shared"] == "SAME":
				on := placedOn(plan)
				if len(on) != 2 || on["a"] != on["b"] || got["default/shared"] != on["a"] {
					t.Errorf("placed %v claims %v: want both pods with the claim", on, got)
				}
			case tc.wantClaims["default/data-web-0"] == "DIFFERENT":
				if len(got) != 2 || got["default/data-web-0"] == got["default/data-web-1"] {
					t.Errorf("claims %v: want one per node", got)
				}
			case !maps.Equal(got, tc.wantClaims):
				t.Errorf("claims bound %v, want %v", got, tc.wantClaims)
			}
			un := unplacedByName(plan)
			if len(un) != len(tc.wantMsg) {
				t.Errorf("unplaced %v, want %d", un, len(tc.wantMsg))
			}
			for pod, want := range tc.wantMsg {
				if !strings.Contains(un[pod].Message, want) {
					t.Errorf("pod %s: message %q, want it to contain %q", pod, un[pod].Message, want)
				}
			}
		})
	}
}

func TestGangGivesBackItsClaims(t *testing.T) {
	// Two gang members each with a new claim; only one node has room for
	// one claim, so the gang fails and must leave the claim unbound and
	// the node's storage free for the single pod after it.
	nodes := []Node{mkNode("n1", "4", "8Gi", withStorage(gi(1)))}
	claims := []Claim{claim("a", gi(1), ""), claim("b", gi(1), ""), claim("c", gi(1), "")}
	pods := []*corev1.Pod{
		one("g1", "1", "1Gi", withGang("g", ""), withClaim("a")),
		one("g2", "1", "1Gi", withGang("g", ""), withClaim("b")),
		one("solo", "1", "1Gi", withClaim("c")),
	}
	plan, err := Place(pods, Cluster{Nodes: nodes, Claims: claims}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if on := placedOn(plan); !maps.Equal(on, map[string]string{"solo": "n1"}) {
		t.Errorf("placed %v, want solo alone on n1", on)
	}
	if !maps.Equal(plan.ClaimNodes, map[string]string{"default/c": "n1"}) {
		t.Errorf("claims %v, want only c on n1", plan.ClaimNodes)
	}
}

// TestPropertyClaims places random pods with random claims on random
// nodes and checks: a pod goes only to the node of its bound claims; a
// claim the plan binds was unbound, is used by a pod bound there, and all
// pods of the plan using it are there; the claims a plan binds to a node
// fit in what its bound claims leave of its StorageCapacity; a pod held
// by a claim on a NotReady node says so first.
func TestPropertyClaims(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var nodes []Node
		for i := range rapid.IntRange(0, 4).Draw(t, "nodes") {
			n := mkNode(fmt.Sprint("n", i), "8", "16Gi", withStorage(gi(int64(rapid.IntRange(0, 4).Draw(t, "storageGi")))))
			n.Ready = rapid.IntRange(0, 3).Draw(t, "notready") > 0
			nodes = append(nodes, n)
		}
		var claims []Claim
		for i := range rapid.IntRange(0, 5).Draw(t, "claims") {
			c := claim(fmt.Sprint("c", i), gi(int64(rapid.IntRange(1, 3).Draw(t, "requestGi"))), "")
			if rapid.Bool().Draw(t, "bound") {
				c.Node = rapid.SampledFrom([]string{"n0", "n1", "n2", "n3", "gone"}).Draw(t, "claimnode")
			}
			claims = append(claims, c)
		}
		var pods []*corev1.Pod
		for i := range rapid.IntRange(0, 8).Draw(t, "pods") {
			var names []string
			for range rapid.IntRange(0, min(2, len(claims))).Draw(t, "podclaims") {
				names = append(names, claims[rapid.IntRange(0, len(claims)-1).Draw(t, "which")].Name)
			}
			pods = append(pods, one(fmt.Sprint("p", i), "100m", "64Mi", withClaim(names...)))
		}
		plan, err := Place(pods, Cluster{Nodes: nodes, Claims: claims}, Options{AllOrNothing: rapid.Bool().Draw(t, "atomic")})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]Claim{}
		for _, c := range claims {
			byName[c.Name] = c
		}
		at := map[string]string{} // claim -> node its bound pods went to
		for _, b := range plan.Bindings {
			for _, v := range b.Pod.Spec.Volumes {
				c := byName[v.PersistentVolumeClaim.ClaimName]
				if c.Node != "" && c.Node != b.Node {
					t.Fatalf("pod %s on %s, its claim %s is bound to %s", b.Pod.Name, b.Node, c.Name, c.Node)
				}
				if c.Node == "" && plan.ClaimNodes["default/"+c.Name] != b.Node {
					t.Fatalf("pod %s on %s, its new claim %s bound to %q", b.Pod.Name, b.Node, c.Name, plan.ClaimNodes["default/"+c.Name])
				}
				if prev, ok := at[c.Name]; ok && prev != b.Node {
					t.Fatalf("claim %s used on %s and %s", c.Name, prev, b.Node)
				}
				at[c.Name] = b.Node
			}
		}
		newOn := map[string]int64{}
		for k, node := range plan.ClaimNodes {
			c := byName[strings.TrimPrefix(k, "default/")]
			if c.Node != "" || at[c.Name] != node {
				t.Fatalf("plan binds %s to %s; it was bound to %q, its pods went to %q", k, node, c.Node, at[c.Name])
			}
			newOn[node] += c.Request
		}
		for _, n := range nodes {
			var held int64
			for _, c := range claims {
				if c.Node == n.Name {
					held += c.Request
				}
			}
			if newOn[n.Name] > max(0, n.StorageCapacity-held) {
				t.Fatalf("node %s: new claims of %d bytes beside %d held, capacity %d", n.Name, newOn[n.Name], held, n.StorageCapacity)
			}
		}
		for _, u := range plan.Unplaced {
			if u.Cause != CauseNoFit {
				continue
			}
			for _, v := range u.Pod.Spec.Volumes {
				c := byName[v.PersistentVolumeClaim.ClaimName]
				if i := slices.IndexFunc(nodes, func(n Node) bool { return n.Name == c.Node }); i >= 0 && !nodes[i].Ready {
					if !strings.HasPrefix(u.Message, "claim ") || !strings.Contains(u.Message, "is bound to node") {
						t.Fatalf("pod %s held by claim %s on NotReady %s says %q", u.Pod.Name, c.Name, c.Node, u.Message)
					}
				}
			}
		}
	})
}
