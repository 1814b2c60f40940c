package apiserver

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/reconciler"
)

// TestAPIDeleteClaim: only the admin deletes a claim; names and the one
// query parameter are checked before anything changes; the answer is the
// claim as left, and the reconciler's refusals come through as they are.
func TestAPIDeleteClaim(t *testing.T) {
	h := newTokenHarness(t)
	plan := h.createToken(time.Hour, api.TokenUsagePlan)
	h.register("n1")
	putClaim := func(name string) {
		h.update(func(tx reconciler.Tx) error {
			c := &reconciler.ClaimRecord{Owner: reconciler.Owner{Kind: reconciler.OwnerClaim, Name: name},
				ReclaimPolicy: corev1.PersistentVolumeReclaimRetain, Node: "n1"}
			c.Claim.Namespace, c.Claim.Name, c.Claim.UID = "default", name, types.UID("uid-"+name)
			c.Claim.Status.Phase = reconciler.ClaimReleased
			return tx.PutClaim(c)
		})
	}
	putClaim("kept")
	putClaim("wiped")
	putClaim("used")
	h.putPod("default", "user", "n1", func(p *reconciler.PodRecord) {
		p.Pod.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "used"}}}}
	})
	path := func(name string) string { return api.NamespacedPath(api.PathClaims, "default", name) }
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{name: "no token", path: path("kept"), want: http.StatusUnauthorized},
		{name: "plan token", path: path("kept"), token: plan, want: http.StatusForbidden},
		{name: "node token", path: path("kept"), token: h.nodeTokens["n1"], want: http.StatusForbidden},
		{name: "bad name", path: path("Bad_Name"), token: testTokens.Admin, want: http.StatusBadRequest},
		{name: "bad namespace", path: api.NamespacedPath(api.PathClaims, "Ns.x", "kept"), token: testTokens.Admin, want: http.StatusBadRequest},
		{name: "unknown parameter", path: path("kept") + "?force=true", token: testTokens.Admin, want: http.StatusBadRequest},
		{name: "deleteData not a boolean", path: path("kept") + "?deleteData=yes-please", token: testTokens.Admin, want: http.StatusBadRequest},
		{name: "deleteData twice", path: path("kept") + "?deleteData=true&deleteData=false", token: testTokens.Admin, want: http.StatusBadRequest},
		{name: "no such claim", path: path("nope"), token: testTokens.Admin, want: http.StatusNotFound},
		{name: "claim a pod uses", path: path("used"), token: testTokens.Admin, want: http.StatusConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			if code, e := h.do(http.MethodDelete, c.path, c.token, "", ""); code != c.want {
				t.Fatalf("DELETE %s: %d %s, want %d", c.path, code, e.Message, c.want)
			}
		})
	}
	ctx := context.Background()
	if l, err := h.admin().PersistentVolumeClaims(ctx, "default"); err != nil || len(l.Items) != 3 {
		t.Fatalf("refused deletes changed the claims: %d, %v", len(l.Items), err)
	}
	kept, err := h.admin().DeleteClaim(ctx, "default", "kept", false)
	if err != nil || kept.Name != "kept" || kept.DeletionTimestamp != nil || kept.Annotations[api.AnnotationClaimNode] != "n1" {
		t.Fatalf("delete kept: %+v, %v", kept, err)
	}
	wiped, err := h.admin().DeleteClaim(ctx, "default", "wiped", true)
	if err != nil || wiped.DeletionTimestamp == nil {
		t.Fatalf("delete wiped with its data: %+v, %v", wiped, err)
	}
	list, _, err := reconciler.NewAgentPods(h.store).NodePods("n1")
	if err != nil || len(list.DeleteClaims) != 1 || list.DeleteClaims[0].Name != "wiped" {
		t.Fatalf("n1 is told to delete %+v (%v), want wiped's data only", list.DeleteClaims, err)
	}
	if _, err := h.admin().PersistentVolumeClaim(ctx, "default", "kept"); err == nil {
		t.Fatal("kept's record is still there")
	}
}
