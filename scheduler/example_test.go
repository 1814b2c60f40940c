package scheduler_test

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/scheduler"
)

func container(name, memory string) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)},
	}}
}

func node(name string, generation uint64, memory string) scheduler.Node {
	return scheduler.Node{
		Name: name, Generation: generation, Ready: true,
		Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse(memory),
		},
	}
}

// The reconciler's round: place the batch, verify the plan against the
// store's generations, commit it or place again.
func ExamplePlace() {
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{container("a", "1Gi"), container("b", "512Mi")}},
	}
	cache := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cache"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{container("redis", "4Gi")}},
	}
	cluster := scheduler.Cluster{Nodes: []scheduler.Node{node("node-a", 4, "1280Mi"), node("node-b", 9, "2Gi")}}

	plan, err := scheduler.Place([]*corev1.Pod{web, cache}, cluster, scheduler.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range plan.Bindings {
		fmt.Printf("bind %s/%s to %s at generation %d\n", b.Pod.Namespace, b.Pod.Name, b.Node, plan.NodeGenerations[b.Node])
	}
	for _, u := range plan.Unplaced {
		fmt.Printf("%s: %s (%s)\n", u.Pod.Name, u.Message, u.Needs())
	}

	// Meanwhile another commit bound a pod to node-b.
	current := map[string]uint64{"node-a": 4, "node-b": 10}
	err = plan.Verify(func(n string) (uint64, bool) { g, ok := current[n]; return g, ok })
	fmt.Println(errors.Is(err, scheduler.ErrStale), err)
	// Output:
	// bind default/web to node-b at generation 9
	// cache: 0/2 nodes are available: 2 Insufficient memory. (needs 2Gi more memory on node-b)
	// true stale plan: node node-b is at generation 10, the plan saw 9
}

// Admitting a Git revision: every pod it needs must fit next to what keeps
// running, or nothing is bound.
func ExamplePlace_allOrNothing() {
	var pods []*corev1.Pod
	for _, name := range []string{"api-0", "api-1", "api-2"} {
		pods = append(pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{container("api", "1Gi")}},
		})
	}
	cluster := scheduler.Cluster{Nodes: []scheduler.Node{node("node-a", 1, "2Gi")}}

	plan, err := scheduler.Place(pods, cluster, scheduler.Options{AllOrNothing: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("complete:", plan.Complete(), "bindings:", len(plan.Bindings))
	for _, u := range plan.Unplaced {
		fmt.Printf("%s %s: %s\n", u.Pod.Name, u.Cause, u.Message)
	}
	// Output:
	// complete: false bindings: 0
	// api-0 BatchRejected: the batch is all-or-nothing and 1 of its 3 pods cannot be placed
	// api-1 BatchRejected: the batch is all-or-nothing and 1 of its 3 pods cannot be placed
	// api-2 NoFit: 0/1 nodes are available: 1 Insufficient memory.
}
