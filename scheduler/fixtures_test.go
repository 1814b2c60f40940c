package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Builders for test pods and nodes. Quantities are strings as in YAML;
// "" leaves the resource unset.

func resources(cpu, mem string) corev1.ResourceList {
	l := corev1.ResourceList{}
	if cpu != "" {
		l[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		l[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return l
}

// ctr is an app container requesting cpu and memory.
func ctr(name, cpu, mem string) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Requests: resources(cpu, mem)}}
}

// limitsOnly is a container that sets limits and no requests.
func limitsOnly(name, cpu, mem string) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Limits: resources(cpu, mem)}}
}

// sidecar turns a container into a native sidecar (an init container that
// keeps running).
func sidecar(c corev1.Container) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

type podOpt func(*corev1.Pod)

func withInit(cs ...corev1.Container) podOpt {
	return func(p *corev1.Pod) { p.Spec.InitContainers = append(p.Spec.InitContainers, cs...) }
}

func withSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func withToleration(t corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func withHostPort(port int32, proto corev1.Protocol) podOpt {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto})
	}
}

func withGang(name, min string) podOpt {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		if name != "" {
			p.Annotations[AnnotationGang] = name
		}
		if min != "" {
			p.Annotations[AnnotationGangMin] = min
		}
	}
}

func withNodeName(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

// mkPod makes pod "ns/name" (or "name" in default) with the containers.
func mkPod(key string, containers []corev1.Container, opts ...podOpt) *corev1.Pod {
	ns, name := "default", key
	if i := strings.IndexByte(key, '/'); i >= 0 {
		ns, name = key[:i], key[i+1:]
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Containers: containers},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// one is a pod with a single container of the given size.
func one(key, cpu, mem string, opts ...podOpt) *corev1.Pod {
	return mkPod(key, []corev1.Container{ctr("app", cpu, mem)}, opts...)
}

type nodeOpt func(*Node)

func withLabels(kv ...string) nodeOpt {
	return func(n *Node) {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *Node) { n.Taints = append(n.Taints, corev1.Taint{Key: key, Value: value, Effect: effect}) }
}

func withMaxPods(n int64) nodeOpt {
	return func(node *Node) { node.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(n, resource.DecimalSI) }
}

func notReady(n *Node) { n.Ready = false }
func cordoned(n *Node) { n.Unschedulable = true }
func generation(g uint64) nodeOpt {
	return func(n *Node) { n.Generation = g }
}

func mkNode(name, cpu, mem string, opts ...nodeOpt) Node {
	n := Node{Name: name, Ready: true, Allocatable: resources(cpu, mem)}
	for _, o := range opts {
		o(&n)
	}
	return n
}

// boundOn makes a bound pod of the given size on node.
func boundOn(node, key, cpu, mem string, opts ...podOpt) Bound {
	return Bound{Pod: one(key, cpu, mem, opts...), Node: node}
}

// placedOn maps pod name to node name.
func placedOn(p *Plan) map[string]string {
	m := map[string]string{}
	for _, b := range p.Bindings {
		m[b.Pod.Name] = b.Node
	}
	return m
}

func unplacedByName(p *Plan) map[string]Unplaced {
	m := map[string]Unplaced{}
	for _, u := range p.Unplaced {
		m[u.Pod.Name] = u
	}
	return m
}

func mi(n int64) int64 { return n << 20 }
func gi(n int64) int64 { return n << 30 }
