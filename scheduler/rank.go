package scheduler

// maxNodeScore is the most one scorer gives a node, as kube-scheduler's
// MaxNodeScore.
const maxNodeScore = 100

// scorer is one rank stage: it scores a feasible node for a pod, higher
// is better, from 0 to maxNodeScore. The stack adds up the stages.
type scorer interface {
	score(p *podInfo, n *nodeState) float64
}

// fractions are the shares of cpu and memory the node would have
// requested with p on it, at most 1. A node without any of a resource
// counts as full of it.
func fractions(p *podInfo, n *nodeState) (cpu, mem float64) {
	cpu, mem = 1, 1
	if n.invCPU > 0 {
		cpu = min(float64(n.used.MilliCPU+p.score.MilliCPU)*n.invCPU, 1)
	}
	if n.invMem > 0 {
		mem = min(float64(n.used.Memory+p.score.Memory)*n.invMem, 1)
	}
	return cpu, mem
}

// leastAllocated prefers the emptiest node: spreading.
type leastAllocated struct{}

func (leastAllocated) score(p *podInfo, n *nodeState) float64 {
	cpu, mem := fractions(p, n)
	return (2 - cpu - mem) / 2 * maxNodeScore
}

// mostAllocated prefers the fullest node that still fits: bin-packing.
type mostAllocated struct{}

func (mostAllocated) score(p *podInfo, n *nodeState) float64 {
	cpu, mem := fractions(p, n)
	return (cpu + mem) / 2 * maxNodeScore
}

// balancedAllocation prefers nodes whose cpu and memory fill at the same
// rate, so neither runs out while the other idles: 1 minus the standard
// deviation of the two fractions, as kube-scheduler's
// NodeResourcesBalancedAllocation.
type balancedAllocation struct{}

func (balancedAllocation) score(p *podInfo, n *nodeState) float64 {
	cpu, mem := fractions(p, n)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return (1 - d/2) * maxNodeScore
}
