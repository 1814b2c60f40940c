package deployments

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"pgregory.net/rapid"
)

// genRolling draws a RollingUpdate Deployment: replicas 0..12, maxSurge and
// maxUnavailable as a count or a percentage, minReadySeconds 0..30.
func genRolling(t *rapid.T) *appsv1.Deployment {
	bound := func(label string) string {
		if rapid.Bool().Draw(t, label+"IsPercent") {
			return fmt.Sprintf("%d%%", rapid.IntRange(0, 100).Draw(t, label+"Percent"))
		}
		return fmt.Sprint(rapid.IntRange(0, 4).Draw(t, label))
	}
	d := rolling(int32(rapid.IntRange(0, 12).Draw(t, "replicas")), bound("maxSurge"), bound("maxUnavailable"))
	d.Spec.MinReadySeconds = int32(rapid.IntRange(0, 30).Draw(t, "minReadySeconds"))
	return d
}

// genPods draws any mix of old and new pods: placed or not, Running,
// Pending or ended, Ready or not and since when, being deleted or not.
func genPods(t *rapid.T, now time.Time) []ObservedPod {
	n := rapid.IntRange(0, 20).Draw(t, "pods")
	out := make([]ObservedPod, n)
	for i := range out {
		hash := rapid.SampledFrom([]string{"new", "old", "older"}).Draw(t, "hash")
		p := ObservedPod{
			Name:         fmt.Sprintf("web-%s-%d", hash, i),
			UID:          types.UID(fmt.Sprint("uid-", i)),
			TemplateHash: hash,
			Bound:        rapid.Bool().Draw(t, "bound"),
			Phase:        rapid.SampledFrom([]corev1.PodPhase{corev1.PodRunning, corev1.PodPending, corev1.PodUnknown, corev1.PodFailed, corev1.PodSucceeded}).Draw(t, "phase"),
			Ready:        rapid.Bool().Draw(t, "ready"),
			Deleting:     rapid.IntRange(0, 5).Draw(t, "deleting") == 0,
			Restarts:     int32(rapid.IntRange(0, 3).Draw(t, "restarts")),
			Created:      now.Add(-time.Duration(rapid.IntRange(0, 600).Draw(t, "age")) * time.Second),
		}
		if p.Ready {
			p.ReadySince = now.Add(-time.Duration(rapid.IntRange(0, 60).Draw(t, "readyFor")) * time.Second)
		}
		out[i] = p
	}
	return out
}

// counts is what the invariant is about: pods that count toward replicas
// (not ended, not being deleted) and those of them that are available.
func counts(ps []ObservedPod, minReady time.Duration, now time.Time) (live, available int) {
	for i := range ps {
		p := &ps[i]
		if p.Deleting || p.finished() {
			continue
		}
		live++
		if p.available(minReady, now) {
			available++
		}
	}
	return live, available
}

// apply is what the reconciler does with a result: the pods in Delete are
// being deleted, the pods in Create exist, not yet ready.
func apply(ps []ObservedPod, res Result, hash string, now time.Time) []ObservedPod {
	gone := map[types.UID]bool{}
	for _, d := range res.Delete {
		gone[d.UID] = true
	}
	var out []ObservedPod
	for _, p := range ps {
		if gone[p.UID] {
			p.Deleting = true
		}
		out = append(out, p)
	}
	for _, name := range res.Create {
		out = append(out, ObservedPod{Name: name, UID: types.UID("uid-" + name), TemplateHash: hash, Phase: corev1.PodPending, Created: now})
	}
	return out
}

// TestRolloutStepKeepsAvailabilityAndSurge: from any mix of pods, one step
// of a rolling update never takes available pods below
// replicas-maxUnavailable (nor lower than they already were, if already
// below) and never makes the pods that count more than replicas+maxSurge
// (nor more than they already were, if already above).
func TestRolloutStepKeepsAvailabilityAndSurge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := t0.Add(time.Hour)
		d := genRolling(t)
		prm, err := ResolveParams(d)
		if err != nil {
			t.Fatal(err)
		}
		pods := genPods(t, now)
		minReady := time.Duration(d.Spec.MinReadySeconds) * time.Second
		liveBefore, availBefore := counts(pods, minReady, now)

		res, err := SyncDeployment(Input{Deployment: d, TemplateHash: "new", Pods: pods, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		liveAfter, availAfter := counts(apply(pods, res, "new", now), minReady, now)

		if floor := min(availBefore, prm.Replicas-prm.MaxUnavailable); availAfter < floor {
			t.Fatalf("available %d → %d, below replicas %d - maxUnavailable %d (delete %v)", availBefore, availAfter, prm.Replicas, prm.MaxUnavailable, res.Delete)
		}
		if ceiling := max(liveBefore, prm.Replicas+prm.MaxSurge); liveAfter > ceiling {
			t.Fatalf("pods %d → %d, above replicas %d + maxSurge %d (create %v)", liveBefore, liveAfter, prm.Replicas, prm.MaxSurge, res.Create)
		}
	})
}

// TestRolloutConverges drives whole rollouts from any start: pods become
// ready one step after they are made and pods being deleted are gone the
// step after. Every step keeps the invariant, and the rollout completes
// with only new pods, replicas of them.
func TestRolloutConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genRolling(t)
		d.Spec.MinReadySeconds = 0
		prm, err := ResolveParams(d)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var pods []ObservedPod
		for i := range rapid.IntRange(0, 12).Draw(t, "oldPods") {
			pods = append(pods, pod("old", fmt.Sprint("web-old-", i), "ready"))
		}
		var state State
		for step := range 200 {
			now = now.Add(time.Second)
			var next []ObservedPod
			for _, p := range pods {
				if p.Deleting {
					continue
				}
				if !p.Ready {
					p.Bound, p.Phase, p.Ready, p.ReadySince = true, corev1.PodRunning, true, now
				}
				next = append(next, p)
			}
			pods = next
			liveBefore, availBefore := counts(pods, 0, now)
			res, err := SyncDeployment(Input{Deployment: d, TemplateHash: "new", State: state, Pods: pods, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			state = res.State
			pods = apply(pods, res, "new", now)
			live, avail := counts(pods, 0, now)
			if avail < min(availBefore, prm.Replicas-prm.MaxUnavailable) {
				t.Fatalf("step %d: %d available, below %d", step, avail, prm.Replicas-prm.MaxUnavailable)
			}
			if live > max(liveBefore, prm.Replicas+prm.MaxSurge) {
				t.Fatalf("step %d: %d pods, above %d", step, live, prm.Replicas+prm.MaxSurge)
			}
			if c := FindCondition(state.Status.Conditions, appsv1.DeploymentProgressing); c != nil && c.Reason == "NewReplicaSetAvailable" {
				for _, p := range pods {
					if !p.Deleting && p.TemplateHash != "new" {
						t.Fatalf("complete with old pod %s", p.Name)
					}
				}
				if live != prm.Replicas {
					t.Fatalf("complete with %d pods, want %d", live, prm.Replicas)
				}
				return
			}
		}
		t.Fatalf("rollout did not complete in 200 steps")
	})
}
