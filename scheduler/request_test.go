package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The cases follow KEP-753's formula:
//
//	InitContainerUse(i) = Sum(sidecars with index < i) + InitContainer(i)
//	Max( Max(each InitContainerUse), Sum(sidecars) + Sum(containers) ) + overhead
func TestEffectiveRequest(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Resources
	}{
		{
			name: "app containers add up",
			pod:  mkPod("p", []corev1.Container{ctr("a", "500m", "1Gi"), ctr("b", "250m", "512Mi")}),
			want: Resources{MilliCPU: 750, Memory: mi(1536), Pods: 1},
		},
		{
			name: "no requests at all is zero but one pod slot",
			pod:  mkPod("p", []corev1.Container{ctr("a", "", "")}),
			want: Resources{Pods: 1},
		},
		{
			name: "largest init container wins over a smaller app sum",
			pod: mkPod("p", []corev1.Container{ctr("app", "1", "1Gi")},
				withInit(ctr("migrate", "2", "512Mi"), ctr("warm", "500m", "3Gi"))),
			want: Resources{MilliCPU: 2000, Memory: gi(3), Pods: 1},
		},
		{
			name: "each resource takes its own maximum",
			pod: mkPod("p", []corev1.Container{ctr("app", "3", "256Mi")},
				withInit(ctr("init", "1", "2Gi"))),
			want: Resources{MilliCPU: 3000, Memory: gi(2), Pods: 1},
		},
		{
			name: "sidecars run beside the app containers",
			pod: mkPod("p", []corev1.Container{ctr("app", "1", "1Gi")},
				withInit(sidecar(ctr("proxy", "200m", "128Mi")), sidecar(ctr("logs", "100m", "64Mi")))),
			want: Resources{MilliCPU: 1300, Memory: mi(1024 + 128 + 64), Pods: 1},
		},
		{
			name: "an init container after a sidecar runs beside it",
			pod: mkPod("p", []corev1.Container{ctr("app", "100m", "100Mi")},
				withInit(sidecar(ctr("proxy", "1", "1Gi")), ctr("migrate", "2", "2Gi"))),
			// migrate + proxy = 3 cpu, 3Gi beats proxy + app.
			want: Resources{MilliCPU: 3000, Memory: gi(3), Pods: 1},
		},
		{
			name: "an init container before the first sidecar does not count it",
			pod: mkPod("p", []corev1.Container{ctr("app", "100m", "100Mi")},
				withInit(ctr("migrate", "2", "2Gi"), sidecar(ctr("proxy", "1", "1Gi")))),
			// migrate alone = 2 cpu, 2Gi beats proxy + app = 1.1 cpu, 1.1Gi.
			want: Resources{MilliCPU: 2000, Memory: gi(2), Pods: 1},
		},
		{
			name: "KEP-753 interleaved sidecars and init containers",
			pod: mkPod("p", []corev1.Container{ctr("main", "1", "1Gi")},
				withInit(
					ctr("init-1", "3", "1Gi"),             // 3 cpu, alone
					sidecar(ctr("sidecar-1", "1", "2Gi")), // 1 cpu, 2Gi
					ctr("init-2", "2", "1Gi"),             // 2+1 = 3 cpu, 1+2 = 3Gi
					sidecar(ctr("sidecar-2", "1", "1Gi")), // 1+1 = 2 cpu, 3Gi
					ctr("init-3", "500m", "2Gi"),          // 0.5+2 = 2.5 cpu, 2+3 = 5Gi
				)),
			// apps + sidecars = 3 cpu, 4Gi; the inits peak at 3 cpu and 5Gi.
			want: Resources{MilliCPU: 3000, Memory: gi(5), Pods: 1},
		},
		{
			name: "a sidecar's own start counts the sidecars before it",
			pod: mkPod("p", nil,
				withInit(sidecar(ctr("a", "1", "1Gi")), sidecar(ctr("b", "1", "1Gi")))),
			want: Resources{MilliCPU: 2000, Memory: gi(2), Pods: 1},
		},
		{
			name: "limits stand in for missing requests",
			pod:  mkPod("p", []corev1.Container{limitsOnly("a", "2", "1Gi"), ctr("b", "100m", "")}),
			want: Resources{MilliCPU: 2100, Memory: gi(1), Pods: 1},
		},
		{
			name: "a request wins over its limit",
			pod: mkPod("p", []corev1.Container{{
				Name: "a",
				Resources: corev1.ResourceRequirements{
					Requests: resources("250m", "256Mi"),
					Limits:   resources("1", "1Gi"),
				},
			}}),
			want: Resources{MilliCPU: 250, Memory: mi(256), Pods: 1},
		},
		{
			name: "limits stand in for init containers too",
			pod:  mkPod("p", []corev1.Container{ctr("app", "100m", "64Mi")}, withInit(limitsOnly("init", "4", "4Gi"))),
			want: Resources{MilliCPU: 4000, Memory: gi(4), Pods: 1},
		},
		{
			name: "pod overhead is added on top",
			pod: mkPod("p", []corev1.Container{ctr("app", "1", "1Gi")}, func(p *corev1.Pod) {
				p.Spec.Overhead = resources("100m", "64Mi")
			}),
			want: Resources{MilliCPU: 1100, Memory: mi(1088), Pods: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EffectiveRequest(tt.pod); got != tt.want {
				t.Errorf("EffectiveRequest = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResourcesString(t *testing.T) {
	tests := []struct {
		name      string
		r         Resources
		want      string
		wantNeeds string
	}{
		{name: "all parts", r: Resources{MilliCPU: 250, Memory: mi(512), Pods: 1}, want: "cpu 250m, memory 512Mi, pods 1", wantNeeds: "512Mi more memory and 250m more cpu and a free pod slot"},
		{name: "whole cpus", r: Resources{MilliCPU: 2000}, want: "cpu 2", wantNeeds: "2 more cpu"},
		{name: "memory only", r: Resources{Memory: mi(512)}, want: "memory 512Mi", wantNeeds: "512Mi more memory"},
		{name: "nothing", r: Resources{}, want: "nothing", wantNeeds: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
			if got := tt.r.more(); got != tt.wantNeeds {
				t.Errorf("more = %q, want %q", got, tt.wantNeeds)
			}
			q := tt.r.Quantities()
			if cpu, mem := q[corev1.ResourceCPU], q[corev1.ResourceMemory]; cpu.MilliValue() != tt.r.MilliCPU || mem.Value() != tt.r.Memory {
				t.Errorf("Quantities = %v, want %+v", q, tt.r)
			}
		})
	}
}
