package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/scheduler"
)

// admission asks the server's admission whether it would take the head:
// reconciler.Admit on the snapshot, or without one reconciler.Check (the
// refusals that do not depend on nodes and pods). refused are the
// problems that refuse the head before its pods are placed (kinds not run
// yet, Service address clashes); fit is nil then, or without a snapshot.
func admission(in Input) (refused manifest.ErrorList, fit *Fit, err error) {
	d := &reconciler.Desired{Revision: in.Head.SHA, Subject: in.Head.Subject, Objects: in.Head.Objects}
	var adm *reconciler.Admission
	if in.Cluster == nil {
		adm, err = reconciler.Check(d, reconciler.ClusterState{})
	} else {
		// The server's strategy, as the snapshot names it, unless the
		// plan asks for another.
		strategy := in.Strategy
		if strategy == "" {
			strategy = scheduler.Strategy(in.Cluster.Strategy)
		}
		var st reconciler.ClusterState
		if st, err = reconciler.StateOf(in.Cluster); err == nil {
			adm, err = reconciler.Admit(d, st, strategy)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("admission of %s: %w", in.Head.SHA, err)
	}
	if adm.Rejected != nil && len(adm.Rejected.Errors) > 0 {
		for _, e := range adm.Rejected.Errors {
			refused = append(refused, &manifest.Error{File: e.File, Line: e.Line, Field: e.Field, Message: e.Message})
		}
		return refused, nil, nil
	}
	if in.Cluster == nil {
		return nil, nil, nil
	}
	return nil, explainFit(in, adm), nil
}

// explainFit says where the head's pods go, or explains a refusal per
// node.
func explainFit(in Input, adm *reconciler.Admission) *Fit {
	fit := &Fit{Admitted: adm.Rejected == nil, Needed: len(adm.Required)}
	if fit.Admitted {
		byOwner := map[string]*Placement{}
		var order []string
		for _, b := range adm.Plan.Bindings {
			owner := adm.Owners[b.Pod]
			pl, ok := byOwner[owner]
			if !ok {
				pl = &Placement{Owner: owner, Nodes: map[string]int{}}
				byOwner[owner] = pl
				order = append(order, owner)
			}
			pl.Nodes[b.Node]++
		}
		sort.Strings(order)
		for _, o := range order {
			fit.Placements = append(fit.Placements, *byOwner[o])
		}
		return fit
	}
	fit.Message = adm.Rejected.Message
	// The refusal's groups (the server's own, groupUnplaced) in the order
	// the scheduler reported the pods; one representative pod each.
	type groupKey struct{ ns, owner, msg, needs string }
	var reps []scheduler.Unplaced
	var owners []string
	seen := map[groupKey]bool{}
	for _, u := range adm.Plan.Unplaced {
		if u.Cause == scheduler.CauseBatch {
			continue
		}
		k := groupKey{u.Pod.Namespace, adm.Owners[u.Pod], u.Message, u.Needs()}
		if !seen[k] {
			seen[k] = true
			reps = append(reps, u)
			owners = append(owners, k.owner)
		}
	}
	free := freeByNode(in, adm.Kept)
	heads, _ := index(in.Head.Objects)
	for i, g := range adm.Rejected.Unplaceable {
		u := Unfit{Namespace: g.Namespace, Pods: g.Name, Count: max(g.Count, 1), Message: g.Message, Shortfall: g.Shortfall}
		if i < len(reps) {
			rep := reps[i]
			u.Owner = owners[i]
			req := scheduler.EffectiveRequest(rep.Pod)
			ask := req
			ask.Pods = 0
			u.Needs = ask.String()
			u.PerNode = perNode(in, free, req)
			u.File, u.Line = requestsLine(in, heads, g.Namespace, u.Owner, req, free)
		}
		fit.Unfit = append(fit.Unfit, u)
	}
	return fit
}

// freeByNode is each node's allocatable less what the pods that stay on
// it ask.
func freeByNode(in Input, kept []scheduler.Bound) map[string]scheduler.Resources {
	free := map[string]scheduler.Resources{}
	for _, n := range in.Cluster.Nodes {
		r := scheduler.Resources{MilliCPU: n.Allocatable.Cpu().MilliValue(), Memory: n.Allocatable.Memory().Value(), Pods: 110}
		if q, ok := n.Allocatable[corev1.ResourcePods]; ok {
			r.Pods = q.Value()
		}
		free[n.Name] = r
	}
	for _, b := range kept {
		r, ok := free[b.Node]
		if !ok {
			continue
		}
		req := scheduler.EffectiveRequest(b.Pod)
		r.MilliCPU -= req.MilliCPU
		r.Memory -= req.Memory
		r.Pods--
		free[b.Node] = r
	}
	return free
}

// perNode says for every node, by name, what it has for one pod asking
// req: "n1 has memory 2.1Gi free (needs 4Gi)", "n3 is cordoned".
func perNode(in Input, free map[string]scheduler.Resources, req scheduler.Resources) []string {
	var nodes []string
	state := map[string]string{}
	for _, n := range in.Cluster.Nodes {
		nodes = append(nodes, n.Name)
		switch {
		case !n.Ready:
			state[n.Name] = "is not ready"
		case n.Unschedulable:
			state[n.Name] = "is cordoned"
		}
	}
	sort.Strings(nodes)
	out := make([]string, 0, len(nodes))
	for _, name := range nodes {
		if s := state[name]; s != "" {
			out = append(out, name+" "+s)
			continue
		}
		f := free[name]
		var parts []string
		if req.Memory > 0 && f.Memory < req.Memory {
			parts = append(parts, "memory "+mem(f.Memory)+" free")
		}
		if req.MilliCPU > 0 && f.MilliCPU < req.MilliCPU {
			parts = append(parts, "cpu "+cpu(f.MilliCPU)+" free")
		}
		if f.Pods < 1 {
			parts = append(parts, "no free pod slot")
		}
		if len(parts) > 0 {
			out = append(out, name+" has "+strings.Join(parts, ", "))
			continue
		}
		out = append(out, fmt.Sprintf("%s has memory %s, cpu %s free: room for %d such pod(s)", name, mem(f.Memory), cpu(f.MilliCPU), room(f, req)))
	}
	return out
}

func room(f, req scheduler.Resources) int64 {
	n := f.Pods
	if req.Memory > 0 {
		n = min(n, f.Memory/req.Memory)
	}
	if req.MilliCPU > 0 {
		n = min(n, f.MilliCPU/req.MilliCPU)
	}
	return max(n, 0)
}

// mem prints bytes as kubectl users read them: 2.1Gi, 512Mi.
func mem(b int64) string {
	switch {
	case b < 0:
		return "-" + mem(-b)
	case b >= 1<<30:
		return trimZero(fmt.Sprintf("%.1f", float64(b)/(1<<30))) + "Gi"
	case b >= 1<<20:
		return fmt.Sprintf("%dMi", b>>20)
	}
	return fmt.Sprintf("%d", b)
}

func cpu(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprintf("%d", m/1000)
	}
	return fmt.Sprintf("%dm", m)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// requestsLine finds, in the head, the resources.requests line of the
// owner's container that asks most of what the nodes lack; the object's
// line when the file or field cannot be read.
func requestsLine(in Input, heads map[objKey]*manifest.Object, ns, owner string, req scheduler.Resources, free map[string]scheduler.Resources) (string, int) {
	kindWord, name, ok := strings.Cut(owner, " ")
	if !ok {
		return "", 0
	}
	var o *manifest.Object
	var spec *corev1.PodSpec
	prefix := "spec.template.spec"
	for k, h := range heads {
		if k.namespace != ns || k.name != name || !strings.EqualFold(string(k.kind), kindWord) {
			continue
		}
		o = h
		switch k.kind {
		case manifest.KindPod:
			spec, prefix = &h.Pod.Spec, "spec"
		case manifest.KindDeployment:
			spec = &h.Deployment.Spec.Template.Spec
		case manifest.KindJob:
			spec = &h.Job.Spec.Template.Spec
		}
	}
	if o == nil {
		return "", 0
	}
	if spec == nil || in.Source == nil {
		return o.File, o.Line
	}
	// The container asking most memory (or cpu when memory is not short).
	var most scheduler.Resources
	for _, f := range free {
		most.Memory, most.MilliCPU = max(most.Memory, f.Memory), max(most.MilliCPU, f.MilliCPU)
	}
	byMem := req.Memory > most.Memory || req.MilliCPU <= most.MilliCPU
	best, bestV := 0, int64(-1)
	for i, c := range spec.Containers {
		v := c.Resources.Requests.Memory().Value()
		if !byMem {
			v = c.Resources.Requests.Cpu().MilliValue()
		}
		if v > bestV {
			best, bestV = i, v
		}
	}
	data := in.Source(o.File)
	if line := manifest.FieldLine(data, string(o.Kind), o.Name, fmt.Sprintf("%s.containers[%d].resources.requests", prefix, best)); line > 0 {
		return o.File, line
	}
	return o.File, o.Line
}
