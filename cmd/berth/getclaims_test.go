//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/reconciler"
)

const statefulManifest = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: busybox}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

func claimRec(name, node string, phase corev1.PersistentVolumeClaimPhase, policy corev1.PersistentVolumeReclaimPolicy) *reconciler.ClaimRecord {
	c := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: "0123abcd-0000-4000-8000-000000000000", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptr.To("local"),
			VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem),
			Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
	if node != "" {
		c.Status.AccessModes = c.Spec.AccessModes
		c.Status.Capacity = c.Spec.Resources.Requests
	}
	return &reconciler.ClaimRecord{Claim: c, Owner: reconciler.Owner{Kind: reconciler.OwnerStatefulSet, Name: "db"}, Node: node, ReclaimPolicy: policy}
}

func TestGetAndDescribeClaimsAndStatefulSets(t *testing.T) {
	s := newCLIServer(t)
	s.register("node-1", "4", "8Gi")
	s.load(statefulManifest)
	s.update(func(tx reconciler.Tx) error {
		for _, c := range []*reconciler.ClaimRecord{
			claimRec("data-db-0", "node-1", corev1.ClaimBound, corev1.PersistentVolumeReclaimDelete),
			claimRec("data-db-1", "", corev1.ClaimPending, corev1.PersistentVolumeReclaimDelete),
			claimRec("old", "node-1", reconciler.ClaimReleased, corev1.PersistentVolumeReclaimRetain),
		} {
			if err := tx.PutClaim(c); err != nil {
				return err
			}
		}
		if err := tx.PutPod(podRec("default", "db-0", "node-1", t0.Add(-time.Hour), running(true, 0, time.Time{}), func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}}
		})); err != nil {
			return err
		}
		return tx.PutStatefulSet(&reconciler.StatefulSetRecord{Namespace: "default", Name: "db", Created: t0.Add(-time.Hour),
			Status: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1}})
	})
	c := s.admin()
	tests := []struct {
		name string
		res  resKind
		want string
	}{
		{
			name: "pvc", res: resClaims,
			want: `NAME        STATUS     VOLUME                  CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE
data-db-0   Bound      local-node-1-0123abcd   1Gi        RWO            local          <unset>                 60m
data-db-1   Pending                                                      local          <unset>                 60m
old         Released   local-node-1-0123abcd   1Gi        RWO            local          <unset>                 60m
`,
		},
		{
			name: "statefulsets", res: resStatefulSets,
			want: `NAME   READY   AGE
db     1/2     60m
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := runGet(context.Background(), c, &out, &errOut, tc.res, "", getOptions{ns: namespaceFlags{namespace: "default"}}, t0); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
	var out bytes.Buffer
	if err := runDescribe(context.Background(), c, &out, resClaims, "default", "data-db-0", t0, time.UTC); err != nil {
		t.Fatal(err)
	}
	got := squash(out.String())
	for _, want := range []string{"Name: data-db-0", "StorageClass: local", "Status: Bound", "Node: node-1", "Reclaim Policy: Delete",
		"Capacity: 1Gi", "Access Modes: RWO", "VolumeMode: Filesystem", "Used By: db-0"} {
		if !strings.Contains(got, want) {
			t.Errorf("describe pvc: missing %q in:\n%s", want, out.String())
		}
	}
	if _, _, err := s.run("get", "pvc", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("get pvc nope: %v", err)
	}
}
