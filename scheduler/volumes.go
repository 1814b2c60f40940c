package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Claim is a PersistentVolumeClaim as the scheduler sees it. berth's
// claims are directories on one node's disk, made where their first pod
// is placed (Kubernetes' WaitForFirstConsumer): an unbound claim needs
// Request bytes of StorageCapacity on the node its first pod goes to; a
// bound one holds them there and pins every pod using it to Node.
type Claim struct {
	Namespace, Name string
	// Request is resources.requests.storage in bytes.
	Request int64
	// Node is the node the claim is bound to, or "" while it has no
	// consumer yet. A node missing from the view holds nothing, and the
	// claim's pods fit nowhere.
	Node string
}

// claimState is one claim as the plan so far leaves it.
type claimState struct {
	name    string // for messages: the claim's name
	key     string // namespace/name
	request int64
	node    string   // bound node, "" if unbound
	by      *podInfo // the pod of this plan that bound it, if any
}

// addClaims charges bound claims on their nodes and gives every pending
// pod the claims its volumes name. A pod naming a claim that is not in the
// view cannot be placed (CauseInvalid), as kube-scheduler leaves a pod
// whose claim is missing unschedulable.
func (s *stack) addClaims(claims []Claim, nodeByID map[string]int, pods []*podInfo) error {
	for i := range s.nodes {
		s.nodes[i].freeStorage = s.nodes[i].node.StorageCapacity
	}
	for i, c := range claims {
		key := c.Namespace + "/" + c.Name
		if c.Name == "" {
			return fmt.Errorf("%w: claim %d has no name", ErrInvalid, i)
		}
		if _, dup := s.claims[key]; dup {
			return fmt.Errorf("%w: claim %s is listed twice", ErrInvalid, key)
		}
		s.claims[key] = &claimState{name: c.Name, key: key, request: max(c.Request, 0), node: c.Node}
		if pos, ok := nodeByID[c.Node]; ok {
			s.nodes[pos].freeStorage -= max(c.Request, 0)
		}
	}
	for _, p := range pods {
		seen := map[string]bool{}
		for _, v := range p.pod.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			key := p.pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
			c, ok := s.claims[key]
			if !ok {
				if p.invalid == "" {
					p.invalid = fmt.Sprintf("persistentvolumeclaim %q not found", v.PersistentVolumeClaim.ClaimName)
				}
				continue
			}
			if !seen[key] {
				seen[key] = true
				p.claims = append(p.claims, c)
			}
		}
		if len(p.claims) > 0 {
			// Pods sharing a constraints key must be refused alike; a
			// claim is a constraint of its own.
			keys := make([]string, len(p.claims))
			for i, c := range p.claims {
				keys[i] = c.key
			}
			sort.Strings(keys)
			p.constraints += "\x00c" + strings.Join(keys, "\x00c")
		}
	}
	return nil
}

// pinned reports whether a claim of p is already bound to a node.
func (p *podInfo) pinned() bool {
	for _, c := range p.claims {
		if c.node != "" {
			return true
		}
	}
	return false
}

// newStorage is what p's unbound claims need on the node it goes to.
func (p *podInfo) newStorage() int64 {
	var n int64
	for _, c := range p.claims {
		if c.node == "" {
			n += c.request
		}
	}
	return n
}

// bindClaims binds p's unbound claims to node ni, as placing their first
// consumer there does.
func (s *stack) bindClaims(p *podInfo, ni int) {
	n := &s.nodes[ni]
	for _, c := range p.claims {
		if c.node == "" {
			c.node, c.by = n.node.Name, p
			n.freeStorage -= c.request
		}
	}
}

// unbindClaims undoes bindClaims (a gang giving its pods back).
func (s *stack) unbindClaims(p *podInfo, ni int) {
	n := &s.nodes[ni]
	for _, c := range p.claims {
		if c.by == p {
			c.node, c.by = "", nil
			n.freeStorage += c.request
		}
	}
}

// claimNodes lists the claims this plan binds, for the pods it keeps.
func (s *stack) claimNodes(nodeOf []int) map[string]string {
	var out map[string]string
	for key, c := range s.claims {
		if c.by == nil || nodeOf[c.by.index] < 0 {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[key] = c.node
	}
	return out
}

// volumeNodeCheck: a pod whose claim is bound to a node goes to that node
// or nowhere (kube-scheduler's VolumeBinding, for local volumes).
type volumeNodeCheck struct{}

func (volumeNodeCheck) relevant(p *podInfo) bool { return len(p.claims) > 0 }
func (volumeNodeCheck) check(p *podInfo, n *nodeState) reasons {
	for _, c := range p.claims {
		if c.node != "" && c.node != n.node.Name {
			return rVolumeNode
		}
	}
	return 0
}

// storageCheck: a pod's unbound claims need that much free storage on
// the node that will hold them.
type storageCheck struct{}

func (storageCheck) relevant(p *podInfo) bool { return len(p.claims) > 0 }
func (storageCheck) check(p *podInfo, n *nodeState) reasons {
	if need := p.newStorage(); need > 0 && need > n.freeStorage {
		return rStorage
	}
	return 0
}

// claimMessage says, for a pod held by a bound claim, where the claim is:
// first, when that node is lost ("claim data-web-0 is bound to node n2,
// which is NotReady"), else after the fit message. A lost node is named
// before a claim whose node is up.
func (s *stack) claimMessage(p *podInfo, fit string) string {
	first := ""
	for _, c := range p.claims {
		if c.node == "" {
			continue
		}
		var state *nodeState
		for i := range s.nodes {
			if s.nodes[i].node.Name == c.node {
				state = &s.nodes[i]
				break
			}
		}
		switch {
		case state == nil:
			return fmt.Sprintf("claim %s is bound to node %s, which is not in the cluster; %s", c.name, c.node, fit)
		case state.notReady:
			return fmt.Sprintf("claim %s is bound to node %s, which is NotReady; %s", c.name, c.node, fit)
		case first == "":
			first = fmt.Sprintf("%s Claim %s is bound to node %s.", fit, c.name, c.node)
		}
	}
	if first != "" {
		return first
	}
	return fit
}
