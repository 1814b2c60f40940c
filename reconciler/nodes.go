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
				r.log.Warn("node missed its heartbeats; its pods will move", "node", n.Name, "last", n.LastHeartbeat, "at", r.podsMoveAt(n))
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
	if ready || n.LastHeartbeat.IsZero() {
		return
	}
	if at := r.podsMoveAt(n); at.After(now) {
		if r.queue == nil {
			r.queue = newWorkQueue()
		}
		r.queue.addAt(fullKey, at)
	}
}

// nodeReady is whether the node has sent a heartbeat within the timeout.
func (r *Reconciler) nodeReady(n *NodeRecord, now time.Time) bool {
	return !n.LastHeartbeat.IsZero() && now.Before(n.LastHeartbeat.Add(r.cfg.NodeTimeout))
}

// podsMoveAt is when the pods of a NotReady node move: FenceGrace after
// the node timeout, so that its agent, if it lives behind a partition, has
// stopped them first (package fencing).
func (r *Reconciler) podsMoveAt(n *NodeRecord) time.Time {
	return n.LastHeartbeat.Add(r.cfg.NodeTimeout + r.cfg.FenceGrace)
}

// nodeWake is when the node next needs a pass: when a Ready node times
// out, or when the pods of a NotReady one move (zero: neither is ahead).
func (r *Reconciler) nodeWake(n *NodeRecord, ready bool, now time.Time) time.Time {
	if ready {
		return n.LastHeartbeat.Add(r.cfg.NodeTimeout)
	}
	if at := r.podsMoveAt(n); !n.LastHeartbeat.IsZero() && at.After(now) {
		return at
	}
	return time.Time{}
}
