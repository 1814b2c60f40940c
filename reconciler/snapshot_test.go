package reconciler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/berth-dev/berth/api"
)

// TestSnapshotAdmissionAgrees is the promise `berth plan` makes: on any
// cluster, the verdict Admit gives from the snapshot the API serves (after
// its JSON round trip, as a file in CI) is the verdict the server's loop
// writes when the revision arrives, with the same pods that do not fit.
func TestSnapshotAdmissionAgrees(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(t)
		nodes := rapid.IntRange(1, 4).Draw(rt, "nodes")
		var names []string
		for i := 0; i < nodes; i++ {
			name := fmt.Sprintf("n%d", i)
			names = append(names, name)
			h.addNode(name, "2", fmt.Sprintf("%dMi", rapid.IntRange(2, 16).Draw(rt, "mem")*256))
		}
		revision := func(label string) string {
			var b strings.Builder
			b.WriteString(deployYAML(rapid.IntRange(0, 8).Draw(rt, label+"-replicas"), rapid.SampledFrom([]string{"nginx:1", "nginx:2"}).Draw(rt, label+"-image")))
			for i := range rapid.IntRange(0, 3).Draw(rt, label+"-pods") {
				b.WriteString(podYAML(fmt.Sprintf("p%d", i), fmt.Sprintf("%dMi", rapid.IntRange(1, 12).Draw(rt, label+"-podmem")*256)))
			}
			return b.String()
		}
		h.src.push("rev-a", decodeObjs(t, revision("a")))
		h.converge(names...)
		if cordon := rapid.IntRange(-1, nodes-1).Draw(rt, "cordon"); cordon >= 0 {
			if err := h.store.Update(func(tx Tx) error {
				n, err := tx.Node(names[cordon])
				if err != nil {
					return err
				}
				n.Unschedulable = true
				return tx.PutNode(n)
			}); err != nil {
				t.Fatal(err)
			}
		}

		snap, err := NewReads(h.store, nil).Snapshot(h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		var file api.ClusterSnapshot
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		next := &Desired{Revision: "rev-b", Subject: "commit rev-b", Objects: decodeObjs(t, revision("b"))}
		adm, err := Admit(next, StateOf(&file), "")
		if err != nil {
			t.Fatal(err)
		}

		h.src.cur = next
		h.reconcile()
		st := h.sync()
		serverAdmitted := st.Applied != nil && st.Applied.SHA == "rev-b"
		if planAdmitted := adm.Rejected == nil; planAdmitted != serverAdmitted {
			t.Fatalf("plan says admitted=%t, the server admitted=%t (server: %+v, plan: %+v)", planAdmitted, serverAdmitted, st.Rejected, adm.Rejected)
		}
		if !serverAdmitted {
			if st.Rejected == nil {
				t.Fatalf("the server neither admitted nor refused rev-b: %+v", st)
			}
			if !reflect.DeepEqual(st.Rejected.Unplaceable, adm.Rejected.Unplaceable) {
				t.Fatalf("unplaceable pods differ:\nserver %+v\nplan   %+v", st.Rejected.Unplaceable, adm.Rejected.Unplaceable)
			}
		}
	})
}
