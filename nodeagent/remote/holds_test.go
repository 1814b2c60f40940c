package remote

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A pod the restarted agent is still adopting has no phase yet: it is not
// reported (Pending would turn a running or finished pod back for the
// server), and, held, it is not reported Gone either.
func TestStatusReportHoldsAdoptingPods(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)}, Status: corev1.PodStatus{Phase: phase}}
	}
	tests := []struct {
		name     string
		pods     []corev1.Pod
		deleting bool // the server deletes "adopting"
		want     []string
	}{
		{name: "adopting is held, not reported", pods: []corev1.Pod{pod("adopting", ""), pod("running", corev1.PodRunning)}, want: []string{"running"}},
		{name: "a deleting pod being adopted is not Gone", pods: []corev1.Pod{pod("adopting", "")}, deleting: true, want: nil},
		{name: "known phases are reported", pods: []corev1.Pod{pod("done", corev1.PodSucceeded), pod("new", corev1.PodPending)}, want: []string{"done", "new"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &Link{deleting: map[string]podRef{}, dropped: map[string]bool{}}
			if tc.deleting {
				l.deleting[string(tc.pods[0].UID)] = podRef{namespace: "default", name: "adopting"}
			}
			var got []string
			for _, p := range l.statusReport(tc.pods).Pods {
				if p.Gone {
					t.Errorf("%s reported Gone while the agent holds it", p.Name)
				}
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("reported %v, want %v", got, tc.want)
			}
		})
	}
}

// What a cut-off node keeps and what it fences: the server never moves a
// DaemonSet pod or a pod whose claim is on the node, and a finished pod
// has nothing running; every other pod is fenced.
func TestFenceable(t *testing.T) {
	pod := func(name string, mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	daemon := func(p *corev1.Pod) { p.Labels = map[string]string{api.LabelOwnerKind: "DaemonSet"} }
	claim := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}}
	}
	scratch := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		finished bool
		kept     bool
	}{
		{name: "a Deployment's pod is fenced", pod: pod("web", nil)},
		{name: "an emptyDir does not pin a pod", pod: pod("cache", scratch)},
		{name: "a DaemonSet pod is kept", pod: pod("agentd", daemon), kept: true},
		{name: "a pod with a claim is kept", pod: pod("db-0", claim), kept: true},
		{name: "a finished pod is kept", pod: pod("job-1", nil), finished: true, kept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept, fenced := fenceable([]*corev1.Pod{tc.pod}, map[string]bool{string(tc.pod.UID): tc.finished})
			if got := len(kept) == 1 && len(fenced) == 0; got != tc.kept || len(kept)+len(fenced) != 1 {
				t.Fatalf("kept %d, fenced %d; want kept %t", len(kept), len(fenced), tc.kept)
			}
		})
	}
}
