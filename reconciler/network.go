package reconciler

import (
	"context"
	"encoding/json"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/endpoints"
)

// Network is the cluster network state agents watch: the applied
// Services with their addresses, their endpoints from the pod records,
// and every node's address and pod subnet. Its ResourceVersion is the
// store version at which its content last changed, so it only moves when
// something a data path uses changed (not on every heartbeat), it never
// goes back across restarts, and a confirmation of version V covers every
// change up to V.
type Network struct {
	store Store
	rec   *Reconciler
	cfg   endpoints.NetworkConfig

	mu      sync.Mutex
	last    []byte // JSON of the last state, ResourceVersion zeroed
	version uint64
	applied map[string]uint64 // node → newest version it confirmed
	// confirmed is closed (and replaced) when a node confirms a newer
	// version, waking the rollout gate (drain.go).
	confirmed chan struct{}
	drain     drainState
}

// NewNetwork serves rec's Services over store.
func NewNetwork(store Store, rec *Reconciler, cfg endpoints.NetworkConfig) *Network {
	return &Network{store: store, rec: rec, cfg: cfg, applied: map[string]uint64{}, confirmed: make(chan struct{})}
}

// State returns the network state and the store version it was read at.
func (n *Network) State() (*api.NetworkState, uint64, error) {
	var pods []*corev1.Pod
	var nodes []api.NodeNetwork
	var storeVersion uint64
	err := n.store.View(func(tx ReadTx) error {
		storeVersion = tx.Version()
		recs, err := tx.Pods()
		if err != nil {
			return err
		}
		for _, p := range recs {
			if p.bound() {
				pods = append(pods, &p.Pod)
			}
		}
		ns, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, nr := range ns {
			host, _, err := net.SplitHostPort(nr.Address)
			if err != nil {
				host = nr.Address
			}
			nodes = append(nodes, api.NodeNetwork{Name: nr.Name, Address: host, PodCIDR: nr.PodCIDR})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	st := endpoints.Network(n.cfg, n.rec.Services(), pods, nodes)
	b, err := json.Marshal(st)
	if err != nil {
		return nil, 0, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if string(b) != string(n.last) {
		n.last, n.version = b, storeVersion
	}
	st.ResourceVersion = n.version
	return &st, storeVersion, nil
}

// WaitChange blocks until the store moves past since, or ctx ends.
func (n *Network) WaitChange(ctx context.Context, since uint64) (uint64, error) {
	return n.store.WaitChange(ctx, since)
}

// Applied records that node runs version rv of the network state.
func (n *Network) Applied(node string, rv uint64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rv > n.applied[node] {
		n.applied[node] = rv
		close(n.confirmed)
		n.confirmed = make(chan struct{})
	}
	return nil
}

// AppliedVersions returns what each node confirmed last (for the rollout
// gate, endpoints.Drain).
func (n *Network) AppliedVersions() map[string]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]uint64, len(n.applied))
	for k, v := range n.applied {
		out[k] = v
	}
	return out
}
