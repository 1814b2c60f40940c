package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Reason names why a node rejected a pod. The text is kube-scheduler's, so
// messages read the same as they do in Kubernetes.
type Reason string

// Every filter's rejection reason.
const (
	ReasonNotReady           Reason = "node(s) were not ready"
	ReasonUnschedulable      Reason = "node(s) were unschedulable"
	ReasonNodeName           Reason = "node(s) didn't match the requested node name"
	ReasonTaint              Reason = "node(s) had untolerated taint"
	ReasonNodeSelector       Reason = "node(s) didn't match Pod's node selector"
	ReasonHostPorts          Reason = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods        Reason = "Too many pods"
	ReasonInsufficientCPU    Reason = "Insufficient cpu"
	ReasonInsufficientMemory Reason = "Insufficient memory"
	ReasonVolumeNodeAffinity Reason = "node(s) had volume node affinity conflict"
	ReasonNotEnoughStorage   Reason = "node(s) did not have enough free storage"
)

// reasons is a set of Reasons as bits, so the hot loop passes a word
// around instead of strings; the resource filter can set several at once.
type reasons uint16

const (
	rNotReady reasons = 1 << iota
	rUnschedulable
	rNodeName
	rTaint
	rNodeSelector
	rHostPorts
	rTooManyPods
	rInsufficientCPU
	rInsufficientMemory
	rVolumeNode
	rStorage
)

// reasonText is indexed by bit position.
var reasonText = [...]Reason{
	ReasonNotReady, ReasonUnschedulable, ReasonNodeName, ReasonTaint, ReasonNodeSelector,
	ReasonHostPorts, ReasonTooManyPods, ReasonInsufficientCPU, ReasonInsufficientMemory,
	ReasonVolumeNodeAffinity, ReasonNotEnoughStorage,
}

// fitMessage is kube-scheduler's FitError text: "0/3 nodes are available:
// 2 Insufficient memory, 1 node(s) didn't match Pod's node selector." The
// histogram is keyed by the text of each reason (a taint reason carries the
// taint); the largest count comes first, ties in text order.
func fitMessage(nodes int, hist map[string]int) string {
	type entry struct {
		text  string
		count int
	}
	entries := make([]entry, 0, len(hist))
	for t, c := range hist {
		entries = append(entries, entry{t, c})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].count != entries[j].count {
			return entries[i].count > entries[j].count
		}
		return entries[i].text < entries[j].text
	})
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available", nodes)
	for i, e := range entries {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", e.count, e.text)
	}
	b.WriteString(".")
	return b.String()
}
