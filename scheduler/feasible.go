package scheduler

import (
	"fmt"
	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// podInfo is a pending pod with everything the filters and scores read,
// computed once per call so the per-node loop touches no maps or
// quantities.
type podInfo struct {
	pod   *corev1.Pod
	index int // position in the input
	key   string

	req   Resources // what filters check: the effective request
	score Resources // what ranking charges: req with non-zero defaults
	size  float64   // for placing large pods first

	nodeName               string
	selector               []labelPair // sorted by key
	tolerations            []corev1.Toleration
	toleratesUnschedulable bool
	ports                  []hostPort

	claims []*claimState // the claims its volumes name

	gang        *gang
	invalid     string // why the pod cannot be placed at all, or ""
	constraints string // see constraintsKey

	source  *nodeList          // the nodes the pod is offered
	indexed int                // leading selector pairs the source guarantees
	checks  []feasibilityCheck // the stages that can reject this pod
}

type labelPair struct{ key, value string }

// hostPort is one port a pod binds on its node. An empty ip means every
// address, which conflicts with any address on the same port.
type hostPort struct {
	protocol corev1.Protocol
	ip       string
	port     int32
}

func (a hostPort) conflicts(b hostPort) bool {
	return a.port == b.port && a.protocol == b.protocol && (a.ip == "" || b.ip == "" || a.ip == b.ip)
}

// podHostPorts lists the host ports of the containers that run for the
// pod's life: app containers and sidecars.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			hp := hostPort{protocol: p.Protocol, ip: p.HostIP, port: p.HostPort}
			if hp.protocol == "" {
				hp.protocol = corev1.ProtocolTCP
			}
			if hp.ip == "0.0.0.0" || hp.ip == "::" {
				hp.ip = ""
			}
			out = append(out, hp)
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if manifest.IsSidecar(c) {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// nodeState is one node as the plan so far leaves it. Placing a pod
// updates it in place (and undoing a gang restores it), so no filter ever
// recomputes a node's usage from the list of pods on it. What every scan
// reads fills one cache line; the rest sits behind nodeInfo.
type nodeState struct {
	free Resources // allocatable minus every bound and assumed request
	// Bound and assumed scoring requests, for ranking.
	usedCPU, usedMem int64
	// 1/allocatable, 0 when there is none, so ranking multiplies.
	invCPU, invMem float64
	*nodeInfo
}

// charge holds a pod's request (req for the filters, score for ranking)
// and host ports on n: a bound pod's before placing starts, an assumed
// one's as it is placed.
func (n *nodeState) charge(req, score Resources, ports []hostPort) {
	n.free = n.free.sub(req)
	n.usedCPU += score.MilliCPU
	n.usedMem += score.Memory
	n.ports = append(n.ports, ports...)
}

// nodeInfo is the part of a node's state that only pods which pass the fit
// look at.
type nodeInfo struct {
	node               *Node
	alloc              Resources
	notReady, cordoned bool
	taints             []corev1.Taint // NoSchedule and NoExecute only
	ports              []hostPort     // in use
	freeStorage        int64          // capacity minus the claims bound here
}

// feasibilityCheck is one filter stage: it rejects nodes a pod may not go
// to, with the reasons why.
type feasibilityCheck interface {
	// relevant reports whether the check can reject any node for p; the
	// stack leaves the others out of p's hot loop.
	relevant(p *podInfo) bool
	// check returns the reasons n rejects p, or 0 if it accepts it.
	check(p *podInfo, n *nodeState) reasons
}

// readyCheck: a node whose agent is not reporting runs nothing new.
type readyCheck struct{}

func (readyCheck) relevant(*podInfo) bool { return true }
func (readyCheck) check(_ *podInfo, n *nodeState) reasons {
	if n.notReady {
		return rNotReady
	}
	return 0
}

// cordonCheck: a cordoned node takes only pods that tolerate the
// unschedulable taint, as kube-scheduler's NodeUnschedulable.
type cordonCheck struct{}

func (cordonCheck) relevant(p *podInfo) bool { return !p.toleratesUnschedulable }
func (cordonCheck) check(_ *podInfo, n *nodeState) reasons {
	if n.cordoned {
		return rUnschedulable
	}
	return 0
}

// nodeNameCheck: a pod that names its node goes there or nowhere.
type nodeNameCheck struct{}

func (nodeNameCheck) relevant(p *podInfo) bool { return p.nodeName != "" }
func (nodeNameCheck) check(p *podInfo, n *nodeState) reasons {
	if p.nodeName != "" && n.node.Name != p.nodeName {
		return rNodeName
	}
	return 0
}

// taintCheck: every NoSchedule or NoExecute taint must be tolerated.
type taintCheck struct{}

func (taintCheck) relevant(*podInfo) bool { return true }
func (taintCheck) check(p *podInfo, n *nodeState) reasons {
	if len(n.taints) > 0 && untoleratedTaint(p, n) != nil {
		return rTaint
	}
	return 0
}

func untoleratedTaint(p *podInfo, n *nodeState) *corev1.Taint {
	for i := range n.taints {
		if !tolerates(p.tolerations, &n.taints[i]) {
			return &n.taints[i]
		}
	}
	return nil
}

func tolerates(tolerations []corev1.Toleration, t *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), t, false) {
			return true
		}
	}
	return false
}

// taintText is kube-scheduler's wording for one untolerated taint.
func taintText(t *corev1.Taint) string {
	return fmt.Sprintf("%s {%s: %s}", ReasonTaint, t.Key, t.Value)
}

// selectorCheck: the node carries every label of the pod's nodeSelector.
type selectorCheck struct{}

func (selectorCheck) relevant(p *podInfo) bool { return len(p.selector) > p.indexed }
func (selectorCheck) check(p *podInfo, n *nodeState) reasons {
	for _, l := range p.selector[p.indexed:] {
		if v, ok := n.node.Labels[l.key]; !ok || v != l.value {
			return rNodeSelector
		}
	}
	return 0
}

// portsCheck: no host port of the pod is taken on the node.
type portsCheck struct{}

func (portsCheck) relevant(p *podInfo) bool { return len(p.ports) > 0 }
func (portsCheck) check(p *podInfo, n *nodeState) reasons {
	for _, want := range p.ports {
		for _, used := range n.ports {
			if want.conflicts(used) {
				return rHostPorts
			}
		}
	}
	return 0
}

// fitCheck: the request fits in what is left of allocatable, and the node
// has a pod slot. A resource the pod does not request is not checked, so
// an overcommitted node still takes pods that need none of it, as in
// kube-scheduler's NodeResourcesFit.
type fitCheck struct{}

func (fitCheck) relevant(*podInfo) bool { return true }
func (fitCheck) check(p *podInfo, n *nodeState) reasons {
	var r reasons
	if n.free.Pods < 1 {
		r |= rTooManyPods
	}
	if p.req.MilliCPU > 0 && p.req.MilliCPU > n.free.MilliCPU {
		r |= rInsufficientCPU
	}
	if p.req.Memory > 0 && p.req.Memory > n.free.Memory {
		r |= rInsufficientMemory
	}
	return r
}

// resourceReasons are the reasons a shortfall can mend.
const resourceReasons = rTooManyPods | rInsufficientCPU | rInsufficientMemory
