package scheduler

// maxNodeScore is the most one scorer gives a node, as kube-scheduler's
// MaxNodeScore.
const maxNodeScore = 100

// scorer is one rank stage: it scores a feasible node for a pod from the
// node's usage with the pod on it, higher is better, from 0 to
// maxNodeScore. The stack adds up the stages.
type scorer interface {
	score(u usage) float64
}

// usage is the share of cpu and memory a node would have requested with
// the pod on it, at most 1. The stack computes it once per node for every
// rank stage.
type usage struct{ cpu, mem float64 }

// usageWith is n's usage with p on it. A node without any of a resource
// counts as full of it.
func usageWith(p *podInfo, n *nodeState) usage {
	u := usage{cpu: 1, mem: 1}
	if n.invCPU > 0 {
		u.cpu = min(float64(n.usedCPU+p.score.MilliCPU)*n.invCPU, 1)
	}
	if n.invMem > 0 {
		u.mem = min(float64(n.usedMem+p.score.Memory)*n.invMem, 1)
	}
	return u
}

// leastAllocated prefers the emptiest node: spreading.
type leastAllocated struct{}

func (leastAllocated) score(u usage) float64 { return (2 - u.cpu - u.mem) / 2 * maxNodeScore }

// mostAllocated prefers the fullest node that still fits: bin-packing.
type mostAllocated struct{}

func (mostAllocated) score(u usage) float64 { return (u.cpu + u.mem) / 2 * maxNodeScore }

// balancedAllocation prefers nodes whose cpu and memory fill at the same
// rate, so neither runs out while the other idles: 1 minus the standard
// deviation of the two shares, as kube-scheduler's
// NodeResourcesBalancedAllocation.
type balancedAllocation struct{}

func (balancedAllocation) score(u usage) float64 {
	d := u.cpu - u.mem
	if d < 0 {
		d = -d
	}
	return (1 - d/2) * maxNodeScore
}
