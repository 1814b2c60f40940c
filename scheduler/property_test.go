package scheduler

import (
	"fmt"
	"github.com/go-logr/logr"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"pgregory.net/rapid"
)

// input is one random scheduling problem on a small cluster.
type input struct {
	pods    []*corev1.Pod
	cluster Cluster
	opts    Options
}

var (
	genCPU = rapid.SampledFrom([]string{"", "100m", "250m", "500m", "1", "2", "3"})
	genMem = rapid.SampledFrom([]string{"", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "3Gi"})
)

func genContainers(t *rapid.T, label string) ([]corev1.Container, []corev1.Container) {
	var apps, inits []corev1.Container
	for i := range rapid.IntRange(1, 3).Draw(t, label+"apps") {
		apps = append(apps, ctr(fmt.Sprint("app", i), genCPU.Draw(t, label+"cpu"), genMem.Draw(t, label+"mem")))
	}
	for i := range rapid.IntRange(0, 2).Draw(t, label+"inits") {
		c := ctr(fmt.Sprint("init", i), genCPU.Draw(t, label+"cpu"), genMem.Draw(t, label+"mem"))
		if rapid.Bool().Draw(t, label+"sidecar") {
			c = sidecar(c)
		}
		inits = append(inits, c)
	}
	return apps, inits
}

func genPod(t *rapid.T, key string, gangMins map[string]string) *corev1.Pod {
	apps, inits := genContainers(t, key)
	p := mkPod(key, apps, withInit(inits...))
	if rapid.IntRange(0, 3).Draw(t, "selector") == 0 {
		withSelector("zone", rapid.SampledFrom([]string{"a", "b"}).Draw(t, "zone"))(p)
	}
	if rapid.IntRange(0, 3).Draw(t, "tolerates") == 0 {
		withToleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})(p)
	}
	if rapid.IntRange(0, 4).Draw(t, "hostport") == 0 {
		withHostPort(rapid.SampledFrom([]int32{80, 443}).Draw(t, "port"), "")(p)
	}
	if rapid.Bool().Draw(t, "ingang") {
		g := rapid.SampledFrom([]string{"g1", "g2", "g3"}).Draw(t, "gang")
		min, ok := gangMins[g]
		if !ok {
			min = rapid.SampledFrom([]string{"", "1", "2", "3", "4"}).Draw(t, "gangmin")
			gangMins[g] = min
		}
		withGang(g, min)(p)
	}
	return p
}

func genInput(t *rapid.T) input {
	var in input
	nNodes := rapid.IntRange(0, 6).Draw(t, "nodes")
	for i := range nNodes {
		n := mkNode(fmt.Sprint("n", i), genCPU.Draw(t, "nodecpu"), genMem.Draw(t, "nodemem"),
			generation(rapid.Uint64().Draw(t, "generation")))
		if c := rapid.SampledFrom([]string{"1", "2", "4", "8"}).Draw(t, "bigcpu"); rapid.Bool().Draw(t, "big") {
			n.Allocatable = resources(c, rapid.SampledFrom([]string{"1Gi", "2Gi", "4Gi", "8Gi"}).Draw(t, "bigmem"))
		}
		if rapid.IntRange(0, 2).Draw(t, "maxpods") == 0 {
			withMaxPods(int64(rapid.IntRange(0, 4).Draw(t, "max")))(&n)
		}
		if rapid.Bool().Draw(t, "labelled") {
			withLabels("zone", rapid.SampledFrom([]string{"a", "b"}).Draw(t, "zone"))(&n)
		}
		if rapid.IntRange(0, 3).Draw(t, "tainted") == 0 {
			withTaint("dedicated", "x", rapid.SampledFrom([]corev1.TaintEffect{
				corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule,
			}).Draw(t, "effect"))(&n)
		}
		n.Ready = rapid.IntRange(0, 7).Draw(t, "notready") != 0
		n.Unschedulable = rapid.IntRange(0, 7).Draw(t, "cordoned") == 0
		in.cluster.Nodes = append(in.cluster.Nodes, n)
	}
	gangMins := map[string]string{}
	for i := range rapid.IntRange(0, 5).Draw(t, "bound") {
		node := "gone"
		if nNodes > 0 && rapid.IntRange(0, 5).Draw(t, "ongone") != 0 {
			node = fmt.Sprint("n", rapid.IntRange(0, nNodes-1).Draw(t, "on"))
		}
		in.cluster.Bound = append(in.cluster.Bound, Bound{Pod: genPod(t, fmt.Sprint("bound", i), gangMins), Node: node})
	}
	for i := range rapid.IntRange(0, 16).Draw(t, "pending") {
		ns := rapid.SampledFrom([]string{"default", "other"}).Draw(t, "ns")
		in.pods = append(in.pods, genPod(t, fmt.Sprintf("%s/pod%d", ns, i), gangMins))
	}
	in.opts = Options{
		Strategy:     rapid.SampledFrom([]Strategy{StrategySpread, StrategyBinpack}).Draw(t, "strategy"),
		Seed:         rapid.Uint64().Draw(t, "seed"),
		AllOrNothing: rapid.IntRange(0, 3).Draw(t, "aon") == 0,
	}
	return in
}

// refFits is an independent, slow statement of the filters: does pod fit
// on node next to the pods already there?
func refFits(pod *corev1.Pod, node Node, there []*corev1.Pod) bool {
	if !node.Ready {
		return false
	}
	if node.Unschedulable && !refTolerates(pod, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return false
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return false
	}
	for _, taint := range node.Taints {
		if taint.Effect != corev1.TaintEffectPreferNoSchedule && !refTolerates(pod, taint) {
			return false
		}
	}
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	for _, want := range refPorts(pod) {
		for _, other := range there {
			for _, used := range refPorts(other) {
				if refPortsClash(want, used) {
					return false
				}
			}
		}
	}
	var sum Resources
	for _, other := range there {
		sum = sum.add(EffectiveRequest(other))
	}
	req := EffectiveRequest(pod)
	alloc := refAllocatable(node)
	if sum.Pods+1 > alloc.Pods {
		return false
	}
	if req.MilliCPU > 0 && sum.MilliCPU+req.MilliCPU > alloc.MilliCPU {
		return false
	}
	if req.Memory > 0 && sum.Memory+req.Memory > alloc.Memory {
		return false
	}
	return true
}

func refTolerates(pod *corev1.Pod, taint corev1.Taint) bool {
	for _, tol := range pod.Spec.Tolerations {
		if tol.ToleratesTaint(logr.Discard(), &taint, false) {
			return true
		}
	}
	return false
}

func refAllocatable(node Node) Resources {
	qty := func(name corev1.ResourceName, def int64, milli bool) int64 {
		q, ok := node.Allocatable[name]
		if !ok {
			return def
		}
		if milli {
			return q.MilliValue()
		}
		return q.Value()
	}
	return Resources{
		MilliCPU: qty(corev1.ResourceCPU, 0, true),
		Memory:   qty(corev1.ResourceMemory, 0, false),
		Pods:     qty(corev1.ResourcePods, 110, false),
	}
}

func refPorts(pod *corev1.Pod) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	cs := append([]corev1.Container{}, pod.Spec.Containers...)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs = append(cs, c)
		}
	}
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

func refPortsClash(a, b corev1.ContainerPort) bool {
	proto := func(p corev1.ContainerPort) corev1.Protocol {
		if p.Protocol == "" {
			return corev1.ProtocolTCP
		}
		return p.Protocol
	}
	any := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return a.HostPort == b.HostPort && proto(a) == proto(b) && (any(a.HostIP) || any(b.HostIP) || a.HostIP == b.HostIP)
}

// final is the cluster after the plan: every pod on every known node.
func final(in input, plan *Plan) map[string][]*corev1.Pod {
	on := map[string][]*corev1.Pod{}
	for _, b := range in.cluster.Bound {
		on[b.Node] = append(on[b.Node], b.Pod)
	}
	for _, b := range plan.Bindings {
		on[b.Node] = append(on[b.Node], b.Pod)
	}
	return on
}

func without(pods []*corev1.Pod, p *corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, q := range pods {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

func nodeNamed(in input, name string) (Node, bool) {
	for _, n := range in.cluster.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

func mustPlace(t *rapid.T, in input) *Plan {
	plan, err := Place(in.pods, in.cluster, in.opts)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	return plan
}

// Every pending pod is either bound or unplaced, exactly once, and every
// binding is a node of the view that passes every filter next to all the
// other pods there in the end: no node is ever over its allocatable, out of
// pod slots or holding clashing host ports because of the plan.
func TestPropertyEveryBindingFits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := mustPlace(t, in)
		seen := map[*corev1.Pod]int{}
		for _, b := range plan.Bindings {
			seen[b.Pod]++
		}
		for _, u := range plan.Unplaced {
			seen[u.Pod]++
		}
		for _, p := range in.pods {
			if seen[p] != 1 {
				t.Fatalf("pod %s appears %d times in the plan", p.Name, seen[p])
			}
		}
		on := final(in, plan)
		for _, b := range plan.Bindings {
			node, ok := nodeNamed(in, b.Node)
			if !ok {
				t.Fatalf("pod %s bound to unknown node %s", b.Pod.Name, b.Node)
			}
			if !refFits(b.Pod, node, without(on[b.Node], b.Pod)) {
				t.Fatalf("pod %s (%v) does not fit on %s next to %d other pods", b.Pod.Name, EffectiveRequest(b.Pod), b.Node, len(on[b.Node])-1)
			}
			if plan.NodeGenerations[b.Node] != node.Generation {
				t.Fatalf("plan relies on %s at generation %d, the view had %d", b.Node, plan.NodeGenerations[b.Node], node.Generation)
			}
		}
	})
}

// No gang is partially placed: either none of its pending pods is bound,
// or, with its bound members, at least its minimum runs.
func TestPropertyNoPartialGang(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := mustPlace(t, in)
		type count struct{ bound, placed, min int }
		gangs := map[string]*count{}
		get := func(p *corev1.Pod) *count {
			key, ok := gangKey(p)
			if !ok || p.Annotations[AnnotationGang] == "" {
				return nil
			}
			if gangs[key] == nil {
				gangs[key] = &count{}
			}
			return gangs[key]
		}
		for _, b := range in.cluster.Bound {
			if c := get(b.Pod); c != nil {
				c.bound++
			}
		}
		members := map[string]int{}
		for _, p := range in.pods {
			if c := get(p); c != nil {
				key, _ := gangKey(p)
				members[key]++
				if v, err := strconv.Atoi(p.Annotations[AnnotationGangMin]); err == nil {
					c.min = v
				}
			}
		}
		for _, b := range plan.Bindings {
			if c := get(b.Pod); c != nil {
				c.placed++
			}
		}
		for key, c := range gangs {
			if members[key] == 0 {
				continue // only bound members: nothing to place
			}
			min := c.min
			if min == 0 {
				min = members[key] + c.bound
			}
			if c.placed > 0 && c.placed+c.bound < min {
				t.Fatalf("gang %q: %d placed + %d bound < minimum %d", key, c.placed, c.bound, min)
			}
		}
	})
}

// Placing the same input twice gives the same plan.
func TestPropertyReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		if a, b := mustPlace(t, in), mustPlace(t, in); !reflect.DeepEqual(a, b) {
			t.Fatalf("same input, two plans:\n%+v\n%+v", a, b)
		}
	})
}

// Remembering refusals changes nothing: a pod that asks at least as much as
// one refused before, under the same constraints, is refused just the same,
// for the same reasons when nothing moved in between, and skipping its scan
// moves neither the rotation nor the generator.
func TestPropertyRefusalMemoryChangesNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		// Duplicates make refusals worth remembering.
		for i, p := range in.pods {
			if rapid.Bool().Draw(t, "twin") {
				twin := p.DeepCopy()
				twin.Name = fmt.Sprint("twin", i)
				in.pods = append(in.pods, twin)
			}
		}
		with := mustPlace(t, in)
		pl, err := newPlacement(in.pods, in.cluster, in.opts)
		if err != nil {
			t.Fatal(err)
		}
		pl.stack.noMemo = true
		if without := pl.run(); !reflect.DeepEqual(with, without) {
			t.Fatalf("plans differ with and without remembered refusals:\n%+v\n%+v", with, without)
		}
	})
}

// Every pod refused with NoFit really fits nowhere, checked by brute force
// against every node as the plan leaves it; its message counts every node.
// This holds because each step of a plan (one pod, or one whole gang that
// either keeps its pods or gives all back) only ever adds to the nodes.
func TestPropertyUnplacedFitsNowhere(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		in.opts.AllOrNothing = false
		plan := mustPlace(t, in)
		on := final(in, plan)
		for _, u := range plan.Unplaced {
			if u.Cause != CauseNoFit {
				continue
			}
			prefix := fmt.Sprintf("0/%d nodes are available", len(in.cluster.Nodes))
			if !strings.HasPrefix(u.Message, prefix) {
				t.Fatalf("%s: message %q does not start %q", u.Pod.Name, u.Message, prefix)
			}
			total := 0
			for _, c := range u.Reasons {
				total += c
			}
			if total < len(in.cluster.Nodes) {
				t.Fatalf("%s: reasons %v count fewer than %d nodes", u.Pod.Name, u.Reasons, len(in.cluster.Nodes))
			}
			for _, node := range in.cluster.Nodes {
				if refFits(u.Pod, node, on[node.Name]) {
					t.Fatalf("%s (%v) was refused (%s) but fits on %s", u.Pod.Name, EffectiveRequest(u.Pod), u.Message, node.Name)
				}
			}
		}
	})
}

// All-or-nothing binds everything or nothing, and agrees with the plan
// made without it.
func TestPropertyAllOrNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		in.opts.AllOrNothing = true
		all := mustPlace(t, in)
		in.opts.AllOrNothing = false
		some := mustPlace(t, in)
		if all.Complete() != some.Complete() {
			t.Fatalf("all-or-nothing complete=%v, plain complete=%v", all.Complete(), some.Complete())
		}
		if all.Complete() {
			if !reflect.DeepEqual(all, some) {
				t.Fatalf("complete plans differ")
			}
			return
		}
		if len(all.Bindings) != 0 {
			t.Fatalf("incomplete all-or-nothing plan binds %d pods", len(all.Bindings))
		}
		for _, u := range all.Unplaced {
			if u.Cause == CauseBatch && u.Message == "" {
				t.Fatalf("%s: batch rejection without a message", u.Pod.Name)
			}
		}
	})
}

// EffectiveRequest never falls below any single container's request, and
// never exceeds the sum of every container's.
func TestPropertyEffectiveRequestBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		apps, inits := genContainers(t, "")
		pod := mkPod("p", apps, withInit(inits...))
		got := EffectiveRequest(pod)
		var sum Resources
		for _, c := range append(append([]corev1.Container{}, apps...), inits...) {
			r := containerRequest(&c)
			if r.MilliCPU > got.MilliCPU || r.Memory > got.Memory {
				t.Fatalf("container %s requests %v, more than the pod's %v", c.Name, r, got)
			}
			sum = sum.add(r)
		}
		if got.MilliCPU > sum.MilliCPU || got.Memory > sum.Memory {
			t.Fatalf("pod request %v exceeds the sum of its containers %v", got, sum)
		}
	})
}
