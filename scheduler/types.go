package scheduler

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// Annotations that make pods a gang, placed all-or-nothing.
const (
	// AnnotationGang names the gang a pod belongs to. Gangs are scoped to
	// the pod's namespace. On the pods of a Job that asks for a gang (its
	// own berth.dev/gang-min) the jobs controller sets it to the Job's
	// namespace/name.
	AnnotationGang = manifest.AnnotationGang
	// AnnotationGangMin is the least number of the gang's pods, counting
	// those already bound, that must run together: a positive integer.
	// Without it the whole gang (every pending and bound member) is the
	// minimum.
	AnnotationGangMin = manifest.AnnotationGangMin
)

// Node is the scheduler's read-only view of one node.
type Node struct {
	Name string
	// Generation changes whenever anything the scheduler reads about the
	// node changes: labels, taints, allocatable, readiness, cordon, and the
	// set of pods bound to it. A plan records the generations it relied on
	// so the store can refuse to commit it against a newer view.
	Generation uint64
	Labels     map[string]string
	// Allocatable holds cpu, memory and pods. A missing cpu or memory is
	// zero; a missing pods is kubelet's default of 110.
	Allocatable   corev1.ResourceList
	Taints        []corev1.Taint
	Ready         bool
	Unschedulable bool // cordoned
	// StorageCapacity is how many bytes the node offers for claims (the
	// agent's --storage-dir); claims bound to it hold their requests
	// there. 0 takes no new claim. A change of it, or of the claims bound
	// to the node, must change Generation.
	StorageCapacity int64
}

// Bound is a pod that already runs, or is committed to run, on a node. It
// holds its requests and host ports there. A Bound on a node that is not in
// the view holds nothing.
type Bound struct {
	Pod  *corev1.Pod
	Node string
}

// Cluster is the view a plan is computed on.
type Cluster struct {
	Nodes []Node
	Bound []Bound
	// Claims are the PersistentVolumeClaims pods may name; see Claim.
	Claims []Claim
}

// Strategy chooses how feasible nodes are ranked.
type Strategy string

const (
	// StrategySpread prefers the least allocated node (kube-scheduler's
	// LeastAllocated), so load and failures spread out. The default.
	StrategySpread Strategy = "spread"
	// StrategyBinpack prefers the most allocated node (MostAllocated), so
	// whole nodes stay free for big pods or for draining.
	StrategyBinpack Strategy = "binpack"
)

// ParseStrategy reads a strategy from a flag or config value; "" is spread.
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case "", StrategySpread:
		return StrategySpread, nil
	case StrategyBinpack:
		return StrategyBinpack, nil
	}
	return "", fmt.Errorf("%w: unknown strategy %q (want %q or %q)", ErrInvalid, s, StrategySpread, StrategyBinpack)
}

// Options tune one call of Place.
type Options struct {
	// Strategy ranks feasible nodes; "" is StrategySpread.
	Strategy Strategy
	// Seed is mixed with the names of the pods and nodes to seed the node
	// order and tie-breaks. The same input with the same Seed gives the same
	// plan, so a placement can be replayed.
	Seed uint64
	// AllOrNothing makes the batch atomic as a whole: either every pod is
	// bound, or none is and Unplaced says why each pod that fits nowhere
	// fails. The reconciler uses it to admit a Git revision only if all of
	// its pods fit next to what keeps running.
	AllOrNothing bool
	// PercentageOfNodesToScore bounds how many feasible nodes are ranked
	// per pod, as in kube-scheduler: 0 adapts to the cluster size (50% at
	// 100 nodes falling to 5% at 5,625 and more, never fewer than 100
	// nodes); 100 ranks every feasible node. Filters always see every node
	// before a pod is declared unplaceable.
	PercentageOfNodesToScore int
}

// Plan is the result of one call: bindings that fit together, and a reason
// for every pod that is not bound.
type Plan struct {
	// Bindings in the order the pods were given.
	Bindings []Binding
	// NodeGenerations holds, for every node that receives a binding, the
	// generation the plan was computed on. Commit the plan only if each of
	// them is still current (see Verify); otherwise place the batch again.
	NodeGenerations map[string]uint64
	// Unplaced in the order the pods were given.
	Unplaced []Unplaced
	// ClaimNodes binds, for each claim a binding of this plan is the
	// first consumer of ("namespace/name"), the claim to the node its pod
	// goes to (WaitForFirstConsumer). Commit them with the bindings.
	ClaimNodes map[string]string
}

// Binding places one pod on one node.
type Binding struct {
	Pod  *corev1.Pod // as passed to Place
	Node string
}

// Cause says why a pod is not bound.
type Cause string

const (
	// CauseNoFit: no node passes every filter for the pod. Reasons counts
	// the nodes per filter; Shortfall says what the best node lacks.
	CauseNoFit Cause = "NoFit"
	// CauseGang: the pod's gang could not place its minimum together, so
	// none of it is bound. The pod itself may or may not fit alone.
	CauseGang Cause = "GangIncomplete"
	// CauseBatch: the pod fits, but the batch is all-or-nothing and other
	// pods in it do not.
	CauseBatch Cause = "BatchRejected"
	// CauseInvalid: the pod asks for something the scheduler cannot honour
	// (a malformed gang annotation, a resource or field it does not
	// implement). Placing it again will not help until the pod changes.
	CauseInvalid Cause = "Invalid"
)

// Unplaced explains why one pod is not bound.
type Unplaced struct {
	Pod   *corev1.Pod
	Cause Cause
	// Message is one line for `berth describe pod`, in kube-scheduler's
	// form: "0/3 nodes are available: 2 Insufficient memory, 1 node(s)
	// didn't match Pod's node selector."
	Message string
	// Reasons counts, per filter, the nodes that rejected the pod. Empty
	// when the pod was not itself rejected by every node. A node short of
	// both cpu and memory counts under both, as in kube-scheduler.
	Reasons map[Reason]int
	// Shortfall is what the best node lacks for the pod (cpu, memory, a pod
	// slot), among nodes that fail on resources alone; ShortfallNode names
	// it. Both are zero when no node passes the other filters.
	Shortfall     Resources
	ShortfallNode string
	// Gang is the pod's gang annotation, if any.
	Gang string
}

// Needs says what the pod lacks for `berth status`, as "needs 512Mi more
// memory on node-b", or "" when resources are not the obstacle.
func (u *Unplaced) Needs() string {
	if u.ShortfallNode == "" || u.Shortfall == (Resources{}) {
		return ""
	}
	return fmt.Sprintf("needs %s on %s", u.Shortfall.more(), u.ShortfallNode)
}

// Complete reports whether every pod was bound.
func (p *Plan) Complete() bool { return len(p.Unplaced) == 0 }

// Verify checks the plan against the store's current node generations;
// generation reports a node's generation and whether it still exists. It
// returns an error wrapping ErrStale naming the first node that moved on.
func (p *Plan) Verify(generation func(node string) (uint64, bool)) error {
	for _, b := range p.Bindings {
		want := p.NodeGenerations[b.Node]
		got, ok := generation(b.Node)
		if !ok {
			return fmt.Errorf("%w: node %s is gone", ErrStale, b.Node)
		}
		if got != want {
			return fmt.Errorf("%w: node %s is at generation %d, the plan saw %d", ErrStale, b.Node, got, want)
		}
	}
	return nil
}

var (
	// ErrInvalid marks input Place cannot work with at all: nil pods,
	// duplicate pod or node names, unknown options.
	ErrInvalid = errors.New("invalid scheduling input")
	// ErrStale marks a plan computed on a node view that has since changed.
	ErrStale = errors.New("stale plan")
)
