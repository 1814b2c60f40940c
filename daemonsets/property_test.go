package daemonsets

import (
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"pgregory.net/rapid"
)

type world struct {
	ds    *appsv1.DaemonSet
	state State
	nodes []Node
	pods  []ObservedPod
	now   time.Time
	uid   int
}

func (w *world) sync(t *rapid.T) Result {
	res, err := SyncDaemonSet(Input{DaemonSet: w.ds, Revision: "r2", State: w.state, Nodes: slices.Clone(w.nodes), Pods: slices.Clone(w.pods), Now: w.now})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (w *world) apply(res Result) {
	for _, d := range res.Delete {
		for i := range w.pods {
			if w.pods[i].UID == d.UID {
				w.pods[i].Deleting = true
			}
		}
	}
	for _, c := range res.Create {
		w.uid++
		w.pods = append(w.pods, ObservedPod{Name: c.Name, UID: types.UID(fmt.Sprint("u", w.uid)), Node: c.Node, Revision: "r2", Phase: corev1.PodPending, Created: w.now})
	}
	w.state = res.State
}

func (w *world) eligible(name string) bool {
	for i := range w.nodes {
		if w.nodes[i].Name == name {
			ok, _ := ShouldRun(w.ds, &w.nodes[i])
			return ok
		}
	}
	return false
}

func (w *world) available(p *ObservedPod) bool {
	min := time.Duration(w.ds.Spec.MinReadySeconds) * time.Second
	return !p.Deleting && p.Phase == corev1.PodRunning && p.Ready && !w.now.Before(p.ReadySince.Add(min))
}

// unavailable counts eligible nodes without an available pod, with the
// pods in gone counted as deleted.
func (w *world) unavailable(gone map[types.UID]bool) int {
	n := 0
	for _, nd := range w.nodes {
		if !w.eligible(nd.Name) {
			continue
		}
		if !slices.ContainsFunc(w.pods, func(p ObservedPod) bool { return p.Node == nd.Name && !gone[p.UID] && w.available(&p) }) {
			n++
		}
	}
	return n
}

func genNode(t *rapid.T, i int) Node {
	n := Node{Name: fmt.Sprint("n", i)}
	if rapid.Bool().Draw(t, "ssd") {
		n.Labels = map[string]string{"disk": "ssd"}
	}
	if rapid.IntRange(0, 4).Draw(t, "tainted") == 0 {
		n.Taints = []corev1.Taint{gpuTaint}
	}
	return n
}

// TestDaemonSetProperties drives random DaemonSets over random node and
// pod histories and checks at every step: no name is created twice, pods
// are created only on eligible nodes and at most one per node, a rolling
// update without surge takes no more available pods away than
// maxUnavailable allows, one with surge runs no more doubled nodes than
// maxSurge plus the nodes whose old pod was unavailable anyway; once the
// nodes settle every eligible node runs exactly one pod at the new
// revision (OnDelete: one pod) and no other node runs any.
func TestDaemonSetProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var opts []dsOpt
		if rapid.Bool().Draw(t, "selector") {
			opts = append(opts, selector("disk", "ssd"))
		}
		if rapid.Bool().Draw(t, "tolerate") {
			opts = append(opts, tolerate("dedicated"))
		}
		opts = append(opts, minReady(rapid.SampledFrom([]int32{0, 0, 0, 5}).Draw(t, "minReady")))
		switch rapid.IntRange(0, 2).Draw(t, "strategy") {
		case 0:
			opts = append(opts, onDelete)
		case 1:
			opts = append(opts, rolling(fmt.Sprint(rapid.IntRange(1, 3).Draw(t, "maxUnavailable")), "0"))
		case 2:
			opts = append(opts, rolling("0", fmt.Sprint(rapid.IntRange(1, 3).Draw(t, "maxSurge"))))
		}
		w := &world{ds: agent(opts...), now: t0}
		next := 0
		for range rapid.IntRange(0, 6).Draw(t, "nodes") {
			w.nodes = append(w.nodes, genNode(t, next))
			next++
		}
		for i := range w.nodes {
			if rapid.IntRange(0, 3).Draw(t, "oldPod") > 0 {
				p := pod(w.nodes[i].Name, "r1", rapid.SampledFrom([]string{"ready", "ready", "ready", "unready"}).Draw(t, "kind"))
				w.pods = append(w.pods, p)
			}
		}
		for range rapid.IntRange(0, 30).Draw(t, "steps") {
			res := w.sync(t)
			check(t, w, res)
			w.apply(res)
			switch rapid.IntRange(0, 5).Draw(t, "event") {
			case 0: // a node joins
				w.nodes = append(w.nodes, genNode(t, next))
				next++
			case 1: // a node leaves
				if len(w.nodes) > 0 {
					i := rapid.IntRange(0, len(w.nodes)-1).Draw(t, "leaves")
					w.nodes = slices.Delete(w.nodes, i, i+1)
				}
			case 2: // a terminating pod is gone
				w.pods = slices.DeleteFunc(w.pods, func(p ObservedPod) bool { return p.Deleting })
			case 3, 4: // a pod becomes ready, or fails
				if len(w.pods) > 0 {
					i := rapid.IntRange(0, len(w.pods)-1).Draw(t, "pod")
					if rapid.IntRange(0, 3).Draw(t, "fails") == 0 {
						w.pods[i].Phase, w.pods[i].Ready = corev1.PodFailed, false
					} else {
						w.pods[i].Phase, w.pods[i].Ready, w.pods[i].ReadySince = corev1.PodRunning, true, w.now
					}
				}
			case 5:
				w.now = w.now.Add(time.Duration(rapid.IntRange(1, 10).Draw(t, "seconds")) * time.Second)
			}
		}
		for range 100 {
			res := w.sync(t)
			check(t, w, res)
			w.apply(res)
			w.now = w.now.Add(10 * time.Second)
			w.pods = slices.DeleteFunc(w.pods, func(p ObservedPod) bool { return p.Deleting })
			for i := range w.pods {
				if !w.pods[i].Ready {
					w.pods[i].Phase, w.pods[i].Ready, w.pods[i].ReadySince = corev1.PodRunning, true, w.now
				}
			}
		}
		perNode := map[string]int{}
		for _, p := range w.pods {
			perNode[p.Node]++
			if !w.eligible(p.Node) {
				t.Fatalf("settled: pod %s on ineligible node", p.Name)
			}
			if w.ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType && p.Revision != "r2" {
				t.Fatalf("settled: pod %s on revision %s", p.Name, p.Revision)
			}
		}
		for _, nd := range w.nodes {
			if w.eligible(nd.Name) && perNode[nd.Name] != 1 {
				t.Fatalf("settled: node %s runs %d pods, want 1", nd.Name, perNode[nd.Name])
			}
		}
	})
}

func check(t *rapid.T, w *world, res Result) {
	names := map[string]bool{}
	for _, p := range w.pods {
		names[p.Name] = true
	}
	created := map[string]bool{}
	for _, c := range res.Create {
		if names[c.Name] {
			t.Fatalf("created %s, which exists", c.Name)
		}
		if !w.eligible(c.Node) {
			t.Fatalf("created %s on ineligible node %s", c.Name, c.Node)
		}
		if created[c.Node] {
			t.Fatalf("two pods created on %s", c.Node)
		}
		created[c.Node] = true
	}
	if ru := w.ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxSurge.IntValue() > 0 && len(res.Create) > 0 {
		if before, after := w.surging(nil, nil), w.surging(res.Delete, created); after > max(before, ru.MaxSurge.IntValue()) {
			t.Fatalf("surge runs %d nodes doubled with their old pod available (was %d), maxSurge %d", after, before, ru.MaxSurge.IntValue())
		}
	}
	gone := map[types.UID]bool{}
	updates := false
	for _, d := range res.Delete {
		gone[d.UID] = true
		updates = updates || d.Reason == DeleteUpdate
	}
	if !updates {
		return
	}
	if w.ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		t.Fatalf("OnDelete deleted for an update: %v", res.Delete)
	}
	desired := 0
	for _, nd := range w.nodes {
		if w.eligible(nd.Name) {
			desired++
		}
	}
	prm, _ := ResolveParams(w.ds, desired)
	before, after := w.unavailable(nil), w.unavailable(gone)
	if after > max(before, prm.MaxUnavailable) {
		t.Fatalf("update leaves %d of %d nodes unavailable (was %d), maxUnavailable %d", after, desired, before, prm.MaxUnavailable)
	}
}

// surging counts eligible nodes running an available old pod beside a new
// pod that is not available yet (or created now).
func (w *world) surging(deleted []PodRef, created map[string]bool) int {
	gone := map[types.UID]bool{}
	for _, d := range deleted {
		gone[d.UID] = true
	}
	n := 0
	for _, nd := range w.nodes {
		if !w.eligible(nd.Name) {
			continue
		}
		oldAvail, newPending := false, created[nd.Name]
		for _, p := range w.pods {
			if p.Node != nd.Name || p.Deleting || gone[p.UID] {
				continue
			}
			if p.Revision != "r2" && w.available(&p) {
				oldAvail = true
			}
			if p.Revision == "r2" && !w.available(&p) {
				newPending = true
			}
		}
		if oldAvail && newPending {
			n++
		}
	}
	return n
}
