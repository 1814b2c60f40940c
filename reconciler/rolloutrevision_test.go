package reconciler

import (
	"testing"

	"github.com/berth-dev/berth/api"
)

// TestDeploymentRevisions: the loop records, for each Deployment, the Git
// revision it last reconciled it at (even when nothing of the Deployment
// changed) and which rollout it is; users see both as the annotations
// `rollout status` and `describe` read.
func TestDeploymentRevisions(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	reads := NewReads(h.store, h.rec.AppliedObjects)
	steps := []struct {
		rev, objs   string
		wantRollout string
	}{
		{rev: "r1", objs: deployYAML(3, "web:1"), wantRollout: "1"},
		{rev: "r2", objs: deployYAML(3, "web:2"), wantRollout: "2"},
		// another object changes: the same rollout, at the new revision
		{rev: "r3", objs: deployYAML(3, "web:2") + podYAML("solo", "64Mi"), wantRollout: "2"},
		// back to the first template: a new rollout, as Kubernetes counts
		{rev: "r4", objs: deployYAML(3, "web:1"), wantRollout: "3"},
	}
	for _, st := range steps {
		h.src.push(st.rev, decodeObjs(t, st.objs))
		h.converge("n1")
		var rec *DeploymentRecord
		if err := h.store.View(func(tx ReadTx) (err error) { rec, err = tx.Deployment("default", "web"); return err }); err != nil {
			t.Fatal(err)
		}
		if rec.Revision != st.rev {
			t.Errorf("at %s: the record says it was reconciled at %q", st.rev, rec.Revision)
		}
		ds, err := reads.Deployments("default", "web")
		if err != nil || len(ds) != 1 {
			t.Fatalf("at %s: %d deployments, %v", st.rev, len(ds), err)
		}
		if got := ds[0].Annotations[api.AnnotationRevision]; got != st.rev {
			t.Errorf("at %s: %s = %q", st.rev, api.AnnotationRevision, got)
		}
		if got := ds[0].Annotations[api.AnnotationRolloutRevision]; got != st.wantRollout {
			t.Errorf("at %s: %s = %q, want %s", st.rev, api.AnnotationRolloutRevision, got, st.wantRollout)
		}
	}
}
