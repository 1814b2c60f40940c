//go:build !berth_agent

package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/reconciler"
)

func TestDeleteClaims(t *testing.T) {
	s := newCLIServer(t)
	s.register("node-1", "4", "8Gi")
	s.load(statefulManifest) // db: replicas 2, names data-db-0 and data-db-1
	s.update(func(tx reconciler.Tx) error {
		for _, c := range []*reconciler.ClaimRecord{
			claimRec("data-db-0", "node-1", corev1.ClaimBound, corev1.PersistentVolumeReclaimDelete),
			claimRec("data-db-5", "node-1", corev1.ClaimBound, corev1.PersistentVolumeReclaimRetain),
			claimRec("kept", "node-1", reconciler.ClaimReleased, corev1.PersistentVolumeReclaimRetain),
			claimRec("wiped", "node-1", reconciler.ClaimReleased, corev1.PersistentVolumeReclaimRetain),
			claimRec("used", "node-1", reconciler.ClaimReleased, corev1.PersistentVolumeReclaimRetain),
		} {
			if err := tx.PutClaim(c); err != nil {
				return err
			}
		}
		p := &reconciler.PodRecord{Owner: reconciler.Owner{Kind: reconciler.OwnerPod, Name: "user"}}
		p.Pod.Namespace, p.Pod.Name, p.Pod.UID, p.Pod.Spec.NodeName = "default", "user", "uid-user", "node-1"
		p.Pod.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
		p.Pod.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "used"}}}}
		return tx.PutPod(p)
	})
	tests := []struct {
		name          string
		args          []string
		want, wantErr string
	}{
		{name: "Released claim: data kept", args: []string{"delete", "pvc", "kept"},
			want: `persistentvolumeclaim "kept" deleted; its data stays on node node-1, in default/kept under that node's --storage-dir` + "\n"},
		{name: "with --delete-data", args: []string{"delete", "pvc", "wiped", "--delete-data"},
			want: `persistentvolumeclaim "wiped" deleted; node node-1 removes its data (berth get pvc lists it until then)` + "\n"},
		{name: "a scaled-down set's claim, by its long kind name", args: []string{"delete", "persistentvolumeclaim", "data-db-5", "-n", "default"},
			want: `persistentvolumeclaim "data-db-5" deleted; its data stays on node node-1, in default/data-db-5 under that node's --storage-dir` + "\n"},
		{name: "still in Git", args: []string{"delete", "pvc", "data-db-0"},
			wantErr: "Error from server (Conflict): claim default/data-db-0 is still in Git (a claim of StatefulSet db"},
		{name: "used by a pod", args: []string{"delete", "pvc", "used"},
			wantErr: "Error from server (Conflict): claim default/used is used by pod user: it can be deleted once no pod names it"},
		{name: "gone", args: []string{"delete", "pvc", "kept"}, wantErr: `Error from server (NotFound): persistentvolumeclaim "default/kept" not found`},
		{name: "other namespace", args: []string{"delete", "pvc", "wiped", "-n", "shop"}, wantErr: `persistentvolumeclaim "shop/wiped" not found`},
		{name: "not a claim", args: []string{"delete", "pods", "user"}, wantErr: "berth deletes only claims (pvc) by hand: to stop pods, remove them from Git"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := s.run(tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out != tc.want {
				t.Fatalf("out %q, %v; want %q", out, err, tc.want)
			}
		})
	}
	out, _, err := s.run("get", "pvc")
	if err != nil || strings.Contains(out, "kept") || strings.Contains(out, "data-db-5") || !strings.Contains(out, "wiped") {
		t.Fatalf("berth get pvc after the deletes (%v):\n%s", err, out)
	}
}
