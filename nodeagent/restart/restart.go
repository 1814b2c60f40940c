package restart

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// Kind is the role a container plays in its pod's lifecycle; it decides
// how the restart policy applies to it.
type Kind int

const (
	// KindUnspecified is the zero value; callers that receive it take the
	// kind from the pod spec (see KindOf).
	KindUnspecified Kind = iota
	// KindInit is a regular init container: it runs once to success, in
	// order, before anything after it starts.
	KindInit
	// KindSidecar is a native sidecar: an init container with
	// restartPolicy Always. It starts in init order, keeps running beside
	// the app containers and is restarted whenever it exits.
	KindSidecar
	// KindApp is an entry of spec.containers.
	KindApp
)

func (k Kind) String() string {
	switch k {
	case KindInit:
		return "init"
	case KindSidecar:
		return "sidecar"
	case KindApp:
		return "app"
	default:
		return "unspecified"
	}
}

// KindOf returns the kind of the container called name in spec, and false
// when spec has no such container.
func KindOf(spec *corev1.PodSpec, name string) (Kind, bool) {
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == name {
			if manifest.IsSidecar(&spec.InitContainers[i]) {
				return KindSidecar, true
			}
			return KindInit, true
		}
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return KindApp, true
		}
	}
	return KindUnspecified, false
}

// EffectivePolicy is the pod restart policy with the API server's default
// (Always) applied, so a spec read straight from a file behaves as it would
// in Kubernetes.
func EffectivePolicy(p corev1.RestartPolicy) corev1.RestartPolicy {
	if p == "" {
		return corev1.RestartPolicyAlways
	}
	return p
}

// ShouldRestart reports whether a container of the given kind that exited
// with exitCode is started again under the pod's restart policy:
//
//	kind     Always        OnFailure     Never
//	sidecar  yes           yes           yes
//	init     on failure    on failure    no (the pod fails)
//	app      yes           on failure    no
//
// A pod being deleted or torn down restarts nothing; that is the caller's
// check, as it is the kubelet's (pod.DeletionTimestamp).
func ShouldRestart(policy corev1.RestartPolicy, kind Kind, exitCode int32) bool {
	policy = EffectivePolicy(policy)
	switch kind {
	case KindSidecar:
		return true
	case KindInit:
		return exitCode != 0 && policy != corev1.RestartPolicyNever
	default:
		switch policy {
		case corev1.RestartPolicyNever:
			return false
		case corev1.RestartPolicyOnFailure:
			return exitCode != 0
		default:
			return true
		}
	}
}

// RestartsOnLivenessFailure reports whether a running container killed
// for a failed liveness or startup probe is started again: the kubelet
// restarts it unless the pod's policy is Never (sidecars always restart).
func RestartsOnLivenessFailure(policy corev1.RestartPolicy, kind Kind) bool {
	return kind == KindSidecar || EffectivePolicy(policy) != corev1.RestartPolicyNever
}
