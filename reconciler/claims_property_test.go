package reconciler

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"pgregory.net/rapid"
)

// TestClaimInvariants drives the loop through random histories of
// StatefulSets and claims in Git (scaled, retention policies, claims
// added and removed under Delete and Retain), nodes lost and back, and
// agents that run pods and remove claim data when told. After every step:
//
//   - a claim, once bound, stays on its node, and every bound pod naming
//     a claim runs on that claim's node;
//   - a claim's data is removed (the claim marked for deletion) only under
//     reclaimPolicy Delete, and never while a bound pod names it (a pod
//     made meanwhile waits: no claim being deleted is offered to the
//     scheduler);
//   - a Released claim is one under Retain;
//   - no two live pods share a name (StatefulSet ordinals are unique);
//   - while one node is up, every revision is admitted: pods waiting for
//     their claim's lost node do not keep it out.
func TestClaimInvariants(t *testing.T) {
	dir := t.TempDir()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		st, err := OpenBolt(filepath.Join(dir, fmt.Sprintf("run%d.db", run)))
		if err != nil {
			rt.Fatal(err)
		}
		defer st.Close()
		st.db.NoSync = true // a test store: fsync only costs time here
		h := &harness{t: t, store: st, clock: clocktesting.NewFakeClock(t0), src: &fakeSource{updated: make(chan struct{}, 1)}}
		rec, err := New(Config{Store: st, Source: h.src, Clock: h.clock, LocalZone: time.UTC, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			rt.Fatal(err)
		}
		h.rec = rec
		nodes := []string{"n1", "n2"}
		for _, n := range nodes {
			h.addStorageNode(n, "10Gi")
		}
		up := map[string]bool{"n1": true, "n2": true}
		boundTo := map[string]string{} // claim UID → node, once bound
		rev := 0
		for step := range rapid.IntRange(5, 25).Draw(rt, "steps") {
			switch rapid.IntRange(0, 5).Draw(rt, fmt.Sprint("action", step)) {
			case 0, 1: // a new revision
				rev++
				yaml := retainClassYAML
				if n := rapid.IntRange(-1, 3).Draw(rt, "replicas"); n >= 0 {
					extra := ""
					if rapid.Bool().Draw(rt, "whenScaledDelete") {
						extra += "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Delete}\n"
					}
					yaml += statefulYAML(n, rapid.SampledFrom([]string{"busybox:1", "busybox:2"}).Draw(rt, "image"), extra)
				}
				if rapid.Bool().Draw(rt, "claimInGit") {
					yaml += claimYAML("db", rapid.SampledFrom([]string{"", "keep"}).Draw(rt, "class"))
				}
				h.src.push(fmt.Sprint("r", rev), decodeObjs(t, yaml))
			case 2: // a node goes down or comes back
				n := rapid.SampledFrom(nodes).Draw(rt, "node")
				up[n] = !up[n]
			case 3: // agents remove claim data they are told to
				for _, n := range nodes {
					if up[n] {
						h.removeClaimData(n)
					}
				}
			default:
			}
			var live []string
			for _, n := range nodes {
				if up[n] {
					live = append(live, n)
				}
			}
			h.heartbeat(live...)
			h.reconcile()
			h.agents(live...)
			h.clock.Step(15 * time.Second)
			h.heartbeat(live...)
			h.reconcile()
			checkClaimInvariants(rt, h, boundTo)
			if st := h.sync(); len(live) > 0 && rev > 0 && (st.Applied == nil || st.Applied.SHA != fmt.Sprint("r", rev)) {
				rt.Fatalf("revision r%d not admitted with %v up: %+v", rev, live, st.Rejected)
			}
		}
	})
}

func checkClaimInvariants(rt *rapid.T, h *harness, boundTo map[string]string) {
	claims := h.claims()
	pods := h.pods()
	names := map[string]bool{}
	used := map[string]bool{}
	for _, p := range pods {
		if !p.deleting() {
			if names[p.key()] {
				rt.Fatalf("two live pods named %s", p.key())
			}
			names[p.key()] = true
		}
		for _, v := range p.Pod.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			name := v.PersistentVolumeClaim.ClaimName
			if p.bound() {
				used[name] = true
			}
			c := claims[name]
			if p.bound() && (c == nil || c.Node != p.Pod.Spec.NodeName) {
				rt.Fatalf("pod %s on %s uses claim %s, which is %+v", p.Pod.Name, p.Pod.Spec.NodeName, name, c)
			}
		}
	}
	for name, c := range claims {
		uid := string(c.Claim.UID)
		if was, ok := boundTo[uid]; ok && c.Node != was {
			rt.Fatalf("claim %s moved from %s to %q", name, was, c.Node)
		}
		if c.Node != "" {
			boundTo[uid] = c.Node
		}
		if c.deleting() && (c.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || used[name]) {
			rt.Fatalf("claim %s (reclaimPolicy %s, in use %t) is being deleted", name, c.ReclaimPolicy, used[name])
		}
		if c.Claim.Status.Phase == ClaimReleased && c.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
			rt.Fatalf("claim %s Released under %s", name, c.ReclaimPolicy)
		}
	}
}
