package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/endpoints"
)

// drainState is the rollout gate's memory: the network version each
// draining pod waits for, by UID. It is not stored: after a restart the
// gate waits for the version current then, which is never older.
type drainState struct {
	mu      sync.Mutex
	leaving map[types.UID]uint64
}

// RunDrain is the rollout gate, until ctx ends. A bound pod marked for
// deletion has left every Service's endpoints at once (it is terminating)
// but its agent keeps running it while it is Draining; the gate clears
// Draining, so the agent stops it, once every Ready node confirmed a
// network version without it (endpoints.Drain), or timeout after its
// deletion, whichever comes first. A node that stops talking turns
// NotReady after the node timeout and is no longer waited for, so the
// server passes the node timeout here: a deletion then never waits longer
// than a lost node already costs, even for a node that stays Ready but
// never applies a version.
func (n *Network) RunDrain(ctx context.Context, clk clock.WithTicker, timeout time.Duration) error {
	for {
		n.mu.Lock()
		confirmed := n.confirmed
		n.mu.Unlock()
		version, next, err := n.drainPass(clk.Now(), timeout)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithCancel(ctx)
		changed := make(chan struct{})
		go func() {
			_, _ = n.store.WaitChange(wctx, version)
			close(changed)
		}()
		var timer clock.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = clk.NewTimer(next.Sub(clk.Now()))
			fire = timer.C()
		}
		select {
		case <-changed:
		case <-confirmed:
		case <-fire:
		}
		cancel()
		<-changed
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// drainPass releases the draining pods the nodes confirmed or whose
// deadline passed at now. It returns the store version it read and when
// the next deadline falls (zero: none).
func (n *Network) drainPass(now time.Time, timeout time.Duration) (uint64, time.Time, error) {
	type draining struct {
		namespace, name string
		uid             types.UID
		deleted         time.Time
	}
	var version uint64
	var pods []draining
	var ready []string
	err := n.store.View(func(tx ReadTx) error {
		version = tx.Version()
		recs, err := drainingPods(tx)
		if err != nil {
			return err
		}
		for _, p := range recs {
			if p.Draining && p.deleting() && p.bound() {
				pods = append(pods, draining{p.Pod.Namespace, p.Pod.Name, p.Pod.UID, p.Pod.DeletionTimestamp.Time})
			}
		}
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, nr := range nodes {
			if nr.Ready {
				ready = append(ready, nr.Name)
			}
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("rollout gate: %w", err)
	}
	n.drain.mu.Lock()
	defer n.drain.mu.Unlock()
	leaving := map[types.UID]uint64{}
	var current uint64 // the network version now, read once if needed
	for _, p := range pods {
		v, ok := n.drain.leaving[p.uid]
		if !ok {
			if current == 0 {
				// Read after the pods: a state at a store version at
				// least this new no longer has them as ready endpoints.
				st, _, err := n.State()
				if err != nil {
					return 0, time.Time{}, fmt.Errorf("rollout gate: %w", err)
				}
				current = st.ResourceVersion
			}
			v = current
		}
		leaving[p.uid] = v
	}
	n.drain.leaving = leaving
	d := endpoints.Drain{Leaving: map[string]uint64{}, Applied: map[string]uint64{}, Deadline: map[string]time.Time{}}
	byKey := map[string]draining{}
	for _, p := range pods {
		key := p.namespace + "/" + p.name
		byKey[key] = p
		d.Leaving[key] = leaving[p.uid]
		d.Deadline[key] = p.deleted.Add(timeout)
	}
	applied := n.AppliedVersions()
	for _, node := range ready {
		d.Applied[node] = applied[node]
	}
	released := d.Released(now)
	if len(released) == 0 {
		return version, d.Next(now), nil
	}
	err = n.store.Update(func(tx Tx) error {
		for _, key := range released {
			p := byKey[key]
			rec, err := tx.Pod(p.namespace, p.name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if rec.Pod.UID != p.uid || !rec.Draining {
				continue
			}
			rec.Draining = false
			if err := tx.PutPod(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("rollout gate: release %v: %w", released, err)
	}
	return version, d.Next(now), nil
}

// drainingField is how a draining pod's record reads when stored.
var drainingField = []byte(`"draining":true`)

// drainingPods returns the pod records that may be draining. The gate
// looks on every store change (status reports included), so where the
// store offers the stored bytes only the records holding the field are
// decoded; the caller checks the decoded record.
func drainingPods(tx ReadTx) ([]*PodRecord, error) {
	raw, ok := tx.(rawPodLister)
	if !ok {
		return tx.Pods()
	}
	var out []*PodRecord
	err := raw.rawPods(func(k, v []byte) error {
		if !bytes.Contains(v, drainingField) {
			return nil
		}
		var rec PodRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode pod %s: %w", k, err)
		}
		out = append(out, &rec)
		return nil
	})
	return out, err
}
