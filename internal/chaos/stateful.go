package chaos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// The db StatefulSet's invariants, checked against containerd and the
// agents' --storage-dir rather than the store:
//
//   - invOneNode: a db pod name never runs on two nodes at once (the
//     overlap sampler's windows for db pods; any window is a violation);
//   - invHome: a db pod runs only on the node whose storage dir holds its
//     claim, a claim's directory is on one node only, and the store binds
//     the claim to that node;
//   - invData: the marker a pod wrote into its claim on its first start is
//     still there, unchanged, on the same node, after every fault and
//     change (data loss is a violation), and the pod runs on that node;
//   - invOrdinals: at the end, once converged, db-0…db-(n-1) exist and
//     are Running, in containerd and in the API.
const (
	invOneNode  = "a db pod runs on one node at a time (samples; overlap windows)"
	invHome     = "a db pod runs only on its claim's node"
	invData     = "a claim's marker survives, unchanged, on its node"
	invOrdinals = "ordinals 0..n-1 Running at the end"
)

var stsInvariants = []string{invOneNode, invHome, invData, invOrdinals}

// marker is what a db pod wrote into its claim on its first start, and
// the node whose storage dir holds it.
type marker struct{ Node, Text string }

// stsChecker keeps the db StatefulSet's invariants; the overlap sampler's
// goroutine and the driver's both use it.
type stsChecker struct {
	c       *Cluster
	violate func(format string, args ...any)

	mu         sync.Mutex
	markers    map[string]marker // claim → its first marker
	checks     map[string]int    // invariant → times checked
	violations map[string]int    // invariant → violations
	reported   map[string]bool   // violations already reported, by key
}

func newSTSChecker(c *Cluster, violate func(string, ...any)) *stsChecker {
	return &stsChecker{c: c, violate: violate, markers: map[string]marker{},
		checks: map[string]int{}, violations: map[string]int{}, reported: map[string]bool{}}
}

// fail records a violation of inv once per key (a condition polled many
// times is one violation).
func (s *stsChecker) fail(inv, key, format string, args ...any) {
	s.mu.Lock()
	dup := s.reported[inv+"\x00"+key]
	if !dup {
		s.reported[inv+"\x00"+key] = true
		s.violations[inv]++
	}
	s.mu.Unlock()
	if !dup {
		s.violate("%s: %s", inv, fmt.Sprintf(format, args...))
	}
}

func (s *stsChecker) checked(inv string, n int) {
	s.mu.Lock()
	s.checks[inv] += n
	s.mu.Unlock()
}

// claimHomes reads every agent's storage dir: claim name → the nodes
// whose disk holds a directory for it (one, or none before its first pod
// started).
func (c *Cluster) claimHomes() map[string][]string {
	out := map[string][]string{}
	for _, n := range c.nodes {
		for _, name := range listNames(filepath.Join(n.StorageDir, "default")) {
			out[name] = append(out[name], n.Name)
		}
	}
	return out
}

func (c *Cluster) node(name string) *Node {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// markerPath is the marker file of claim in node's storage dir.
func (c *Cluster) markerPath(node, claim string) string {
	n := c.node(node)
	if n == nil {
		return ""
	}
	return filepath.Join(n.StorageDir, "default", claim, "data", dbMarker)
}

// sample is the overlap sampler's check on each look at containerd: every
// copy of a db pod is on the node that holds its claim.
func (s *stsChecker) sample(_ time.Time, cs []Copy) {
	homes := s.c.claimHomes()
	n := 0
	for _, cp := range cs {
		o := dbOrdinal(cp.Name)
		if o < 0 {
			continue
		}
		n++
		claim := dbClaim(o)
		hs := homes[claim]
		switch {
		case len(hs) > 1:
			s.fail(invHome, "two:"+claim, "claim %s has a directory on %s", claim, strings.Join(hs, " and "))
		case len(hs) == 1 && hs[0] != cp.Node:
			s.fail(invHome, cp.Name+"@"+cp.Node, "pod %s (uid %s) runs on %s, its claim %s is on %s", cp.Name, cp.UID, cp.Node, claim, hs[0])
		}
	}
	s.checked(invHome, n)
	if n > 0 {
		s.checked(invOneNode, 1) // the overlap sampler looked at them too
	}
}

// converged checks the data and where it is, then says whether db runs as
// desired: exactly db-0…db-(replicas-1), each once, Running, on tag, on
// the node of its claim, each having written its marker.
func (s *stsChecker) converged(cs []Copy, replicas int, tag string, claims []corev1.PersistentVolumeClaim) error {
	homes := s.c.claimHomes()
	s.checkData(homes)
	s.checkBindings(homes, claims)
	where := map[int]Copy{}
	for _, cp := range cs {
		o := dbOrdinal(cp.Name)
		if o < 0 {
			continue
		}
		if o >= replicas {
			return fmt.Errorf("%s on %s: db has %d replicas", cp.Name, cp.Node, replicas)
		}
		if prev, dup := where[o]; dup {
			return fmt.Errorf("%s on %s and %s", cp.Name, prev.Node, cp.Node)
		}
		where[o] = cp
		if !cp.Running {
			return fmt.Errorf("%s on %s not running", cp.Name, cp.Node)
		}
		if tagOf(cp.Image) != tag {
			return fmt.Errorf("%s runs %s, want tag %s", cp.Name, cp.Image, tag)
		}
	}
	for o := 0; o < replicas; o++ {
		cp, ok := where[o]
		if !ok {
			return fmt.Errorf("%s-%d does not run", dbSet, o)
		}
		s.mu.Lock()
		m, ok := s.markers[dbClaim(o)]
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("%s has not written its marker yet", cp.Name)
		}
		s.checked(invData, 1)
		if m.Node != cp.Node {
			s.fail(invData, "node:"+cp.UID, "%s (uid %s) runs on %s, its data is on %s", cp.Name, cp.UID, cp.Node, m.Node)
		}
	}
	return nil
}

// checkData reads every claim's marker on the node that holds it: a
// marker seen before must be there unchanged on the same node; a first
// one is remembered, and must name the claim's own pod.
func (s *stsChecker) checkData(homes map[string][]string) {
	s.mu.Lock()
	known := make(map[string]marker, len(s.markers))
	for k, v := range s.markers {
		known[k] = v
	}
	s.mu.Unlock()
	for claim, m := range known {
		s.checked(invData, 1)
		b, err := os.ReadFile(s.c.markerPath(m.Node, claim))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.fail(invData, "gone:"+claim, "claim %s: marker %q gone from %s (the claim is now on %v)", claim, m.Text, m.Node, homes[claim])
		case err != nil:
			s.fail(invData, "read:"+claim, "claim %s on %s: %v", claim, m.Node, err)
		case string(b) != m.Text:
			s.fail(invData, "changed:"+claim+string(b), "claim %s on %s: marker %q became %q", claim, m.Node, m.Text, b)
		}
	}
	for claim, hs := range homes {
		if _, ok := known[claim]; ok || len(hs) != 1 {
			continue
		}
		b, err := os.ReadFile(s.c.markerPath(hs[0], claim))
		if err != nil {
			continue // its pod has not written it yet
		}
		text := string(b)
		if pod := strings.TrimPrefix(claim, dbClaimTemplate+"-"); !strings.HasPrefix(text, pod+" ") {
			s.fail(invData, "owner:"+claim, "claim %s on %s holds marker %q, not %s's", claim, hs[0], text, pod)
		}
		s.mu.Lock()
		s.markers[claim] = marker{Node: hs[0], Text: text}
		s.mu.Unlock()
	}
}

// checkBindings compares the store's node of each db claim with the disk
// that holds it.
func (s *stsChecker) checkBindings(homes map[string][]string, claims []corev1.PersistentVolumeClaim) {
	for _, cl := range claims {
		hs := homes[cl.Name]
		node := cl.Annotations[api.AnnotationClaimNode]
		if !strings.HasPrefix(cl.Name, dbClaimTemplate+"-"+dbSet+"-") || len(hs) != 1 || node == "" {
			continue
		}
		s.checked(invHome, 1)
		if node != hs[0] {
			s.fail(invHome, "bound:"+cl.Name+node, "claim %s is bound to %s in the store, its data is on %s", cl.Name, node, hs[0])
		}
	}
}

// checkFinalOrdinals: once converged at the end, db-0…db-(replicas-1) are
// Running in the API too, and the set counts them ready.
func (r *Run) checkFinalOrdinals() {
	r.sts.checked(invOrdinals, 1)
	err := Poll(r.o.ConvergeBound, func() error {
		if err := r.converged(); err != nil {
			return err
		}
		pods, err := r.c.admin.Pods(r.ctx, "default")
		if err != nil {
			return err
		}
		running := map[string]bool{}
		for _, p := range pods.Items {
			if dbOrdinal(p.Name) >= 0 && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				running[p.Name] = true
			}
		}
		var missing []string
		for o := 0; o < r.desired.DBReplicas; o++ {
			if name := fmt.Sprintf("%s-%d", dbSet, o); !running[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 || len(running) != r.desired.DBReplicas {
			return fmt.Errorf("the API has %d db pods Running, missing %v, want %d", len(running), missing, r.desired.DBReplicas)
		}
		set, err := r.c.admin.StatefulSet(r.ctx, "default", dbSet)
		if err != nil {
			return err
		}
		if int(set.Status.ReadyReplicas) != r.desired.DBReplicas {
			return fmt.Errorf("db status: %d ready replicas, want %d", set.Status.ReadyReplicas, r.desired.DBReplicas)
		}
		return nil
	})
	if err != nil {
		r.sts.fail(invOrdinals, "final", "%v", err)
	}
}

// checkDBOverlaps turns every window in which a db pod ran on two nodes at
// once, as o saw them (how), into a violation.
func (r *Run) checkDBOverlaps(how string, o *overlaps) {
	count, longest, which := o.summaryOf(func(name string) bool { return dbOrdinal(name) >= 0 })
	if count > 0 {
		r.sts.fail(invOneNode, "windows", "db pods ran on two nodes at once in %d windows (%s), the longest %v (%s)", count, how, longest.Round(10*time.Millisecond), which)
	}
}

// StatefulSetLine is one db invariant in the report.
type StatefulSetLine struct {
	Invariant          string
	Checks, Violations int
}

func (s *stsChecker) lines() []StatefulSetLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StatefulSetLine, 0, len(stsInvariants))
	for _, inv := range stsInvariants {
		out = append(out, StatefulSetLine{Invariant: inv, Checks: s.checks[inv], Violations: s.violations[inv]})
	}
	return out
}

// dbClaims lists the store's db claims (nil when the API does not answer:
// the bindings are then not compared this time).
func (r *Run) dbClaims() []corev1.PersistentVolumeClaim {
	l, err := r.c.admin.PersistentVolumeClaims(r.ctx, "default")
	if err != nil {
		return nil
	}
	out := l.Items[:0]
	for _, cl := range l.Items {
		if strings.HasPrefix(cl.Name, dbClaimTemplate+"-"+dbSet+"-") {
			out = append(out, cl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
