package endpoints

import (
	"sort"
	"time"
)

// Drain is the bookkeeping that lets a rollout drop nothing: a pod that
// is to stop first leaves every Service's ready endpoints (its deletion is
// recorded, so ForService marks it not ready), the network state's version
// goes up, and only once every node confirmed a version at least that new
// may its containers get SIGTERM. Nodes confirm by version, so one
// confirmation covers every pod removed up to it.
//
// Deadline bounds the wait: a pod past its deadline is released whatever
// the nodes confirmed, so a node that stays Ready but never applies a
// version cannot hold a deletion forever.
type Drain struct {
	// Leaving maps a pod (namespace/name or UID: the caller's key) to the
	// first network version in which it is no longer a ready endpoint.
	Leaving map[string]uint64
	// Applied maps each node that must confirm (the Ready ones: a lost
	// node cannot send traffic the rollout cares about) to the newest
	// version it reported live; a node that confirmed nothing yet maps
	// to 0.
	Applied map[string]uint64
	// Deadline maps a pod to the time it is released at the latest; a pod
	// without one waits for the nodes only.
	Deadline map[string]time.Time
}

// Released returns, sorted, the pods every node has stopped sending to,
// or whose deadline passed at now: their containers may be stopped.
func (d Drain) Released(now time.Time) []string {
	var out []string
	for pod, v := range d.Leaving {
		if d.confirmed(v) || d.expired(pod, now) {
			out = append(out, pod)
		}
	}
	sort.Strings(out)
	return out
}

// Waiting returns, sorted, the nodes a pod still waits for.
func (d Drain) Waiting(pod string) []string {
	v, ok := d.Leaving[pod]
	if !ok {
		return nil
	}
	var out []string
	for node, applied := range d.Applied {
		if applied < v {
			out = append(out, node)
		}
	}
	sort.Strings(out)
	return out
}

// Next returns the earliest deadline of a pod not released at now (the
// time to look again without a new confirmation), or the zero time.
func (d Drain) Next(now time.Time) time.Time {
	var next time.Time
	for pod, v := range d.Leaving {
		dl, ok := d.Deadline[pod]
		if !ok || d.confirmed(v) || !now.Before(dl) {
			continue
		}
		if next.IsZero() || dl.Before(next) {
			next = dl
		}
	}
	return next
}

func (d Drain) expired(pod string, now time.Time) bool {
	dl, ok := d.Deadline[pod]
	return ok && !now.Before(dl)
}

func (d Drain) confirmed(v uint64) bool {
	for _, applied := range d.Applied {
		if applied < v {
			return false
		}
	}
	return true
}
