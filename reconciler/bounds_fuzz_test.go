package reconciler

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// FuzzRegisterDecode: any register body decodes and validates without a
// panic, and what validation accepts stays within its bounds.
func FuzzRegisterDecode(f *testing.F) {
	for _, seed := range []string{
		`{"name":"n1","capacity":{"cpu":"2"},"allocatable":{"cpu":"1"},"address":"127.0.0.1:1"}`,
		`{"name":"n1","capacity":{"cpu":"9223372036854775807"}}`,
		`{"name":"n1","taints":[{"key":"k","effect":"Bogus"}]}`,
		`{"name":"n1","address":"http://x:1/p"}`,
		`{"name":"n1","labels":{"kubernetes.io/hostname":"n2"}}`,
		`{"name":"n1","capacity":{"memory":"1e400"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req api.RegisterRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		if validateRegister(&req) != "" {
			return
		}
		for name, q := range req.Allocatable {
			if c := req.Capacity[name]; q.Cmp(c) > 0 {
				t.Fatalf("accepted allocatable %s=%s over capacity %s", name, q.String(), c.String())
			}
		}
		for _, tn := range req.Taints {
			if tn.Effect != corev1.TaintEffectNoSchedule && tn.Effect != corev1.TaintEffectPreferNoSchedule && tn.Effect != corev1.TaintEffectNoExecute {
				t.Fatalf("accepted taint effect %q", tn.Effect)
			}
		}
	})
}

// FuzzStatusDecode: any reported status, once bounded, holds no text
// field over its size and only the pod's containers.
func FuzzStatusDecode(f *testing.F) {
	for _, seed := range []string{
		`{"phase":"Running","containerStatuses":[{"name":"c","state":{"running":{}}}]}`,
		`{"message":"x","containerStatuses":[{"name":"ghost"},{"name":"c"},{"name":"c"}]}`,
		`{"conditions":[{"type":"Ready","status":"True","message":"é"}]}`,
	} {
		f.Add(seed)
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}
	f.Fuzz(func(t *testing.T, body string) {
		var st corev1.PodStatus
		if json.Unmarshal([]byte(body), &st) != nil {
			return
		}
		boundPodStatus(&spec, &st)
		if len(st.Message) > MaxStatusMessage || len(st.Reason) > MaxReason || len(st.Conditions) > maxConditions {
			t.Fatalf("unbounded status: message %d, reason %d, conditions %d", len(st.Message), len(st.Reason), len(st.Conditions))
		}
		if len(st.ContainerStatuses) > 1 || len(st.InitContainerStatuses) > 1 {
			t.Fatalf("statuses of containers the pod does not have: %d", len(st.ContainerStatuses))
		}
		if _, err := json.Marshal(&st); err != nil {
			t.Fatal(err)
		}
	})
}
