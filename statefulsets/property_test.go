package statefulsets

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

// world is what the reconciler and the nodes make of the controller's
// results: pods, claims and a clock.
type world struct {
	set    *appsv1.StatefulSet
	state  State
	pods   []ObservedPod
	claims []string
	now    time.Time
	uid    int
}

func (w *world) sync(t *rapid.T) Result {
	res, err := SyncStatefulSet(Input{Set: w.set, Revision: "r2", State: w.state, Pods: slices.Clone(w.pods), Claims: slices.Clone(w.claims), Now: w.now})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// apply does what a result says: deleted pods start terminating, created
// pods and claims exist (pods not yet running).
func (w *world) apply(res Result) {
	for _, d := range res.Delete {
		for i := range w.pods {
			if w.pods[i].UID == d.UID {
				w.pods[i].Deleting = true
			}
		}
	}
	for _, c := range res.CreateClaims {
		w.claims = append(w.claims, c.Name)
	}
	w.claims = slices.DeleteFunc(w.claims, func(c string) bool { return slices.Contains(res.DeleteClaims, c) })
	for _, c := range res.Create {
		w.uid++
		w.pods = append(w.pods, ObservedPod{Name: c.Name, UID: types.UID(fmt.Sprint("u", w.uid)), Revision: c.Revision, Phase: corev1.PodPending})
	}
	w.state = res.State
}

func (w *world) healthy(p *ObservedPod) bool {
	min := time.Duration(w.set.Spec.MinReadySeconds) * time.Second
	return !p.Deleting && p.Phase == corev1.PodRunning && p.Ready && !w.now.Before(p.ReadySince.Add(min))
}

// TestStatefulSetProperties drives random StatefulSets through random pod
// histories and checks Kubernetes' guarantees at every step: no name is
// created twice, OrderedReady creates one pod at a time and only above
// healthy pods, updates stay at or above the partition and within
// maxUnavailable, OnDelete never deletes for an update, claims are only
// deleted under whenScaled: Delete; and once the nodes settle the set
// converges to ordinals 0..replicas-1 on the right revisions.
func TestStatefulSetProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := int32(rapid.IntRange(0, 6).Draw(t, "replicas"))
		set := web(n, minReady(int32(rapid.IntRange(0, 5).Draw(t, "minReady"))))
		if rapid.Bool().Draw(t, "parallel") {
			parallel(set)
		}
		if rapid.Bool().Draw(t, "onDelete") {
			onDelete(set)
		} else {
			withPartition(int32(rapid.IntRange(0, int(n)).Draw(t, "partition")))(set)
			withMaxUnavailable(fmt.Sprint(rapid.IntRange(1, 3).Draw(t, "maxUnavailable")))(set)
		}
		if rapid.Bool().Draw(t, "deleteWhenScaled") {
			deleteWhenScaled(set)
		}
		w := &world{set: set, now: t0}
		w.state.Status.CurrentRevision = "r1"
		for o := range rapid.IntRange(0, 8).Draw(t, "oldPods") {
			if rapid.Bool().Draw(t, "hasPod") {
				w.pods = append(w.pods, pod(PodName("web", o), "r1", rapid.SampledFrom([]string{"ready", "unready", "pending"}).Draw(t, "kind")))
				w.claims = append(w.claims, ClaimName("data", "web", o))
			}
		}
		monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
		maxU, _ := MaxUnavailable(set)
		for range rapid.IntRange(0, 30).Draw(t, "steps") {
			res := w.sync(t)
			check(t, w, res, monotonic, maxU)
			w.apply(res)
			w.event(t)
		}
		// Settle: pods become ready, terminating pods finish.
		for range 200 {
			res := w.sync(t)
			check(t, w, res, monotonic, maxU)
			w.apply(res)
			w.now = w.now.Add(10 * time.Second)
			w.pods = slices.DeleteFunc(w.pods, func(p ObservedPod) bool { return p.Deleting })
			for i := range w.pods {
				if !w.pods[i].Ready {
					w.pods[i].Phase, w.pods[i].Ready, w.pods[i].ReadySince = corev1.PodRunning, true, w.now
				}
			}
		}
		var got []string
		for _, p := range w.pods {
			o := Ordinal("web", p.Name)
			got = append(got, p.Name)
			wantRev := "r2"
			if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || o < partition(set) {
				wantRev = ""
			}
			if wantRev != "" && p.Revision != wantRev {
				t.Fatalf("settled pod %s on revision %s, want %s", p.Name, p.Revision, wantRev)
			}
		}
		slices.Sort(got)
		var want []string
		for o := range int(n) {
			want = append(want, PodName("web", o))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("settled pods %v, want %v", got, want)
		}
	})
}

// event is one thing the nodes do: a terminating pod goes, a pod becomes
// running and ready, a pod fails, time passes.
func (w *world) event(t *rapid.T) {
	if len(w.pods) == 0 {
		return
	}
	i := rapid.IntRange(0, len(w.pods)-1).Draw(t, "pod")
	switch rapid.IntRange(0, 3).Draw(t, "event") {
	case 0:
		if w.pods[i].Deleting {
			w.pods = slices.Delete(w.pods, i, i+1)
		}
	case 1:
		w.pods[i].Phase, w.pods[i].Ready, w.pods[i].ReadySince = corev1.PodRunning, true, w.now
	case 2:
		w.pods[i].Phase, w.pods[i].Ready = corev1.PodFailed, false
	case 3:
		w.now = w.now.Add(time.Duration(rapid.IntRange(1, 10).Draw(t, "seconds")) * time.Second)
	}
}

func check(t *rapid.T, w *world, res Result, monotonic bool, maxU int) {
	set := w.set
	n := int(*set.Spec.Replicas)
	exists := map[string]bool{}
	for _, p := range w.pods {
		exists[p.Name] = true
	}
	claims := map[string]bool{}
	for _, c := range w.claims {
		claims[c] = true
	}
	for _, c := range res.CreateClaims {
		claims[c.Name] = true
	}
	if monotonic && len(res.Create) > 1 {
		t.Fatalf("OrderedReady created %d pods in one sync", len(res.Create))
	}
	for _, c := range res.Create {
		if exists[c.Name] {
			t.Fatalf("created %s, which exists", c.Name)
		}
		if c.Ordinal >= n {
			t.Fatalf("created %s at or above replicas %d", c.Name, n)
		}
		if !claims[ClaimName("data", "web", c.Ordinal)] {
			t.Fatalf("created %s without its claim", c.Name)
		}
		if monotonic {
			for o := range c.Ordinal {
				ok := false
				for i := range w.pods {
					if w.pods[i].Name == PodName("web", o) && w.healthy(&w.pods[i]) {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("OrderedReady created %s while %s is not running and available", c.Name, PodName("web", o))
				}
			}
		}
	}
	deleted := map[types.UID]bool{}
	updates := 0
	for _, d := range res.Delete {
		deleted[d.UID] = true
		if d.Reason != DeleteUpdate {
			continue
		}
		updates++
		if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
			t.Fatalf("OnDelete deleted %s for an update", d.Name)
		}
		if o := Ordinal("web", d.Name); o < partition(set) || o >= n {
			t.Fatalf("update deleted %s outside [partition %d, replicas %d)", d.Name, partition(set), n)
		}
	}
	if updates > 0 {
		unavailable := 0
		for o := range n {
			ok := false
			for i := range w.pods {
				if w.pods[i].Name == PodName("web", o) && !deleted[w.pods[i].UID] && w.healthy(&w.pods[i]) {
					ok = true
				}
			}
			if !ok {
				unavailable++
			}
		}
		if unavailable > maxU {
			t.Fatalf("update leaves %d of %d unavailable, maxUnavailable %d", unavailable, n, maxU)
		}
	}
	for _, c := range res.DeleteClaims {
		p := set.Spec.PersistentVolumeClaimRetentionPolicy
		if p == nil || p.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			t.Fatalf("claim %s deleted under Retain", c)
		}
		o := Ordinal("web", c[len("data-"):])
		if o < n || exists[PodName("web", o)] {
			t.Fatalf("claim %s deleted while in range or its pod exists", c)
		}
	}
}
