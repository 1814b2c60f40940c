// Package scheduler places pods on nodes. It is pure: no I/O, no clock, no
// global state. One call takes pending pods and a read-only view of the
// nodes and returns one plan in which every binding fits together with every
// other; pods it cannot place come back with the reasons, counted per node.
package scheduler
