package reconciler

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
)

func TestDeleteClaimByHand(t *testing.T) {
	tests := []struct {
		name string
		// first is the revision the cluster converges on, then is the one
		// applied before the delete ("" none), with the agents
		// confirming what it stops unless stillStopping.
		first, then   string
		stillStopping bool
		// nodeDeleted: the claim's node is deleted before the delete.
		nodeDeleted bool
		claim       string
		deleteData  bool
		// wantCode is the refusal (0: accepted) and wantMsg what it says.
		wantCode int
		wantMsg  string
		// wantRemoved: the claim's node is told to remove its data, and
		// the record goes when it reports that; else the record goes at once.
		wantRemoved bool
	}{
		{name: "Released under Retain: record gone, data kept", first: retainClassYAML + claimYAML("db", "keep"), then: retainClassYAML,
			claim: "db"},
		{name: "Released under Retain with deleteData: the node removes the data", first: retainClassYAML + claimYAML("db", "keep"), then: retainClassYAML,
			claim: "db", deleteData: true, wantRemoved: true},
		{name: "claim still in Git", first: claimYAML("db", ""), claim: "db",
			wantCode: http.StatusConflict, wantMsg: "claim default/db is still in Git"},
		{name: "claim a pod still uses", first: retainClassYAML + claimYAML("db", "keep"), then: retainClassYAML, stillStopping: true, claim: "db",
			wantCode: http.StatusConflict, wantMsg: "claim default/db is used by pod use-db"},
		{name: "claim of a StatefulSet in Git", first: statefulYAML(2, "busybox:1", ""), claim: "data-web-1",
			wantCode: http.StatusConflict, wantMsg: "a claim of StatefulSet web"},
		{name: "claim a scaled-down StatefulSet left: its ordinal is above replicas", first: statefulYAML(2, "busybox:1", ""), then: statefulYAML(1, "busybox:1", ""),
			claim: "data-web-1", wantRemoved: true},
		{name: "claim a removed StatefulSet left, class reclaimPolicy Delete: the node removes the data", first: statefulYAML(1, "busybox:1", ""), then: podYAML("other", "64Mi"),
			claim: "data-web-0", wantRemoved: true},
		{name: "no such claim", first: podYAML("other", "64Mi"), claim: "nope",
			wantCode: http.StatusNotFound, wantMsg: `persistentvolumeclaim "default/nope" not found`},
		{name: "node deleted, deleteData: nobody can remove the data", first: retainClassYAML + claimYAML("db", "keep"), then: retainClassYAML, nodeDeleted: true,
			claim: "db", deleteData: true, wantCode: http.StatusConflict, wantMsg: "which is not registered"},
		{name: "node deleted: record gone", first: retainClassYAML + claimYAML("db", "keep"), then: retainClassYAML, nodeDeleted: true, claim: "db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addStorageNode("n1", "10Gi")
			h.src.push("r1", decodeObjs(t, tt.first))
			h.converge("n1")
			if tt.then != "" {
				h.src.push("r2", decodeObjs(t, tt.then))
				if tt.stillStopping {
					h.reconcile()
				} else {
					h.converge("n1")
				}
			}
			if tt.nodeDeleted {
				if err := h.store.Update(func(tx Tx) error { return tx.DeleteNode("n1") }); err != nil {
					t.Fatal(err)
				}
			}
			before := h.claims()[tt.claim]
			admin := NewClaimAdmin(h.store, NewReads(h.store, h.rec.AppliedObjects), h.clock)
			got, err := admin.DeleteClaim("default", tt.claim, tt.deleteData)
			if tt.wantCode != 0 {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Code != tt.wantCode || !strings.Contains(ae.Message, tt.wantMsg) {
					t.Fatalf("err %v, want %d with %q", err, tt.wantCode, tt.wantMsg)
				}
				if after := h.claims()[tt.claim]; (before == nil) != (after == nil) || after != nil && after.deleting() {
					t.Fatalf("a refused delete changed the claim: %+v", after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.claim || (got.DeletionTimestamp != nil) != tt.wantRemoved {
				t.Fatalf("answer %s, deletionTimestamp %v; want the data removed %v", got.Name, got.DeletionTimestamp, tt.wantRemoved)
			}
			if !tt.wantRemoved {
				if c := h.claims()[tt.claim]; c != nil {
					t.Fatalf("claim record still there: %+v", c)
				}
				if !tt.nodeDeleted {
					if refs := h.removeClaimData("n1"); len(refs) != 0 {
						t.Fatalf("n1 told to remove %v; the data stays", refs)
					}
				}
				return
			}
			if refs := h.removeClaimData("n1"); len(refs) != 1 || refs[0].Name != tt.claim || refs[0].UID != string(before.Claim.UID) {
				t.Fatalf("n1 told to remove %+v, want %s", refs, tt.claim)
			}
			h.reconcile()
			if c := h.claims()[tt.claim]; c != nil {
				t.Fatalf("claim record still there after its node removed the data: %+v", c)
			}
			// A delete once the data is being removed, or gone, changes nothing.
			if _, err := admin.DeleteClaim("default", tt.claim, tt.deleteData); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("second delete: %v, want not found", err)
			}
		})
	}
}
