package reconciler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// Sizes of what nodes may write, after those of Kubernetes: an event's
// message is at most events.k8s.io's NoteLengthLimit (1 KiB), a
// container's state message at most the kubelet's termination message
// limit (4 KiB), reasons are short CamelCase words. A node's status
// report, bounded field by field, may still not exceed MaxNodeStatusBytes
// in all.
const (
	MaxEventMessage    = 1024
	MaxStatusMessage   = 4096
	MaxReason          = 128
	maxNameField       = 253
	maxImageField      = 1024
	maxConditions      = 32
	maxPodIPs          = 2
	MaxNodeStatusBytes = 1 << 20
	// A status report's fences: the agent keeps at most 8 unreported; a
	// fence names at most MaxFencedPods pods (a node's pod capacity is
	// 110 by default), its node event the first maxFenceEventNames.
	maxFences          = 8
	MaxFencedPods      = 1024
	maxFenceEventNames = 10
	// maxFenceIDs is how many fence IDs a node record remembers: more
	// than a report can carry (maxFences), so a fence resent with the
	// next report is always known.
	maxFenceIDs = 4 * maxFences
)

// ReasonFenced is the reason of the events of a fence: a node that lost
// the server for its lease stopped the pods the server would move.
const ReasonFenced = "Fenced"

// boundFences keeps the newest maxFences of a report's fences, each with at
// most MaxFencedPods pods; an ID longer than api.MaxFenceIDBytes is
// dropped (the fence is then recorded as one without).
func boundFences(fences []api.Fence) []api.Fence {
	if len(fences) > maxFences {
		fences = fences[len(fences)-maxFences:]
	}
	out := make([]api.Fence, len(fences))
	for i, f := range fences {
		if len(f.Pods) > MaxFencedPods {
			f.Pods = f.Pods[:MaxFencedPods]
		}
		if len(f.ID) > api.MaxFenceIDBytes {
			f.ID = ""
		}
		out[i] = f
	}
	return out
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// A rune cut in half becomes invalid bytes, which are dropped.
	return strings.ToValidUTF8(s[:n], "")
}

// boundEvent truncates an event's text fields; with MaxEvents it bounds
// the events store by bytes as well as by count.
func boundEvent(e *api.Event) {
	e.Message = truncate(e.Message, MaxEventMessage)
	e.Reason = truncate(e.Reason, MaxReason)
	e.Type = truncate(e.Type, MaxReason)
	e.Kind = truncate(e.Kind, MaxReason)
	e.Namespace = truncate(e.Namespace, maxNameField)
	e.Name = truncate(e.Name, maxNameField)
}

// boundPodStatus truncates what a node reported for a pod to the sizes
// above, and keeps statuses only of containers the pod has.
func boundPodStatus(spec *corev1.PodSpec, st *corev1.PodStatus) {
	st.Message = truncate(st.Message, MaxStatusMessage)
	st.Reason = truncate(st.Reason, MaxReason)
	st.NominatedNodeName = truncate(st.NominatedNodeName, maxNameField)
	st.HostIP = truncate(st.HostIP, 64)
	st.PodIP = truncate(st.PodIP, 64)
	if len(st.PodIPs) > maxPodIPs {
		st.PodIPs = st.PodIPs[:maxPodIPs]
	}
	if len(st.HostIPs) > maxPodIPs {
		st.HostIPs = st.HostIPs[:maxPodIPs]
	}
	if len(st.Conditions) > maxConditions {
		st.Conditions = st.Conditions[:maxConditions]
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type = corev1.PodConditionType(truncate(string(c.Type), maxNameField))
		c.Reason, c.Message = truncate(c.Reason, MaxReason), truncate(c.Message, MaxStatusMessage)
	}
	names := map[string]bool{}
	for _, c := range spec.InitContainers {
		names[c.Name] = true
	}
	for _, c := range spec.Containers {
		names[c.Name] = true
	}
	st.InitContainerStatuses = boundContainerStatuses(st.InitContainerStatuses, names)
	st.ContainerStatuses = boundContainerStatuses(st.ContainerStatuses, names)
	st.EphemeralContainerStatuses = nil
	st.ResourceClaimStatuses = nil
}

func boundContainerStatuses(list []corev1.ContainerStatus, names map[string]bool) []corev1.ContainerStatus {
	out := list[:0]
	seen := map[string]bool{}
	for _, cs := range list {
		if !names[cs.Name] || seen[cs.Name] {
			continue
		}
		seen[cs.Name] = true
		cs.Image, cs.ImageID = truncate(cs.Image, maxImageField), truncate(cs.ImageID, maxImageField)
		cs.ContainerID = truncate(cs.ContainerID, maxImageField)
		boundState(&cs.State)
		boundState(&cs.LastTerminationState)
		cs.VolumeMounts, cs.AllocatedResourcesStatus, cs.User = nil, nil, nil
		out = append(out, cs)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func boundState(s *corev1.ContainerState) {
	if w := s.Waiting; w != nil {
		w.Reason, w.Message = truncate(w.Reason, MaxReason), truncate(w.Message, MaxStatusMessage)
	}
	if t := s.Terminated; t != nil {
		t.Reason, t.Message = truncate(t.Reason, MaxReason), truncate(t.Message, MaxStatusMessage)
		t.ContainerID = truncate(t.ContainerID, maxImageField)
	}
}
