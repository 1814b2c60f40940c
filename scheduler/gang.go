package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// gang is a group of pending pods placed all-or-nothing.
type gang struct {
	name    string // the annotation's value
	members []*podInfo
	bound   int // members already bound
	min     int // at least this many members, bound ones included, run together
	invalid string
	first   int // input position of the first member, for a stable order
}

// need is how many pending members must be placed in this plan.
func (g *gang) need() int { return g.min - g.bound }

// gangKey scopes a gang name to the pod's namespace.
func gangKey(pod *corev1.Pod) (string, bool) {
	name, ok := pod.Annotations[AnnotationGang]
	if !ok {
		return "", false
	}
	return pod.Namespace + "\x00" + name, true
}

// collectGangs groups the pending pods by gang and settles each gang's
// minimum. Gang members that need nothing more (the bound members already
// reach the minimum) are handed back as single pods.
func collectGangs(pods []*podInfo, boundMembers map[string]int) (gangs []*gang, singles []*podInfo) {
	byKey := map[string]*gang{}
	for _, p := range pods {
		key, ok := gangKey(p.pod)
		bad := ""
		switch {
		case ok && p.pod.Annotations[AnnotationGang] == "":
			bad = fmt.Sprintf("annotation %s is empty", AnnotationGang)
		case !ok && p.pod.Annotations[AnnotationGangMin] != "":
			bad = fmt.Sprintf("annotation %s is set without %s naming the gang", AnnotationGangMin, AnnotationGang)
		}
		if bad != "" && p.invalid == "" {
			p.invalid = bad
		}
		if !ok || bad != "" {
			singles = append(singles, p)
			continue
		}
		g := byKey[key]
		if g == nil {
			g = &gang{name: p.pod.Annotations[AnnotationGang], bound: boundMembers[key], first: p.index}
			byKey[key] = g
			gangs = append(gangs, g)
		}
		g.members = append(g.members, p)
		p.gang = g
	}
	kept := gangs[:0]
	for _, g := range gangs {
		g.settleMin()
		if g.invalid == "" && g.need() <= 0 {
			// Enough of the gang already runs: the rest come and go
			// one by one, like any pod.
			for _, p := range g.members {
				p.gang = nil
				singles = append(singles, p)
			}
			continue
		}
		kept = append(kept, g)
	}
	return kept, singles
}

// settleMin reads the gang's minimum from its members, which must agree.
func (g *gang) settleMin() {
	g.min = len(g.members) + g.bound
	seen := ""
	for _, p := range g.members {
		v := p.pod.Annotations[AnnotationGangMin]
		if v == "" {
			continue
		}
		if seen != "" && v != seen {
			g.invalid = fmt.Sprintf("pods of gang %q disagree on %s (%q and %q)", g.name, AnnotationGangMin, seen, v)
			return
		}
		seen = v
	}
	if seen == "" {
		return
	}
	n, err := manifest.ParseGangMin(seen)
	if err != nil {
		g.invalid = fmt.Sprintf("annotation %s: %q is not a positive whole number", AnnotationGangMin, seen)
		return
	}
	g.min = int(n)
}
