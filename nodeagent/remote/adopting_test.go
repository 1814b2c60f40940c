package remote

import (
	"testing"

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
			if len(got) != len(tc.want) {
				t.Fatalf("reported %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("reported %v, want %v", got, tc.want)
				}
			}
		})
	}
}
