// Package nodeagent is the node side of berth. Given the pods that should run
// on this node, it makes containerd match: a pause sandbox per pod in a CNI
// network namespace, init containers, sidecars and app containers joined to
// it, volumes, restarts, probes, logs and status. Every object it creates is
// labelled with its pod, so a restarted agent adopts what it finds and
// removes what nobody wants. It knows nothing of Git or scheduling.
package nodeagent
