package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func res(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func TestQOSClass(t *testing.T) {
	tests := []struct {
		name       string
		containers []corev1.ResourceRequirements
		init       []corev1.ResourceRequirements
		want       corev1.PodQOSClass
	}{
		{name: "nothing set", containers: []corev1.ResourceRequirements{{}}, want: corev1.PodQOSBestEffort},
		{
			name:       "limits equal requests for cpu and memory",
			containers: []corev1.ResourceRequirements{{Requests: res("cpu", "100m", "memory", "64Mi"), Limits: res("cpu", "100m", "memory", "64Mi")}},
			want:       corev1.PodQOSGuaranteed,
		},
		{
			name:       "limits only count as requests after defaulting",
			containers: []corev1.ResourceRequirements{{Limits: res("cpu", "1", "memory", "1Gi")}},
			want:       corev1.PodQOSGuaranteed,
		},
		{
			name:       "request below limit",
			containers: []corev1.ResourceRequirements{{Requests: res("cpu", "100m", "memory", "64Mi"), Limits: res("cpu", "200m", "memory", "64Mi")}},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "memory limit only",
			containers: []corev1.ResourceRequirements{{Limits: res("memory", "64Mi")}},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "one guaranteed container and one best effort",
			containers: []corev1.ResourceRequirements{{Limits: res("cpu", "1", "memory", "1Gi")}, {}},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "init container without limits breaks guaranteed",
			containers: []corev1.ResourceRequirements{{Limits: res("cpu", "1", "memory", "1Gi")}},
			init:       []corev1.ResourceRequirements{{Requests: res("cpu", "1")}},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "other resources do not count",
			containers: []corev1.ResourceRequirements{{Requests: res("ephemeral-storage", "1Gi")}},
			want:       corev1.PodQOSBestEffort,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &corev1.PodSpec{}
			for _, r := range tt.containers {
				spec.Containers = append(spec.Containers, corev1.Container{Resources: r})
			}
			for _, r := range tt.init {
				spec.InitContainers = append(spec.InitContainers, corev1.Container{Resources: r})
			}
			if got := QOSClass(spec); got != tt.want {
				t.Errorf("QOSClass = %s, want %s", got, tt.want)
			}
		})
	}
}
