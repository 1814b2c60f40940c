package reconciler

import (
	"fmt"
	"time"
)

// syncNodes marks nodes NotReady when their heartbeats stop for the node
// timeout, and Ready again when they resume. It returns when the next node
// would time out.
func (r *Reconciler) syncNodes(now time.Time) (time.Time, error) {
	var wake time.Time
	err := r.cfg.Store.Update(func(tx Tx) error {
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			deadline := n.LastHeartbeat.Add(r.cfg.NodeTimeout)
			ready := !n.LastHeartbeat.IsZero() && now.Before(deadline)
			if ready {
				wake = earliest(wake, deadline)
			}
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
				r.log.Warn("node missed its heartbeats; its pods will move", "node", n.Name, "last", n.LastHeartbeat)
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
