package statefulsets

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

type setOpt func(*appsv1.StatefulSet)

// web is StatefulSet "web" with a claim template "data", OrderedReady and
// RollingUpdate unless an option says otherwise.
func web(replicas int32, opts ...setOpt) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas:             &replicas,
			PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
			UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
func onDelete(s *appsv1.StatefulSet) {
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
}
func withPartition(n int32) setOpt {
	return func(s *appsv1.StatefulSet) {
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		s.Spec.UpdateStrategy.RollingUpdate.Partition = &n
	}
}
func withMaxUnavailable(v string) setOpt {
	return func(s *appsv1.StatefulSet) {
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		mu := intstr.Parse(v)
		s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &mu
	}
}
func deleteWhenScaled(s *appsv1.StatefulSet) {
	s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
}
func minReady(sec int32) setOpt { return func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = sec } }

// pod is one observed pod: kind "ready" (Running, Ready since t0),
// "unready" (Running, not Ready), "pending", "failed" or "deleting".
func pod(name, rev, kind string) ObservedPod {
	p := ObservedPod{Name: name, UID: types.UID("uid-" + name + "-" + rev), Revision: rev, Phase: corev1.PodRunning}
	switch kind {
	case "ready":
		p.Ready, p.ReadySince = true, t0
	case "unready":
	case "pending":
		p.Phase = corev1.PodPending
	case "failed":
		p.Phase = corev1.PodFailed
	case "deleting":
		p.Ready, p.ReadySince, p.Deleting = true, t0, true
	default:
		panic("unknown pod kind " + kind)
	}
	return p
}

func names(res Result) (create, del []string) {
	for _, c := range res.Create {
		create = append(create, c.Name+"@"+c.Revision)
	}
	for _, d := range res.Delete {
		del = append(del, d.Name+":"+string(d.Reason))
	}
	return create, del
}

func TestSyncStatefulSet(t *testing.T) {
	claims3 := []string{"data-web-0", "data-web-1", "data-web-2"}
	tests := []struct {
		name          string
		set           *appsv1.StatefulSet
		current       string // State.Status.CurrentRevision
		pods          []ObservedPod
		claims        []string
		now           time.Time
		wantCreate    []string
		wantDelete    []string
		wantNewClaims []string
		wantDelClaims []string
		wantRequeue   time.Time
	}{
		{
			name: "OrderedReady scale-up creates web-0 alone, with its claim",
			set:  web(3), wantCreate: []string{"web-0@r2"}, wantNewClaims: []string{"data-web-0"},
		},
		{
			name: "OrderedReady waits while web-0 is not ready",
			set:  web(3), pods: []ObservedPod{pod("web-0", "r2", "unready")}, claims: claims3[:1],
		},
		{
			name: "OrderedReady creates web-1 once web-0 is running and ready",
			set:  web(3), pods: []ObservedPod{pod("web-0", "r2", "ready")}, claims: claims3[:1],
			wantCreate: []string{"web-1@r2"}, wantNewClaims: []string{"data-web-1"},
		},
		{
			name: "minReadySeconds holds web-1 until web-0 has been ready long enough",
			set:  web(3, minReady(10)), pods: []ObservedPod{pod("web-0", "r2", "ready")}, claims: claims3[:1],
			now: t0.Add(4 * time.Second), wantRequeue: t0.Add(10 * time.Second),
		},
		{
			name: "minReadySeconds passed",
			set:  web(3, minReady(10)), pods: []ObservedPod{pod("web-0", "r2", "ready")}, claims: claims3[:1],
			now: t0.Add(10 * time.Second), wantCreate: []string{"web-1@r2"}, wantNewClaims: []string{"data-web-1"},
		},
		{
			name: "Parallel creates every missing ordinal at once",
			set:  web(3, parallel), pods: []ObservedPod{pod("web-1", "r2", "pending")}, claims: claims3[1:2],
			wantCreate: []string{"web-0@r2", "web-2@r2"}, wantNewClaims: []string{"data-web-0", "data-web-2"},
		},
		{
			name: "a failed pod is deleted; OrderedReady waits for it before web-2",
			set:  web(3), pods: []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "failed")}, claims: claims3[:2],
			wantDelete: []string{"web-1:Finished"},
		},
		{
			name: "scale-down removes the highest ordinal first, one at a time, and keeps its claim",
			set:  web(1), pods: []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "ready"), pod("web-2", "r2", "ready")}, claims: claims3,
			wantDelete: []string{"web-2:ScaledDown"},
		},
		{
			name: "OrderedReady scale-down waits for web-2 to terminate before web-1",
			set:  web(1), pods: []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "ready"), pod("web-2", "r2", "deleting")}, claims: claims3,
		},
		{
			name: "Parallel scale-down removes all condemned pods at once",
			set:  web(1, parallel), pods: []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "ready"), pod("web-2", "r2", "ready")}, claims: claims3,
			wantDelete: []string{"web-2:ScaledDown", "web-1:ScaledDown"},
		},
		{
			name: "whenScaled: Delete removes a scaled-down claim once its pod is gone",
			set:  web(1, deleteWhenScaled), pods: []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "deleting")}, claims: claims3,
			wantDelClaims: []string{"data-web-2"},
		},
		{
			name: "scaled back up, the kept claim is reused, not recreated",
			set:  web(2), pods: []ObservedPod{pod("web-0", "r2", "ready")}, claims: claims3,
			wantCreate: []string{"web-1@r2"},
		},
		{
			name: "RollingUpdate replaces the highest ordinal first",
			set:  web(3), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r1", "ready")},
			wantDelete: []string{"web-2:Update"},
		},
		{
			name: "RollingUpdate waits for the updated pod to be ready",
			set:  web(3), current: "r1", claims: claims3,
			pods: []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r2", "unready")},
		},
		{
			name: "RollingUpdate goes on to web-1 once web-2 is ready",
			set:  web(3), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r2", "ready")},
			wantDelete: []string{"web-1:Update"},
		},
		{
			name: "partition 2 leaves web-0 and web-1 on the old revision",
			set:  web(3, withPartition(2)), current: "r1", claims: claims3,
			pods: []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r2", "ready")},
		},
		{
			name: "below the partition a lost pod comes back at the current revision",
			set:  web(3, withPartition(2)), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-1", "r1", "ready"), pod("web-2", "r2", "ready")},
			wantCreate: []string{"web-0@r1"},
		},
		{
			name: "maxUnavailable 2 replaces two at a time, highest first",
			set:  web(3, withMaxUnavailable("2")), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r1", "ready")},
			wantDelete: []string{"web-2:Update", "web-1:Update"},
		},
		{
			name: "maxUnavailable counts pods already unavailable",
			set:  web(3, withMaxUnavailable("2"), parallel), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-0", "r1", "unready"), pod("web-1", "r1", "ready"), pod("web-2", "r1", "ready")},
			wantDelete: []string{"web-2:Update"},
		},
		{
			name: "OnDelete never deletes for an update",
			set:  web(3, onDelete), current: "r1", claims: claims3,
			pods: []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready"), pod("web-2", "r1", "ready")},
		},
		{
			name: "OnDelete recreates a pod the user deleted at the new revision",
			set:  web(3, onDelete), current: "r1", claims: claims3,
			pods:       []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r1", "ready")},
			wantCreate: []string{"web-2@r2"},
		},
		{
			name: "a pod whose name is no ordinal of the set is removed",
			set:  web(1), claims: claims3[:1],
			pods:       []ObservedPod{pod("web-0", "r2", "ready"), pod("web-x", "r2", "ready")},
			wantDelete: []string{"web-x:ScaledDown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			in := Input{Set: tc.set, Revision: "r2", Pods: tc.pods, Claims: tc.claims, Now: now}
			in.State.Status.CurrentRevision = tc.current
			res, err := SyncStatefulSet(in)
			if err != nil {
				t.Fatal(err)
			}
			create, del := names(res)
			var newClaims []string
			for _, c := range res.CreateClaims {
				newClaims = append(newClaims, c.Name)
			}
			if !slices.Equal(create, tc.wantCreate) || !slices.Equal(del, tc.wantDelete) ||
				!slices.Equal(newClaims, tc.wantNewClaims) || !slices.Equal(res.DeleteClaims, tc.wantDelClaims) {
				t.Errorf("create %v delete %v claims +%v -%v; want create %v delete %v claims +%v -%v",
					create, del, newClaims, res.DeleteClaims, tc.wantCreate, tc.wantDelete, tc.wantNewClaims, tc.wantDelClaims)
			}
			if !res.RequeueAt.Equal(tc.wantRequeue) {
				t.Errorf("RequeueAt %v, want %v", res.RequeueAt, tc.wantRequeue)
			}
		})
	}
}

func TestStatusCompletesRollingUpdate(t *testing.T) {
	tests := []struct {
		name        string
		set         *appsv1.StatefulSet
		pods        []ObservedPod
		wantCurrent string
		wantStatus  [4]int32 // replicas, ready, current, updated
	}{
		{
			name:        "held by a partition, the current revision stays",
			set:         web(2, withPartition(1)),
			pods:        []ObservedPod{pod("web-0", "r1", "ready"), pod("web-1", "r2", "ready")},
			wantCurrent: "r1", wantStatus: [4]int32{2, 2, 1, 1},
		},
		{
			name:        "all updated and ready: the update revision becomes current",
			set:         web(2),
			pods:        []ObservedPod{pod("web-0", "r2", "ready"), pod("web-1", "r2", "ready")},
			wantCurrent: "r2", wantStatus: [4]int32{2, 2, 2, 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Set: tc.set, Revision: "r2", Pods: tc.pods, Now: t0, Claims: []string{"data-web-0", "data-web-1"}}
			in.State.Status.CurrentRevision = "r1"
			res, err := SyncStatefulSet(in)
			if err != nil {
				t.Fatal(err)
			}
			st := res.State.Status
			got := [4]int32{st.Replicas, st.ReadyReplicas, st.CurrentReplicas, st.UpdatedReplicas}
			if st.CurrentRevision != tc.wantCurrent || got != tc.wantStatus || st.UpdateRevision != "r2" || !res.Changed {
				t.Errorf("status %+v changed %v; want current %s counts %v", st, res.Changed, tc.wantCurrent, tc.wantStatus)
			}
		})
	}
}

func TestClaimsToDeleteWithSet(t *testing.T) {
	claims := []string{"data-web-0"}
	retain := web(1)
	del := web(1, func(s *appsv1.StatefulSet) {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
	})
	if got := ClaimsToDeleteWithSet(retain, claims); got != nil {
		t.Errorf("Retain (default): %v, want none", got)
	}
	if got := ClaimsToDeleteWithSet(del, claims); !slices.Equal(got, claims) {
		t.Errorf("whenDeleted Delete: %v, want %v", got, claims)
	}
}

func TestInvalidSpec(t *testing.T) {
	if _, err := SyncStatefulSet(Input{Set: web(3, withMaxUnavailable("x%")), Now: t0}); err == nil {
		t.Error("bad maxUnavailable accepted")
	}
	if _, err := SyncStatefulSet(Input{Set: web(-1), Now: t0}); err == nil {
		t.Error("negative replicas accepted")
	}
	if _, err := SyncStatefulSet(Input{Now: t0}); err == nil {
		t.Error("nil set accepted")
	}
}
