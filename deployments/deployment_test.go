package deployments

import (
	"errors"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// rolling is a RollingUpdate Deployment "web" with maxSurge and
// maxUnavailable written as in YAML ("25%" or "1").
func rolling(replicas int32, surge, unavail string) *appsv1.Deployment {
	ms, mu := intstr.Parse(surge), intstr.Parse(unavail)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", Generation: 3},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &ms, MaxUnavailable: &mu}},
		},
	}
}

func recreate(replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}},
	}
}

// pod is one observed pod; kind is "ready" (placed, Running, Ready since
// t0), "unready" (placed, Running, not Ready), "pending" (not placed),
// "failed" or "deleting".
func pod(hash, name, kind string) ObservedPod {
	p := ObservedPod{Name: name, UID: types.UID("uid-" + name), TemplateHash: hash, Bound: true, Phase: corev1.PodRunning, Created: t0}
	switch kind {
	case "ready":
		p.Ready, p.ReadySince = true, t0
	case "unready":
	case "pending":
		p.Bound, p.Phase = false, corev1.PodPending
	case "failed":
		p.Phase = corev1.PodFailed
	case "deleting":
		p.Ready, p.ReadySince, p.Deleting = true, t0, true
	default:
		panic("unknown pod kind " + kind)
	}
	return p
}

// many is n pods of a hash and kind, named <hash>-<kind>-<i>.
func many(hash, kind string, n int) []ObservedPod {
	var out []ObservedPod
	for i := range n {
		out = append(out, pod(hash, hash+"-"+kind+"-"+string(rune('a'+i)), kind))
	}
	return out
}

func join(groups ...[]ObservedPod) []ObservedPod { return slices.Concat(groups...) }

func deletedNames(res Result) []string {
	var out []string
	for _, d := range res.Delete {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func TestResolveParams(t *testing.T) {
	tests := []struct {
		name               string
		d                  *appsv1.Deployment
		wantSurge, wantMax int
	}{
		{name: "25% of 3: surge rounds up to 1, unavailable rounds down to 0", d: rolling(3, "25%", "25%"), wantSurge: 1, wantMax: 0},
		{name: "25% of 4 is exactly 1 each", d: rolling(4, "25%", "25%"), wantSurge: 1, wantMax: 1},
		{name: "25% of 10: surge 3 (2.5 up), unavailable 2 (2.5 down)", d: rolling(10, "25%", "25%"), wantSurge: 3, wantMax: 2},
		{name: "both zero means one may be unavailable", d: rolling(3, "0", "0"), wantSurge: 0, wantMax: 1},
		{name: "absolute values", d: rolling(10, "3", "2"), wantSurge: 3, wantMax: 2},
		{name: "maxUnavailable above replicas is all replicas", d: rolling(2, "0", "5"), wantSurge: 0, wantMax: 2},
		{name: "Recreate: no surge, all unavailable", d: recreate(4), wantSurge: 0, wantMax: 4},
		{name: "defaults when rollingUpdate is unset", d: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](8)}}, wantSurge: 2, wantMax: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ResolveParams(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxSurge != tt.wantSurge || p.MaxUnavailable != tt.wantMax {
				t.Fatalf("maxSurge %d maxUnavailable %d, want %d %d", p.MaxSurge, p.MaxUnavailable, tt.wantSurge, tt.wantMax)
			}
		})
	}
}

func TestResolveParamsRefusesBadPercent(t *testing.T) {
	d := rolling(3, "x%", "25%")
	if _, err := SyncDeployment(Input{Deployment: d, TemplateHash: "new", Now: t0}); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v, want ErrInvalidSpec", err)
	}
}

func TestSyncDeployment(t *testing.T) {
	tests := []struct {
		name        string
		d           *appsv1.Deployment
		pods        []ObservedPod
		wantCreate  []string
		wantDelete  []string // sorted names
		wantReason  string   // Progressing condition's reason, if checked
		wantUpdated int32
	}{
		{
			name: "new Deployment creates replicas pods of the new ReplicaSet", d: rolling(3, "25%", "25%"),
			wantCreate: []string{"web-new-0", "web-new-1", "web-new-2"}, wantReason: "ReplicaSetUpdated",
		},
		{
			name: "steady state: NewReplicaSetAvailable and nothing to do", d: rolling(3, "25%", "25%"),
			pods: many("new", "ready", 3), wantReason: "NewReplicaSetAvailable", wantUpdated: 3,
		},
		{
			name: "rollout with maxUnavailable 0 surges one pod and removes none", d: rolling(3, "25%", "25%"),
			pods: many("old", "ready", 3), wantCreate: []string{"web-new-0"},
		},
		{
			name: "rollout with maxUnavailable 1 surges one and scales one old pod down", d: rolling(4, "25%", "25%"),
			pods: many("old", "ready", 4), wantCreate: []string{"web-new-0"}, wantDelete: []string{"old-ready-a"},
		},
		{
			name: "an available new pod lets one old pod go", d: rolling(3, "25%", "25%"),
			pods: join(many("old", "ready", 3), many("new", "ready", 1)), wantDelete: []string{"old-ready-a"}, wantUpdated: 1,
		},
		{
			name: "an unready new pod holds every old pod", d: rolling(3, "25%", "25%"),
			pods: join(many("old", "ready", 3), many("new", "unready", 1)), wantUpdated: 1,
		},
		{
			// cleanupUnhealthyReplicas: with maxUnavailable 0 no available
			// pod may go, but the unready old pod costs nothing.
			name: "unready old pods are scaled down first, ready ones kept", d: rolling(3, "1", "0"),
			pods:       join(many("old", "ready", 3), many("old", "unready", 1)),
			wantDelete: []string{"old-unready-a"},
		},
		{
			name: "unplaced old pods go before placed unready ones", d: rolling(3, "1", "0"),
			pods:       join(many("old", "ready", 2), many("old", "unready", 1), many("old", "pending", 1)),
			wantDelete: []string{"old-pending-a"},
		},
		{
			name: "surge is not exceeded: no pod is made while old pods fill replicas+maxSurge", d: rolling(3, "1", "0"),
			pods: join(many("old", "ready", 3), many("new", "unready", 1)), wantUpdated: 1,
		},
		{
			name: "terminating pods do not count toward maxSurge", d: rolling(2, "1", "0"),
			pods:       join(many("old", "deleting", 1), many("old", "ready", 1), []ObservedPod{pod("new", "web-new-0", "ready")}),
			wantCreate: []string{"web-new-1"}, wantUpdated: 1,
		},
		{
			name: "a failed pod is replaced, as a ReplicaSet replaces it", d: rolling(2, "25%", "25%"),
			pods:       []ObservedPod{pod("new", "web-new-0", "failed"), pod("new", "web-new-1", "ready")},
			wantCreate: []string{"web-new-2"}, wantDelete: []string{"web-new-0"}, wantUpdated: 1,
		},
		{
			name: "scaling down removes surplus new pods, unready first", d: rolling(1, "25%", "25%"),
			pods:       join(many("new", "ready", 2), many("new", "unready", 1)),
			wantDelete: []string{"new-ready-a", "new-unready-a"}, wantUpdated: 1, wantReason: "NewReplicaSetAvailable",
		},
		{
			name: "Recreate removes every old pod before making new ones", d: recreate(2),
			pods: many("old", "ready", 2), wantDelete: []string{"old-ready-a", "old-ready-b"},
		},
		{
			name: "Recreate waits for terminating old pods", d: recreate(2),
			pods: many("old", "deleting", 2),
		},
		{
			name: "Recreate makes the new pods once the old are gone", d: recreate(2),
			wantCreate: []string{"web-new-0", "web-new-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := SyncDeployment(Input{Deployment: tt.d, TemplateHash: "new", Pods: tt.pods, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Create, tt.wantCreate) {
				t.Errorf("create %v, want %v", res.Create, tt.wantCreate)
			}
			if got := deletedNames(res); !slices.Equal(got, tt.wantDelete) {
				t.Errorf("delete %v, want %v", got, tt.wantDelete)
			}
			if res.State.Status.UpdatedReplicas != tt.wantUpdated {
				t.Errorf("updatedReplicas %d, want %d", res.State.Status.UpdatedReplicas, tt.wantUpdated)
			}
			if tt.wantReason != "" {
				c := FindCondition(res.State.Status.Conditions, appsv1.DeploymentProgressing)
				if c == nil || c.Reason != tt.wantReason {
					t.Errorf("Progressing %+v, want reason %s", c, tt.wantReason)
				}
			}
		})
	}
}

// TestScaleDownOrder checks the order old pods go in, in Kubernetes'
// terms (controller.ActivePods), with availability first.
func TestScaleDownOrder(t *testing.T) {
	readyAt := func(p ObservedPod, at time.Time) ObservedPod { p.ReadySince = at; return p }
	createdAt := func(p ObservedPod, at time.Time) ObservedPod { p.Created = at; return p }
	restarts := func(p ObservedPod, n int32) ObservedPod { p.Restarts = n; return p }
	tests := []struct {
		name     string
		minReady time.Duration
		pods     []ObservedPod
		want     []string
	}{
		{name: "not ready before ready", pods: []ObservedPod{pod("o", "r", "ready"), pod("o", "u", "unready")}, want: []string{"u", "r"}},
		{name: "unplaced before placed", pods: []ObservedPod{pod("o", "u", "unready"), pod("o", "p", "pending")}, want: []string{"p", "u"}},
		{
			name: "ready but not yet minReadySeconds before available", minReady: time.Minute,
			pods: []ObservedPod{pod("o", "long", "ready"), readyAt(pod("o", "fresh", "ready"), t0.Add(50*time.Second))},
			want: []string{"fresh", "long"},
		},
		{
			name: "ready more recently before ready longer",
			pods: []ObservedPod{readyAt(pod("o", "older", "ready"), t0.Add(-time.Hour)), pod("o", "newer", "ready")},
			want: []string{"newer", "older"},
		},
		{
			name: "more restarts before fewer",
			pods: []ObservedPod{pod("o", "calm", "ready"), restarts(pod("o", "crashy", "ready"), 4)},
			want: []string{"crashy", "calm"},
		},
		{
			name: "newer before older when all else is equal",
			pods: []ObservedPod{createdAt(pod("o", "first", "ready"), t0.Add(-time.Hour)), pod("o", "second", "ready")},
			want: []string{"second", "first"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []*ObservedPod
			for i := range tt.pods {
				ps = append(ps, &tt.pods[i])
			}
			scaleDownOrder(ps, tt.minReady, t0.Add(time.Minute))
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProgressAndConditions follows one Deployment through time with a
// fake clock: minReadySeconds, the progress deadline, the events and when
// to look again.
func TestProgressAndConditions(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	d := rolling(1, "1", "0")
	d.Spec.MinReadySeconds = 10
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)

	// A new pod, Ready now but not yet for minReadySeconds.
	p := pod("new", "web-new-0", "ready")
	p.ReadySince = clk.Now()
	old := pod("old", "o", "ready")
	old.ReadySince = t0.Add(-time.Hour)
	res, err := SyncDeployment(Input{Deployment: d, TemplateHash: "new", State: State{TemplateHash: "old"}, Pods: []ObservedPod{old, p}, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.State.Status; st.ReadyReplicas != 2 || st.AvailableReplicas != 1 || st.UpdatedReplicas != 1 || st.Replicas != 2 || st.ObservedGeneration != 3 {
		t.Fatalf("status %+v", st)
	}
	if len(res.Delete) != 0 {
		t.Fatalf("deleted %v before the new pod is available", res.Delete)
	}
	if !res.RequeueAt.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("requeue at %v, want when minReadySeconds passes", res.RequeueAt)
	}
	if len(res.Events) != 1 || res.Events[0].Reason != ReasonScalingReplicaSet {
		t.Fatalf("events %+v, want one ScalingReplicaSet", res.Events)
	}

	// minReadySeconds later the old pod may go.
	clk.Step(10 * time.Second)
	res, err = SyncDeployment(Input{Deployment: d, TemplateHash: "new", State: res.State, Pods: []ObservedPod{old, p}, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if got := deletedNames(res); !slices.Equal(got, []string{"o"}) {
		t.Fatalf("delete %v, want the old pod", got)
	}

	// Stuck: a new template whose pod never becomes ready. Progressing
	// turns False with ProgressDeadlineExceeded once, 60s after the last
	// progress.
	state := res.State
	stuck := []ObservedPod{p, pod("newer", "web-newer-0", "unready")}
	res, err = SyncDeployment(Input{Deployment: d, TemplateHash: "newer", State: state, Pods: stuck, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(60 * time.Second); !res.RequeueAt.Equal(want) {
		t.Fatalf("requeue at %v, want the deadline %v", res.RequeueAt, want)
	}
	clk.Step(60 * time.Second)
	res, err = SyncDeployment(Input{Deployment: d, TemplateHash: "newer", State: res.State, Pods: stuck, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := FindCondition(res.State.Status.Conditions, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonProgressDeadlineExceeded {
		t.Fatalf("Progressing %+v, want False/ProgressDeadlineExceeded", c)
	}
	if len(res.Events) != 1 || res.Events[0].Reason != ReasonProgressDeadlineExceeded || res.Events[0].Type != corev1.EventTypeWarning {
		t.Fatalf("events %+v, want one ProgressDeadlineExceeded warning", res.Events)
	}
	clk.Step(time.Second)
	again, err := SyncDeployment(Input{Deployment: d, TemplateHash: "newer", State: res.State, Pods: stuck, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Events) != 0 || again.Changed {
		t.Fatalf("a second sync past the deadline: events %+v changed %v, want none", again.Events, again.Changed)
	}
	if c2 := FindCondition(again.State.Status.Conditions, appsv1.DeploymentProgressing); !c2.LastTransitionTime.Equal(&c.LastTransitionTime) {
		t.Fatalf("transition time moved from %v to %v", c.LastTransitionTime, c2.LastTransitionTime)
	}
}
