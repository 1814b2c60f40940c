package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Labels on every containerd object the agent makes. With them a restarted
// agent rebuilds its whole view from containerd, as the kubelet does from
// its runtime's labels, and needs no checkpoint of its own.
const (
	labelPrefix     = "berth.dev/"
	LabelPodUID     = labelPrefix + "pod-uid"
	LabelPodName    = labelPrefix + "pod-name"
	LabelPodNS      = labelPrefix + "pod-namespace"
	LabelRole       = labelPrefix + "role" // "sandbox" or "container"
	LabelContainer  = labelPrefix + "container"
	LabelKind       = labelPrefix + "container-kind" // "init", "sidecar" or "app"
	LabelAttempt    = labelPrefix + "attempt"
	LabelSpecHash   = labelPrefix + "spec-hash"
	LabelNetNS      = labelPrefix + "netns"
	LabelIP         = labelPrefix + "ip"
	LabelGrace      = labelPrefix + "grace-seconds"
	LabelExitCode   = labelPrefix + "exit-code"
	LabelReason     = labelPrefix + "reason"
	LabelStartedAt  = labelPrefix + "started-at"
	LabelFinishedAt = labelPrefix + "finished-at"

	roleSandbox   = "sandbox"
	roleContainer = "container"

	// annotationSandboxID makes the runc v2 shim serve every container of
	// a pod from the pause container's shim: one shim process per pod.
	annotationSandboxID = "io.kubernetes.cri.sandbox-id"
)

// sandboxID is the pause container's ID, derived from the pod UID so the
// agent can find a pod's objects again after any crash.
func sandboxID(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return "p" + hex.EncodeToString(sum[:8])
}

// containerID names one attempt of one container of a pod. containerd
// limits IDs to 76 characters; long container names are shortened with a
// hash so two names never collide.
func containerID(uid, name string, attempt int) string {
	n := name
	if len(n) > 40 {
		sum := sha256.Sum256([]byte(name))
		n = n[:31] + "-" + hex.EncodeToString(sum[:4])
	}
	return sandboxID(uid) + "-" + n + "-" + strconv.Itoa(attempt)
}

// specHash fingerprints a container spec; a container whose running
// instance carries another hash was started from another spec.
func specHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		LabelPodUID:  string(pod.UID),
		LabelPodName: pod.Name,
		LabelPodNS:   pod.Namespace,
	}
}

func podKey(pod *corev1.Pod) string { return fmt.Sprintf("%s/%s", pod.Namespace, pod.Name) }
