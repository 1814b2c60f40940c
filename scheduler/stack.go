package scheduler

import (
	"maps"
	"math/bits"
	"math/rand/v2"
)

// stack is the placement pipeline, wired once per call:
//
//	source ─► fit ─► feasibility checks ─► sample limit ─► rank ─► max score (seeded tie-break)
//
// It owns the node states, so a pod it places is charged on its node before
// the next pod is looked at.
type stack struct {
	nodes []nodeState

	// checks are the feasibility stages in the order a node is judged, so
	// the first that rejects a node is the reason counted for it.
	checks []feasibilityCheck
	// scorers are the rank stages; a node's score is their sum.
	scorers []scorer

	// Sources: every node in the seeded order, and subsets of it that
	// precomputed indexes hand to pods that can only use those.
	all     *nodeList
	byLabel map[labelPair]*nodeList // nodes carrying a label pair some pod selects on
	bySize  map[sizeClass]*nodeList // nodes big enough, when empty, for a class of requests

	// sample is how many feasible nodes are ranked per pod.
	sample int
	rng    *rand.Rand

	// refused remembers, per set of constraints (podInfo.constraints),
	// the requests no node could take. Within one plan nodes only fill
	// up, except when a gang gives its pods back, which forgets them all:
	// so a pod asking at least as much under the same constraints fits
	// nowhere either, and a broken or full cluster is not scanned again
	// for every pod. version counts the changes to the nodes, so a
	// diagnosis made on the same state can be reused as it is.
	refused map[string][]refusal
	// claims by "namespace/name", as the plan so far leaves them.
	claims  map[string]*claimState
	version uint64
	noMemo  bool // tests compare plans made without the memory
}

type refusal struct {
	req     Resources
	version uint64
	diag    diagnosis
}

// nodeList is a source of nodes. Each scan starts where the last one
// stopped, so successive pods are offered different nodes first, as
// kube-scheduler's nextStartNodeIndex does.
type nodeList struct {
	nodes []int32
	next  int
}

func newStack(nodes []nodeState, strategy Strategy, percentage int, rng *rand.Rand) *stack {
	s := &stack{
		nodes: nodes,
		checks: []feasibilityCheck{
			// Node health first: a node that is down or cordoned is
			// out whatever the pod asks for.
			readyCheck{},
			cordonCheck{},
			// Then what the pod demands of the node, cheapest first.
			nodeNameCheck{},
			volumeNodeCheck{},
			taintCheck{},
			selectorCheck{},
			portsCheck{},
			storageCheck{},
			// Resources last, so "Insufficient memory" is counted only
			// for nodes the pod could otherwise use, and the shortfall
			// is measured on them. (The hot loop runs it first; see
			// selectNode.)
			fitCheck{},
		},
		sample:  numFeasibleNodesToFind(len(nodes), percentage),
		rng:     rng,
		all:     &nodeList{nodes: make([]int32, len(nodes))},
		byLabel: map[labelPair]*nodeList{},
		bySize:  map[sizeClass]*nodeList{},
		refused: map[string][]refusal{},
		claims:  map[string]*claimState{},
	}
	// The fit score is the strategy; the balance score keeps one resource
	// from running out while the other idles, whichever the strategy.
	switch strategy {
	case StrategyBinpack:
		s.scorers = []scorer{mostAllocated{}, balancedAllocation{}}
	default:
		s.scorers = []scorer{leastAllocated{}, balancedAllocation{}}
	}
	for i := range s.all.nodes {
		s.all.nodes[i] = int32(i)
	}
	return s
}

// Sampling bounds, as kube-scheduler's: below minFeasibleNodesToFind nodes
// every node is ranked; above, the adaptive share falls with cluster size
// but never below minFeasiblePercentage.
const (
	minFeasibleNodesToFind = 100
	minFeasiblePercentage  = 5
)

// numFeasibleNodesToFind is how many feasible nodes to rank per pod before
// choosing: ranking all 5,000 nodes of a big cluster for every pod buys
// little over ranking a tenth of them, and costs ten times as much.
func numFeasibleNodesToFind(nodes, percentage int) int {
	if nodes < minFeasibleNodesToFind || percentage >= 100 {
		return nodes
	}
	if percentage <= 0 {
		percentage = max(50-nodes/125, minFeasiblePercentage)
	}
	return max(nodes*percentage/100, minFeasibleNodesToFind)
}

// indexSelectors builds, for every label pair some pod selects on, the list
// of nodes carrying it, so a pod with a nodeSelector scans only the nodes of
// its rarest pair instead of the whole cluster.
func (s *stack) indexSelectors(pods []*podInfo) {
	wanted := map[string]map[string]*nodeList{}
	for _, p := range pods {
		for _, l := range p.selector {
			if wanted[l.key] == nil {
				wanted[l.key] = map[string]*nodeList{}
			}
			if wanted[l.key][l.value] == nil {
				nl := &nodeList{}
				wanted[l.key][l.value] = nl
				s.byLabel[l] = nl
			}
		}
	}
	if len(wanted) == 0 {
		return
	}
	for i := range s.nodes {
		for k, v := range s.nodes[i].node.Labels {
			if nl := wanted[k][v]; nl != nil {
				nl.nodes = append(nl.nodes, int32(i))
			}
		}
	}
}

// sizeClass rounds a request down to powers of two: cpu and memory are
// the floor of their log2 (-1 for none). Every node whose allocatable
// holds the request also holds the class's lower bound, so the class's
// list is a superset of the nodes that could ever take the pod.
type sizeClass struct{ cpu, mem int8 }

func classOf(r Resources) sizeClass {
	level := func(v int64) int8 {
		if v <= 0 {
			return -1
		}
		return int8(bits.Len64(uint64(v)) - 1)
	}
	return sizeClass{cpu: level(r.MilliCPU), mem: level(r.Memory)}
}

func (c sizeClass) admits(alloc Resources) bool {
	bound := func(level int8) int64 {
		if level < 0 {
			return 0
		}
		return 1 << level
	}
	return alloc.Pods >= 1 && alloc.MilliCPU >= bound(c.cpu) && alloc.Memory >= bound(c.mem)
}

// bigEnough returns the nodes of p's size class, built on first use. On a
// cluster of mixed machines a big pod then never walks past the small
// ones, which would refuse it even empty.
func (s *stack) bigEnough(p *podInfo) *nodeList {
	c := classOf(p.req)
	if nl := s.bySize[c]; nl != nil {
		return nl
	}
	nl := &nodeList{}
	for _, ni := range s.all.nodes {
		if c.admits(s.nodes[ni].alloc) {
			nl.nodes = append(nl.nodes, ni)
		}
	}
	if len(nl.nodes) == len(s.all.nodes) {
		nl = s.all // share the rotation when the class admits everything
	}
	s.bySize[c] = nl
	return nl
}

// prepare picks p's source and wires p's own chain: only the checks that
// can reject it, and not the fit, which the scan runs first.
func (s *stack) prepare(p *podInfo) {
	p.source = s.source(p)
	p.checks = p.checks[:0]
	for _, c := range s.checks {
		if _, fit := c.(fitCheck); !fit && c.relevant(p) {
			p.checks = append(p.checks, c)
		}
	}
}

// source picks the shortest list of nodes p could use: those of its
// rarest selected label pair, those big enough for it, or every node. A
// pair served from the label index moves to the front of p.selector and
// the selector check skips it.
func (s *stack) source(p *podInfo) *nodeList {
	p.indexed = 0
	src := s.bigEnough(p)
	best := -1
	for i, l := range p.selector {
		nl := s.byLabel[l]
		if nl == nil {
			return &nodeList{} // the pair is on no node
		}
		if len(nl.nodes) < len(src.nodes) {
			src, best = nl, i
		}
	}
	if best >= 0 {
		p.selector[0], p.selector[best] = p.selector[best], p.selector[0]
		p.indexed = 1
	}
	return src
}

// choose finds p a node, or says why there is none.
func (s *stack) choose(p *podInfo) (int, diagnosis) {
	s.prepare(p)
	// A claim the plan binds changes where its other pods may go, so the
	// memory of refusals (nodes only fill up) does not hold for them.
	if s.noMemo || len(p.claims) > 0 {
		if ni := s.selectNode(p); ni >= 0 {
			return ni, diagnosis{}
		}
		return -1, s.diagnose(p)
	}
	known := s.refusedBefore(p)
	if known == nil {
		if ni := s.selectNode(p); ni >= 0 {
			return ni, diagnosis{}
		}
	}
	if known != nil && known.version == s.version && known.req == p.req {
		return -1, known.diag.clone()
	}
	d := s.diagnose(p)
	s.remember(p, d)
	return -1, d
}

// refusedBefore returns a refusal that p's request dominates, or nil.
func (s *stack) refusedBefore(p *podInfo) *refusal {
	rs := s.refused[p.constraints]
	for i := range rs {
		if rs[i].req.MilliCPU <= p.req.MilliCPU && rs[i].req.Memory <= p.req.Memory {
			return &rs[i]
		}
	}
	return nil
}

func (s *stack) remember(p *podInfo, d diagnosis) {
	r := refusal{req: p.req, version: s.version, diag: d.clone()}
	rs := s.refused[p.constraints]
	for i := range rs {
		if rs[i].req == p.req {
			rs[i] = r
			return
		}
	}
	s.refused[p.constraints] = append(rs, r)
}

// selectNode runs p through the pipeline and returns the chosen node's
// position, or -1 when no node passes every check. Up to s.sample feasible
// nodes are ranked; equal best scores are broken by the seeded generator.
func (s *stack) selectNode(p *podInfo) int {
	src := p.source
	n := len(src.nodes)
	if n == 0 {
		return -1
	}
	start := src.next % n
	best, ties, found, seen := -1, 0, 0, 0
	var bestScore float64
	for ; seen < n && found < s.sample; seen++ {
		i := start + seen
		if i >= n {
			i -= n
		}
		ni := int(src.nodes[i])
		node := &s.nodes[ni]
		// The fit goes first and is called directly, not through the
		// chain: on a filling cluster it rejects the most nodes, and the
		// order does not matter when all that counts is passing them all.
		if (fitCheck{}).check(p, node) != 0 || !feasible(p, node) {
			continue
		}
		found++
		u := usageWith(p, node)
		var sc float64
		for _, r := range s.scorers {
			sc += r.score(u)
		}
		switch {
		case best < 0 || sc > bestScore:
			best, bestScore, ties = ni, sc, 1
		case sc == bestScore:
			// Reservoir sampling: each of the tied nodes ends up chosen
			// with equal chance.
			ties++
			if s.rng.IntN(ties) == 0 {
				best = ni
			}
		}
	}
	src.next = (start + seen) % n
	return best
}

func feasible(p *podInfo, n *nodeState) bool {
	for _, c := range p.checks {
		if c.check(p, n) != 0 {
			return false
		}
	}
	return true
}

// assume charges p on node ni.
func (s *stack) assume(p *podInfo, ni int) {
	s.nodes[ni].charge(p.req, p.score, p.ports)
	s.bindClaims(p, ni)
	s.version++
}

// forget undoes assume. Gangs forget in the reverse order they assumed, so
// p's ports are the last ones on the node.
func (s *stack) forget(p *podInfo, ni int) {
	n := &s.nodes[ni]
	n.free = n.free.add(p.req)
	n.usedCPU -= p.score.MilliCPU
	n.usedMem -= p.score.Memory
	n.ports = n.ports[:len(n.ports)-len(p.ports)]
	s.unbindClaims(p, ni)
	s.version++
	// The node has room again: what was refused may fit now.
	clear(s.refused)
}

// diagnosis is why no node took a pod.
type diagnosis struct {
	reasons       map[Reason]int
	message       string
	shortfall     Resources
	shortfallNode string
}

// clone copies d, so no two Unplaced share a map.
func (d diagnosis) clone() diagnosis {
	d.reasons = maps.Clone(d.reasons)
	return d
}

// diagnose judges every node for p with p's checks in order, counting the
// first reason each node gives, the way kube-scheduler builds a FitError.
// It runs only for pods that fit nowhere, so the hot path counts nothing.
func (s *stack) diagnose(p *podInfo) diagnosis {
	// Every node is judged here, not only the source's, so the selector
	// check must look at every pair again.
	p.indexed = 0
	var checks []feasibilityCheck
	for _, c := range s.checks {
		if c.relevant(p) {
			checks = append(checks, c)
		}
	}
	var d diagnosis
	var counts [len(reasonText)]int
	taints := map[string]int{} // the taint reason names the taint
	bestCost := -1.0
	var invCPU, invMem float64 // a shortfall is only ever in what the pod requests
	if p.req.MilliCPU > 0 {
		invCPU = 1 / float64(p.req.MilliCPU)
	}
	if p.req.Memory > 0 {
		invMem = 1 / float64(p.req.Memory)
	}
	for ni := range s.nodes {
		n := &s.nodes[ni]
		var r reasons
		for _, c := range checks {
			if r = c.check(p, n); r != 0 {
				break
			}
		}
		if r == 0 {
			continue // fits after all: cannot happen for a pod selectNode refused
		}
		for b := r; b != 0; b &= b - 1 {
			counts[bits.TrailingZeros16(uint16(b))]++
		}
		if r&rTaint != 0 {
			taints[taintText(untoleratedTaint(p, n))]++
		}
		if r&^resourceReasons != 0 {
			continue
		}
		short := Resources{
			MilliCPU: max(0, p.req.MilliCPU-n.free.MilliCPU),
			Memory:   max(0, p.req.Memory-n.free.Memory),
			Pods:     max(0, 1-n.free.Pods),
		}
		if r&rInsufficientCPU == 0 {
			short.MilliCPU = 0
		}
		if r&rInsufficientMemory == 0 {
			short.Memory = 0
		}
		// The best node is the one missing the smallest share of what
		// the pod asks for.
		cost := float64(short.MilliCPU)*invCPU + float64(short.Memory)*invMem + float64(short.Pods)
		if bestCost < 0 || cost < bestCost {
			bestCost, d.shortfall, d.shortfallNode = cost, short, n.node.Name
		}
	}
	d.reasons = map[Reason]int{}
	hist := taints
	for i, c := range counts {
		if c == 0 {
			continue
		}
		d.reasons[reasonText[i]] = c
		if reasonText[i] != ReasonTaint {
			hist[string(reasonText[i])] = c
		}
	}
	d.message = s.claimMessage(p, fitMessage(len(s.nodes), hist))
	return d
}
