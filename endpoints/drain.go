package endpoints

import "sort"

// Drain is the bookkeeping that lets a rollout drop nothing: a pod that
// is to stop first leaves every Service's ready endpoints (its deletion is
// recorded, so ForService marks it not ready), the network state's version
// goes up, and only once every node confirmed a version at least that new
// may its containers get SIGTERM. Nodes confirm by version, so one
// confirmation covers every pod removed up to it.
type Drain struct {
	// Leaving maps a pod (namespace/name or UID: the caller's key) to the
	// first network version in which it is no longer a ready endpoint.
	Leaving map[string]uint64
	// Applied maps each node that must confirm (the Ready ones: a lost
	// node cannot send traffic the rollout cares about) to the newest
	// version it reported live.
	Applied map[string]uint64
}

// Released returns, sorted, the pods every node has stopped sending to:
// their containers may be stopped now.
func (d Drain) Released() []string {
	var out []string
	for pod, v := range d.Leaving {
		if d.confirmed(v) {
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

func (d Drain) confirmed(v uint64) bool {
	for _, applied := range d.Applied {
		if applied < v {
			return false
		}
	}
	return true
}
