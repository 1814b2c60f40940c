package jobs

import (
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"pgregory.net/rapid"
)

// TestJobCountsEachPodExactlyOnce drives a Job through random pod
// outcomes, duplicate reports and crashes at any point of applying a sync
// (pods created or deleted, status and progress not written), and checks
// after every completed sync that the status counts each finished pod
// exactly once, that no more pods run than parallelism allows, and that
// the Job still completes.
func TestJobCountsEachPodExactlyOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		completions := rapid.Int32Range(1, 6).Draw(rt, "completions")
		par := rapid.Int32Range(1, 4).Draw(rt, "parallelism")
		isIndexed := rapid.Bool().Draw(rt, "indexed")
		mods := []func(*batchv1.Job){parallel(par, completions), func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(1000) }}
		if isIndexed {
			mods = append(mods, indexed)
		}
		c := &cluster{job: testJob(mods...)}
		now := t0

		// What a correct controller must have counted: every pod that was
		// finished in the input of a sync whose result was written while
		// the Job was unfinished.
		succeeded := map[types.UID]bool{}
		succeededIx := map[int32]bool{}
		failed := map[types.UID]bool{}

		check := func() {
			st := c.job.Status
			want := int32(len(succeeded))
			if isIndexed {
				want = int32(len(succeededIx))
			}
			if st.Succeeded != want || st.Failed != int32(len(failed)) {
				rt.Fatalf("status succeeded %d failed %d, want %d and %d", st.Succeeded, st.Failed, want, len(failed))
			}
			if st.Succeeded > completions {
				rt.Fatalf("succeeded %d > completions %d", st.Succeeded, completions)
			}
			running := int32(0)
			for _, p := range c.pods {
				if !p.finished() && !p.Deleting {
					running++
				}
			}
			if running > par {
				rt.Fatalf("%d pods running, parallelism %d", running, par)
			}
		}
		sync := func(duplicate bool) {
			in := c.input(now)
			if duplicate {
				in.Pods = append(in.Pods, in.Pods...)
			}
			r, err := SyncJob(in)
			if err != nil {
				rt.Fatal(err)
			}
			if finishedCondition(&in.Job.Status) == nil {
				for _, p := range in.Pods {
					switch {
					case p.Phase == corev1.PodSucceeded:
						succeeded[p.UID] = true
						if p.Index >= 0 {
							succeededIx[p.Index] = true
						}
					case p.Phase == corev1.PodFailed && !p.Deleting:
						failed[p.UID] = true
					}
				}
			}
			applyTo(c, r)
			check()
			// Counted only remembers pods the store still holds.
			for uid := range c.progress.Counted {
				if !slices.ContainsFunc(in.Pods, func(p ObservedPod) bool { return p.UID == uid }) {
					rt.Fatalf("counted %s, a pod no longer in the store", uid)
				}
			}
		}

		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 5).Draw(rt, "action") {
			case 0, 1: // a pod finishes
				var open []int
				for i, p := range c.pods {
					if !p.finished() {
						open = append(open, i)
					}
				}
				if len(open) == 0 {
					continue
				}
				i := rapid.SampledFrom(open).Draw(rt, "pod")
				phase := rapid.SampledFrom([]corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed}).Draw(rt, "phase")
				c.finish(c.pods[i].Name, phase, now)
			case 2: // a sync, possibly with every pod reported twice
				sync(rapid.Bool().Draw(rt, "duplicate"))
			case 3: // a crash while applying a sync: some pod actions done, status not written
				r, err := SyncJob(c.input(now))
				if err != nil {
					rt.Fatal(err)
				}
				r.Create = r.Create[:rapid.IntRange(0, len(r.Create)).Draw(rt, "created")]
				r.Delete = r.Delete[:rapid.IntRange(0, len(r.Delete)).Draw(rt, "deleted")]
				applyPods(c, r)
			case 4: // time passes
				now = now.Add(time.Duration(rapid.IntRange(0, 900).Draw(rt, "seconds")) * time.Second)
			case 5: // a finished pod whose count is in status is deleted from the store
				var gone []int
				for i, p := range c.pods {
					if p.finished() && c.progress.Counted[p.UID] {
						gone = append(gone, i)
					}
				}
				if len(gone) == 0 {
					continue
				}
				i := rapid.SampledFrom(gone).Draw(rt, "deletedPod")
				c.pods = slices.Delete(c.pods, i, i+1)
			}

		}
		// Then everything that runs succeeds: the Job must complete with
		// exactly its completions.
		for i := 0; i < 100 && condition(c.job.Status) != "Complete/CompletionsReached"; i++ {
			sync(false)
			for _, p := range slices.Clone(c.pods) {
				if !p.finished() && !p.Deleting {
					c.finish(p.Name, corev1.PodSucceeded, now)
				}
			}
			now = now.Add(11 * time.Minute)
		}
		if condition(c.job.Status) != "Complete/CompletionsReached" || c.job.Status.Succeeded != completions {
			rt.Fatalf("did not complete: %q, succeeded %d of %d", condition(c.job.Status), c.job.Status.Succeeded, completions)
		}
	})
}

// applyTo applies a whole result: pods, then status and progress together.
func applyTo(c *cluster, r JobResult) {
	applyPods(c, r)
	c.job = c.job.DeepCopy()
	c.job.Status = r.Status
	c.progress = r.Progress
}

// applyPods applies only the pod actions of a result, as a crash before
// the status write leaves them.
func applyPods(c *cluster, r JobResult) {
	for _, p := range r.Create {
		if c.find(p.Name) >= 0 {
			continue
		}
		// A new pod as the store records it: Pending, with its own UID.
		o := ObservePod(p)
		o.UID = types.UID(p.Name + "-uid")
		o.Phase = corev1.PodPending
		c.pods = append(c.pods, o)
	}
	for _, d := range r.Delete {
		if i := c.find(d.Name); i >= 0 {
			c.pods[i].Deleting = true
		}
	}
}
