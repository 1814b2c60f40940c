package reconciler

import (
	"fmt"
	"time"
)

// syncNodes marks nodes NotReady when their heartbeats stop for the node
// timeout, and Ready again when they resume. It returns when the next node
// would time out, or the pods of a NotReady one move.
//
// Most passes change no node, and a read-write transaction costs a disk
// sync even when it writes nothing, so nodes are first checked read-only.
func (r *Reconciler) syncNodes(now time.Time) (time.Time, error) {
	stale := false
	var wake time.Time
	err := r.cfg.Store.View(func(tx ReadTx) error {
		nodes, err := tx.Nodes()
		r.forgetSightings(nodes)
		for _, n := range nodes {
			ready := r.nodeReady(n, now)
			stale = stale || ready != n.Ready
			wake = earliest(wake, r.nodeWake(n, ready, now))
			r.queueMove(n, ready, now)
		}
		return err
	})
	if err != nil || !stale {
		return wake, err
	}
	wake = time.Time{}
	err = r.cfg.Store.Update(func(tx Tx) error {
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			ready := r.nodeReady(n, now)
			wake = earliest(wake, r.nodeWake(n, ready, now))
			if ready == n.Ready {
				continue
			}
			n.Ready = ready
			if err := tx.PutNode(n); err != nil {
				return err
			}
			if ready {
				r.log.Info("node is ready", "node", n.Name)
				err = tx.AddEvent(event(now, "Normal", "NodeReady", "Node", "", n.Name, fmt.Sprintf("Node %s status is now: NodeReady", n.Name)))
			} else {
				r.log.Warn("node missed its heartbeats; its pods will move", "node", n.Name, "last", n.LastHeartbeat, "at", r.podsMoveAt(n, now))
				err = tx.AddEvent(event(now, "Warning", "NodeNotReady", "Node", "", n.Name, fmt.Sprintf("Node %s stopped posting heartbeats for %s", n.Name, r.cfg.NodeTimeout)))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wake, err
}

// queueMove makes the workload pass a full one when the pods of a
// NotReady node move: no record changes then, so the store's change log
// would wake no key.
func (r *Reconciler) queueMove(n *NodeRecord, ready bool, now time.Time) {
	if ready {
		return
	}
	if at := r.podsMoveAt(n, now); at.After(now) {
		if r.queue == nil {
			r.queue = newWorkQueue()
		}
		r.queue.addAt(fullKey, at)
	}
}

// A node's liveness is measured on this server's clock, never from the
// wall times in its record: a stored heartbeat is a wall-clock reading
// (JSON keeps no monotonic one), and comparing it with now would make a
// forward jump of the wall clock time out every node at once and move
// all their pods, and a backward one keep a dead node Ready for as long
// as the jump. With the real clock, the times compared here carry Go's
// monotonic reading, which no jump moves.
//
//   - With Config.Heartbeats, the last heartbeat this process received
//     counts (its receive time, on its clock).
//   - Otherwise, or before this process has received one, a node is
//     alive when this loop sees its stored heartbeat change, and at the
//     first sight of it: as Kubernetes' node lifecycle controller, a
//     restarted server gives every node a fresh timeout, so pods move no
//     earlier than the fencing rule allows, however the wall clock moved
//     while it was down. A node stored NotReady becomes Ready only on
//     evidence of a heartbeat, never by that first sight.

// sighting is when this loop saw a node's stored heartbeat take a value.
type sighting struct {
	stored time.Time // the record's LastHeartbeat then
	at     time.Time // this loop's clock then
	first  bool      // at is the first sight, not a change
}

// aliveAt is when the node was last known alive on this server's clock,
// and whether that rests on a heartbeat (else it is the first sight).
func (r *Reconciler) aliveAt(n *NodeRecord, now time.Time) (time.Time, bool) {
	if r.cfg.Heartbeats != nil {
		if t, ok := r.cfg.Heartbeats.LastHeartbeat(n.Name); ok {
			return t, true
		}
	}
	if r.sightings == nil {
		r.sightings = map[string]sighting{}
	}
	s, ok := r.sightings[n.Name]
	if !ok || !s.stored.Equal(n.LastHeartbeat) {
		s = sighting{stored: n.LastHeartbeat, at: now, first: !ok}
		r.sightings[n.Name] = s
	}
	return s.at, !s.first
}

// forgetSightings drops the sightings of nodes no longer registered.
func (r *Reconciler) forgetSightings(nodes []*NodeRecord) {
	if len(r.sightings) <= len(nodes) {
		return
	}
	live := map[string]bool{}
	for _, n := range nodes {
		live[n.Name] = true
	}
	for name := range r.sightings {
		if !live[name] {
			delete(r.sightings, name)
		}
	}
}

// nodeReady is whether the node has sent a heartbeat within the timeout.
func (r *Reconciler) nodeReady(n *NodeRecord, now time.Time) bool {
	at, beat := r.aliveAt(n, now)
	return (beat || n.Ready) && now.Sub(at) < r.cfg.NodeTimeout
}

// podsMoveAt is when the pods of a NotReady node move: FenceGrace after
// the node timeout, so that its agent, if it lives behind a partition, has
// stopped them first (package fencing).
func (r *Reconciler) podsMoveAt(n *NodeRecord, now time.Time) time.Time {
	at, _ := r.aliveAt(n, now)
	return at.Add(r.cfg.NodeTimeout + r.cfg.FenceGrace)
}

// nodeWake is when the node next needs a pass: when a Ready node times
// out, or when the pods of a NotReady one move (zero: neither is ahead).
func (r *Reconciler) nodeWake(n *NodeRecord, ready bool, now time.Time) time.Time {
	if ready {
		at, _ := r.aliveAt(n, now)
		return at.Add(r.cfg.NodeTimeout)
	}
	if at := r.podsMoveAt(n, now); at.After(now) {
		return at
	}
	return time.Time{}
}
