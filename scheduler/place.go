package scheduler

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Place computes one plan for the pending pods on the cluster view. Every
// binding in it fits together with every other and with the bound pods;
// every gang in it has its minimum or is absent; every pod not bound is in
// Unplaced with the reason. Place reads its arguments and changes none of
// them. It fails only on input it cannot interpret at all (ErrInvalid).
func Place(pods []*corev1.Pod, cluster Cluster, opts Options) (*Plan, error) {
	pl, err := newPlacement(pods, cluster, opts)
	if err != nil {
		return nil, err
	}
	return pl.run(), nil
}

// placement is the state of one call of Place.
type placement struct {
	opts  Options
	stack *stack
	pods  []*podInfo // input order
	steps []step     // in the order they are taken

	node    []int       // per pod: the chosen node's position, or -1
	outcome []*Unplaced // per pod: why it is not bound, or nil

	// observe, when set, is called after each step with the number of
	// pods it decided (1, or a whole gang); the benchmark uses it to time
	// pods one by one.
	observe func(pods int)
}

func newPlacement(pods []*corev1.Pod, cluster Cluster, opts Options) (*placement, error) {
	strategy, err := ParseStrategy(string(opts.Strategy))
	if err != nil {
		return nil, err
	}
	opts.Strategy = strategy
	if opts.PercentageOfNodesToScore < 0 || opts.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("%w: PercentageOfNodesToScore %d is outside 0..100", ErrInvalid, opts.PercentageOfNodesToScore)
	}

	rng := seededRand(pods, cluster, opts.Seed)

	// Nodes go into the stack in a seeded order, so neither the order the
	// store lists them in nor their names bias where pods land.
	nodes := make([]nodeState, len(cluster.Nodes))
	nodeByID := make(map[string]int, len(cluster.Nodes))
	for pos, i := range rng.Perm(len(cluster.Nodes)) {
		in := &cluster.Nodes[i]
		if in.Name == "" {
			return nil, fmt.Errorf("%w: node %d has no name", ErrInvalid, i)
		}
		if _, dup := nodeByID[in.Name]; dup {
			return nil, fmt.Errorf("%w: node %s is listed twice", ErrInvalid, in.Name)
		}
		nodeByID[in.Name] = pos
		nodes[pos] = newNodeState(in)
	}

	// Bound pods hold their share before anything is placed.
	keys := make(map[string]bool, len(pods)+len(cluster.Bound))
	boundMembers := map[string]int{}
	for i, b := range cluster.Bound {
		if b.Pod == nil {
			return nil, fmt.Errorf("%w: bound pod %d is nil", ErrInvalid, i)
		}
		key := podKey(b.Pod)
		if keys[key] {
			return nil, fmt.Errorf("%w: pod %s is bound twice", ErrInvalid, key)
		}
		keys[key] = true
		pos, ok := nodeByID[b.Node]
		if !ok {
			continue // its node left the view; it holds nothing
		}
		req := EffectiveRequest(b.Pod)
		nodes[pos].charge(req, scoringRequest(req), podHostPorts(b.Pod))
		if gk, ok := gangKey(b.Pod); ok {
			boundMembers[gk]++
		}
	}

	avg := averageAllocatable(nodes)
	infos := make([]*podInfo, len(pods))
	for i, pod := range pods {
		if pod == nil {
			return nil, fmt.Errorf("%w: pending pod %d is nil", ErrInvalid, i)
		}
		key := podKey(pod)
		if keys[key] {
			return nil, fmt.Errorf("%w: pod %s is given twice (pending, or pending and bound)", ErrInvalid, key)
		}
		keys[key] = true
		infos[i] = newPodInfo(pod, i, key, avg)
	}
	stk := newStack(nodes, strategy, opts.PercentageOfNodesToScore, rng)
	if err := stk.addClaims(cluster.Claims, nodeByID, infos); err != nil {
		return nil, err
	}

	pl := &placement{
		opts:    opts,
		stack:   stk,
		pods:    infos,
		node:    make([]int, len(pods)),
		outcome: make([]*Unplaced, len(pods)),
	}
	for i := range pl.node {
		pl.node[i] = -1
	}
	pl.stack.indexSelectors(infos)
	pl.weighConstraints(infos)
	gangs, singles := collectGangs(infos, boundMembers)

	// Steps go largest first (first-fit decreasing): placing the pods
	// that need whole free nodes before the small ones fill every node a
	// little leaves fewer holes too small for anything than input order
	// does. A pod's size is its dominant share of an average node, scaled
	// by how few nodes it could ever use (weighConstraints). A gang
	// counts as big as its biggest pod and goes before a single pod of
	// the same size, since it needs several nodes at once.
	// Ties keep the input order. Each step (one pod, or one whole gang
	// that keeps its pods or gives all of them back) only adds to the
	// nodes, so a pod refused early would be refused by the final state
	// too: the reasons reported stay true for the whole plan.
	for _, g := range gangs {
		sortBySize(g.members)
		pl.steps = append(pl.steps, step{gang: g, size: g.members[0].size, first: g.first})
	}
	for _, p := range singles {
		pl.steps = append(pl.steps, step{pod: p, size: p.size, first: p.index})
	}
	sort.Slice(pl.steps, func(i, j int) bool {
		a, b := &pl.steps[i], &pl.steps[j]
		if a.size != b.size {
			return a.size > b.size
		}
		if (a.gang != nil) != (b.gang != nil) {
			return a.gang != nil
		}
		return a.first < b.first
	})
	return pl, nil
}

// weighConstraints makes a pod that may use only some of the nodes count
// as bigger, by the share of nodes it could ever use: those big enough for
// it when empty, and those its selector allows. A pod that only the few
// large nodes can hold, or that fits only on the few ssd nodes, would find
// them taken by pods that could have gone anywhere if it went after them.
func (pl *placement) weighConstraints(pods []*podInfo) {
	all := len(pl.stack.nodes)
	for _, p := range pods {
		pool := len(pl.stack.bigEnough(p).nodes)
		if p.nodeName != "" || p.pinned() {
			pool = 1
		}
		for _, l := range p.selector {
			if nl := pl.stack.byLabel[l]; nl != nil {
				pool = min(pool, len(nl.nodes))
			}
		}
		if pool > 0 && pool < all {
			p.size *= float64(all) / float64(pool)
		}
	}
}

// step is one unit of placement: a single pod, or a whole gang.
type step struct {
	gang  *gang
	pod   *podInfo
	size  float64
	first int // input position of the (first) pod
}

func sortBySize(pods []*podInfo) {
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].size > pods[j].size })
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// seededRand mixes the caller's seed with the names of every pod and node,
// so the same input always draws the same numbers.
func seededRand(pods []*corev1.Pod, cluster Cluster, seed uint64) *rand.Rand {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], seed)
	h.Write(buf[:])
	for _, p := range pods {
		if p != nil {
			h.Write([]byte(p.Namespace))
			h.Write([]byte{0})
			h.Write([]byte(p.Name))
			h.Write([]byte{0})
		}
	}
	for i := range cluster.Nodes {
		h.Write([]byte(cluster.Nodes[i].Name))
		h.Write([]byte{0})
	}
	sum := h.Sum64()
	return rand.New(rand.NewPCG(sum, sum^0x9e3779b97f4a7c15))
}

func newNodeState(in *Node) nodeState {
	alloc := nodeAllocatable(in.Allocatable)
	n := nodeState{
		free: alloc,
		nodeInfo: &nodeInfo{
			node:     in,
			alloc:    alloc,
			notReady: !in.Ready,
			cordoned: in.Unschedulable,
		},
	}
	if alloc.MilliCPU > 0 {
		n.invCPU = 1 / float64(alloc.MilliCPU)
	}
	if alloc.Memory > 0 {
		n.invMem = 1 / float64(alloc.Memory)
	}
	for _, t := range in.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			n.taints = append(n.taints, t)
		}
	}
	return n
}

// averageAllocatable is the yardstick for a pod's size.
func averageAllocatable(nodes []nodeState) Resources {
	var sum Resources
	for i := range nodes {
		sum = sum.add(nodes[i].alloc)
	}
	if len(nodes) == 0 {
		return Resources{MilliCPU: 1, Memory: 1}
	}
	n := int64(len(nodes))
	return Resources{MilliCPU: max(sum.MilliCPU/n, 1), Memory: max(sum.Memory/n, 1)}
}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

func newPodInfo(pod *corev1.Pod, index int, key string, avg Resources) *podInfo {
	p := &podInfo{
		pod:         pod,
		index:       index,
		key:         key,
		req:         EffectiveRequest(pod),
		nodeName:    pod.Spec.NodeName,
		tolerations: pod.Spec.Tolerations,
		ports:       podHostPorts(pod),
		checks:      make([]feasibilityCheck, 0, 7),
	}
	p.score = scoringRequest(p.req)
	// A pod's size is its dominant share of an average node.
	p.size = max(float64(p.req.MilliCPU)/float64(avg.MilliCPU), float64(p.req.Memory)/float64(avg.Memory))
	p.toleratesUnschedulable = tolerates(p.tolerations, &unschedulableTaint)
	for k, v := range pod.Spec.NodeSelector {
		p.selector = append(p.selector, labelPair{k, v})
	}
	sort.Slice(p.selector, func(i, j int) bool { return p.selector[i].key < p.selector[j].key })
	p.constraints = constraintsKey(p)
	p.invalid = unsupported(pod)
	return p
}

// constraintsKey spells out everything the filters read of p except its
// request, so pods with equal keys are refused by the same nodes for the
// same reasons whenever their requests are equal.
func constraintsKey(p *podInfo) string {
	if p.nodeName == "" && len(p.selector) == 0 && len(p.tolerations) == 0 && len(p.ports) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.nodeName)
	for _, l := range p.selector {
		fmt.Fprintf(&b, "\x00s%s=%s", l.key, l.value)
	}
	for _, t := range p.tolerations {
		fmt.Fprintf(&b, "\x00t%s\x01%s\x01%s\x01%s", t.Key, t.Operator, t.Value, t.Effect)
	}
	for _, hp := range p.ports {
		fmt.Fprintf(&b, "\x00p%s/%s/%d", hp.protocol, hp.ip, hp.port)
	}
	return b.String()
}

// unsupported names a part of the pod that would change where it may run
// and that the scheduler does not implement, or "": ignoring it would place
// the pod where its author said it must not go.
func unsupported(pod *corev1.Pod) string {
	switch s := &pod.Spec; {
	case s.Affinity != nil && (s.Affinity.NodeAffinity != nil || s.Affinity.PodAffinity != nil || s.Affinity.PodAntiAffinity != nil):
		return "berth's scheduler does not implement spec.affinity"
	case len(s.TopologySpreadConstraints) > 0:
		return "berth's scheduler does not implement spec.topologySpreadConstraints"
	case len(s.ResourceClaims) > 0:
		return "berth's scheduler does not implement spec.resourceClaims"
	case s.HostNetwork:
		return "berth's scheduler does not implement spec.hostNetwork"
	}
	if what := negativeResource(pod); what != "" {
		return "negative quantity: " + what
	}
	if name := unsupportedResource(pod); name != "" {
		return fmt.Sprintf("berth's scheduler accounts only for cpu and memory, not %s", name)
	}
	return ""
}

// run takes the steps in order and assembles the plan.
func (pl *placement) run() *Plan {
	for _, st := range pl.steps {
		pods := 1
		if st.gang != nil {
			pl.placeGang(st.gang)
			pods = len(st.gang.members)
		} else {
			pl.placeSingle(st.pod)
		}
		if pl.observe != nil {
			pl.observe(pods)
		}
	}
	if pl.opts.AllOrNothing {
		pl.rejectIfIncomplete()
	}
	return pl.plan()
}

func (pl *placement) placeSingle(p *podInfo) {
	if p.invalid != "" {
		pl.outcome[p.index] = &Unplaced{Cause: CauseInvalid, Message: p.invalid}
		return
	}
	ni, d := pl.stack.choose(p)
	if ni < 0 {
		pl.outcome[p.index] = noFit(d)
		return
	}
	pl.stack.assume(p, ni)
	pl.node[p.index] = ni
}

func noFit(d diagnosis) *Unplaced {
	return &Unplaced{
		Cause:         CauseNoFit,
		Message:       d.message,
		Reasons:       d.reasons,
		Shortfall:     d.shortfall,
		ShortfallNode: d.shortfallNode,
	}
}

// placeGang places the gang's pods one by one and keeps them only if at
// least its need is met; otherwise it gives back everything it took before
// the next gang starts. Since no gang ever holds part of its pods while
// another is placed, two gangs cannot deadlock each other over space.
func (pl *placement) placeGang(g *gang) {
	need := g.need()
	switch {
	case g.invalid != "":
		for _, p := range g.members {
			pl.outcome[p.index] = &Unplaced{Cause: CauseInvalid, Message: g.invalid}
		}
		return
	case len(g.members) < need:
		msg := fmt.Sprintf("gang %q needs %d pods running together but has only %d (%d pending, %d bound)",
			g.name, g.min, len(g.members)+g.bound, len(g.members), g.bound)
		for _, p := range g.members {
			pl.outcome[p.index] = &Unplaced{Cause: CauseGang, Message: msg}
		}
		return
	}

	var placed []*podInfo
	failed := 0
	for _, p := range g.members {
		if len(g.members)-failed < need {
			break // the rest cannot make up the need
		}
		if p.invalid != "" {
			pl.outcome[p.index] = &Unplaced{Cause: CauseInvalid, Message: p.invalid}
			failed++
			continue
		}
		ni, d := pl.stack.choose(p)
		if ni < 0 {
			pl.outcome[p.index] = noFit(d)
			failed++
			continue
		}
		pl.stack.assume(p, ni)
		pl.node[p.index] = ni
		placed = append(placed, p)
	}
	if len(placed) >= need {
		return // members beyond the need that failed stay NoFit
	}

	for i := len(placed) - 1; i >= 0; i-- {
		p := placed[i]
		pl.stack.forget(p, pl.node[p.index])
		pl.node[p.index] = -1
	}
	msg := fmt.Sprintf("gang %q needs %d more pods placed together but only %d fit, so none is bound", g.name, need, len(placed))
	for _, p := range g.members {
		u := pl.outcome[p.index]
		switch {
		case u == nil:
			u = &Unplaced{Message: msg}
		case u.Cause == CauseNoFit:
			u.Message += " " + msg
		default:
			continue // invalid stays invalid
		}
		u.Cause = CauseGang
		pl.outcome[p.index] = u
	}
}

// rejectIfIncomplete turns a partial plan into an empty one.
func (pl *placement) rejectIfIncomplete() {
	failing := 0
	for _, u := range pl.outcome {
		if u != nil {
			failing++
		}
	}
	if failing == 0 {
		return
	}
	msg := fmt.Sprintf("the batch is all-or-nothing and %d of its %d pods cannot be placed", failing, len(pl.pods))
	for i, ni := range pl.node {
		if ni >= 0 {
			pl.node[i] = -1
			pl.outcome[i] = &Unplaced{Cause: CauseBatch, Message: msg}
		}
	}
}

func (pl *placement) plan() *Plan {
	plan := &Plan{NodeGenerations: map[string]uint64{}, ClaimNodes: pl.stack.claimNodes(pl.node)}
	for i, p := range pl.pods {
		if ni := pl.node[i]; ni >= 0 {
			n := pl.stack.nodes[ni].node
			plan.Bindings = append(plan.Bindings, Binding{Pod: p.pod, Node: n.Name})
			plan.NodeGenerations[n.Name] = n.Generation
			continue
		}
		u := pl.outcome[i]
		u.Pod = p.pod
		u.Gang = p.pod.Annotations[AnnotationGang]
		plan.Unplaced = append(plan.Unplaced, *u)
	}
	return plan
}
