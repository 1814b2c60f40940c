package reconciler

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testDeployment(replicas int32, surge, unavail string) *appsv1.Deployment {
	ms, mu := intstr.Parse(surge), intstr.Parse(unavail)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &ms, MaxUnavailable: &mu}},
		},
	}
}

// pods makes n pods of a template hash, bound and ready or not.
func pods(hash string, n int, ready bool) []*PodRecord {
	var out []*PodRecord
	for i := 0; i < n; i++ {
		p := &PodRecord{TemplateHash: hash, Created: t0, Owner: Owner{Kind: OwnerDeployment, Name: "web"}}
		p.Pod.Namespace, p.Pod.Name = "default", deploymentPodName("web", hash, i)
		p.Pod.Spec.NodeName = "n1"
		if ready {
			p.Pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
		}
		out = append(out, p)
	}
	return out
}

func TestRolloutParams(t *testing.T) {
	tests := []struct {
		name                string
		replicas            int32
		surge, unavail      string
		wantSurge, wantUnav int
	}{
		{name: "defaults on 3", replicas: 3, surge: "25%", unavail: "25%", wantSurge: 1, wantUnav: 0},
		{name: "defaults on 4", replicas: 4, surge: "25%", unavail: "25%", wantSurge: 1, wantUnav: 1},
		{name: "both zero means one unavailable", replicas: 3, surge: "0", unavail: "0", wantSurge: 0, wantUnav: 1},
		{name: "absolute", replicas: 10, surge: "3", unavail: "2", wantSurge: 3, wantUnav: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, u := rolloutParams(testDeployment(tt.replicas, tt.surge, tt.unavail))
			if s != tt.wantSurge || u != tt.wantUnav {
				t.Fatalf("surge %d unavailable %d, want %d %d", s, u, tt.wantSurge, tt.wantUnav)
			}
		})
	}
}

func TestPlanRollout(t *testing.T) {
	tests := []struct {
		name       string
		d          *appsv1.Deployment
		pods       []*PodRecord
		wantCreate int
		wantDelete int
		wantCond   string // Progressing reason
	}{
		{name: "new deployment creates replicas", d: testDeployment(3, "25%", "25%"), wantCreate: 3, wantCond: "ReplicaSetUpdated"},
		{name: "steady state does nothing", d: testDeployment(3, "25%", "25%"), pods: pods("new", 3, true), wantCond: "NewReplicaSetAvailable"},
		{name: "rollout starts with one surge pod and removes none (maxUnavailable 0)", d: testDeployment(3, "25%", "25%"), pods: pods("old", 3, true), wantCreate: 1, wantDelete: 0},
		{name: "rollout with maxUnavailable 1 also removes one old", d: testDeployment(4, "25%", "25%"), pods: pods("old", 4, true), wantCreate: 1, wantDelete: 1},
		{name: "new pod ready lets one old go", d: testDeployment(3, "25%", "25%"), pods: append(pods("old", 3, true), pods("new", 1, true)...), wantCreate: 0, wantDelete: 1},
		{name: "new pod not ready holds old", d: testDeployment(3, "25%", "25%"), pods: append(pods("old", 3, true), pods("new", 1, false)...)},
		{name: "unready old pods go first", d: testDeployment(3, "1", "1"), pods: append(pods("old", 3, false), pods("new", 1, false)...), wantDelete: 1},
		{name: "scale down removes surplus", d: testDeployment(1, "25%", "25%"), pods: pods("new", 3, true), wantDelete: 2, wantCond: "NewReplicaSetAvailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := planRollout(tt.d, "new", tt.pods, DeploymentRecord{}, t0)
			if len(plan.create) != tt.wantCreate || len(plan.delete) != tt.wantDelete {
				t.Fatalf("create %v delete %d, want %d and %d", plan.create, len(plan.delete), tt.wantCreate, tt.wantDelete)
			}
			if tt.wantCond != "" {
				c := findDeployCondition(plan.record.Status.Conditions, appsv1.DeploymentProgressing)
				if c == nil || c.Reason != tt.wantCond {
					t.Fatalf("Progressing %+v, want %s", c, tt.wantCond)
				}
			}
		})
	}
}

// TestRolloutNeverDropsBelowMinAvailable drives a whole rollout, with pods
// becoming ready one pass after they are made, and checks availability
// after every pass.
func TestRolloutNeverDropsBelowMinAvailable(t *testing.T) {
	for _, tc := range []struct {
		replicas       int32
		surge, unavail string
	}{{3, "25%", "25%"}, {4, "25%", "25%"}, {10, "3", "2"}, {5, "0", "1"}, {2, "100%", "0"}} {
		t.Run(fmt.Sprintf("%d-%s-%s", tc.replicas, tc.surge, tc.unavail), func(t *testing.T) {
			d := testDeployment(tc.replicas, tc.surge, tc.unavail)
			replicas, surge, unavail := rolloutParams(d)
			live := pods("old", replicas, true)
			now := t0
			var rec DeploymentRecord
			for pass := 0; pass < 100; pass++ {
				now = now.Add(time.Second)
				// pods created last pass become ready now
				for _, p := range live {
					if !p.ready() {
						p.Pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
					}
				}
				plan := planRollout(d, "new", live, rec, now)
				rec = plan.record
				del := map[*PodRecord]bool{}
				for _, p := range plan.delete {
					del[p] = true
				}
				next := live[:0:0]
				for _, p := range live {
					if !del[p] {
						next = append(next, p)
					}
				}
				for _, name := range plan.create {
					p := &PodRecord{TemplateHash: "new", Created: now, Owner: Owner{Kind: OwnerDeployment, Name: "web"}}
					p.Pod.Name = name
					p.Pod.Spec.NodeName = "n1"
					next = append(next, p)
				}
				live = next
				avail := 0
				for _, p := range live {
					if p.available(0, now) {
						avail++
					}
				}
				if avail < replicas-unavail {
					t.Fatalf("pass %d: %d available, below %d", pass, avail, replicas-unavail)
				}
				if len(live) > replicas+surge {
					t.Fatalf("pass %d: %d pods, above %d", pass, len(live), replicas+surge)
				}
				if c := findDeployCondition(rec.Status.Conditions, appsv1.DeploymentProgressing); c != nil && c.Reason == "NewReplicaSetAvailable" {
					for _, p := range live {
						if p.TemplateHash != "new" {
							t.Fatalf("complete with old pod %s", p.Pod.Name)
						}
					}
					return
				}
			}
			t.Fatal("rollout did not complete in 100 passes")
		})
	}
}
