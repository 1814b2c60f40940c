package scheduler

import (
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// FuzzPlace feeds what a user writes in Git (gang annotations, request
// quantities) to Place: it must never fail or panic on it, never bind a pod
// where it does not fit, and never bind part of a gang.
func FuzzPlace(f *testing.F) {
	f.Add("train", "2", "500m", "1Gi", uint8(3))
	f.Add("train", "", "1", "3Gi", uint8(2))
	f.Add("", "2", "1", "1Gi", uint8(1))
	f.Add("x", "-1", "-1", "-1Gi", uint8(4))
	f.Add("x", "99999999999999999999", "1e3", "1Ei", uint8(2))
	f.Add("x", " 2", "0.0001", "0", uint8(5))
	f.Fuzz(func(t *testing.T, gang, gangMin, cpu, mem string, n uint8) {
		cq, err1 := resource.ParseQuantity(cpu)
		mq, err2 := resource.ParseQuantity(mem)
		if err1 != nil || err2 != nil {
			t.Skip("not a quantity")
		}
		var pods []*corev1.Pod
		for i := range int(n%6) + 1 {
			p := mkPod(fmt.Sprint("p", i), []corev1.Container{{
				Name:      "app",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: cq, corev1.ResourceMemory: mq}},
			}})
			if i%2 == 0 {
				p.Annotations = map[string]string{AnnotationGang: gang, AnnotationGangMin: gangMin}
			}
			pods = append(pods, p)
		}
		in := input{pods: pods, cluster: Cluster{Nodes: []Node{mkNode("a", "2", "4Gi"), mkNode("b", "1", "2Gi")}}}
		plan, err := Place(in.pods, in.cluster, Options{})
		if err != nil {
			t.Fatalf("Place: %v", err)
		}
		on := final(in, plan)
		bound := 0
		for _, b := range plan.Bindings {
			node, _ := nodeNamed(in, b.Node)
			if !refFits(b.Pod, node, without(on[b.Node], b.Pod)) {
				t.Fatalf("%s bound to %s where it does not fit", b.Pod.Name, b.Node)
			}
			if b.Pod.Annotations[AnnotationGang] != "" {
				bound++
			}
		}
		if m, err := strconv.Atoi(gangMin); bound > 0 && err == nil && bound < m {
			t.Fatalf("gang %q bound %d of minimum %d", gang, bound, m)
		}
		if len(plan.Bindings)+len(plan.Unplaced) != len(pods) {
			t.Fatalf("%d bound + %d unplaced != %d pods", len(plan.Bindings), len(plan.Unplaced), len(pods))
		}
	})
}
