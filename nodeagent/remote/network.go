package remote

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/nodeagent/clusternet"
	"github.com/berth-dev/berth/nodeagent/podroutes"
)

// NetworkOptions turn on the node's share of the cluster network: Service
// rules, cluster DNS and routes to the other nodes' pods.
type NetworkOptions struct {
	// Mode is auto, vxlan or host-gw (podroutes.ParseMode).
	Mode podroutes.Mode
	// Table, VXLANDevice, DNSDevice and ResolvConf are clusternet's
	// (empty: its defaults).
	Table, VXLANDevice, DNSDevice, ResolvConf string
}

// networkSource is the link's side of clusternet.Run: the watch and the
// confirmation go with the node's current credential.
type networkSource struct{ l *Link }

func (s networkSource) Watch(ctx context.Context, rv uint64) (*api.NetworkState, error) {
	return s.l.api().WatchNetwork(ctx, rv)
}

func (s networkSource) Applied(ctx context.Context, rv uint64) error {
	return s.l.api().NetworkApplied(ctx, rv)
}

// startNetwork starts the cluster network loop for the registered node;
// the node's address is NodeIP, else the host its logs are fetched from:
// the address other nodes reach it at.
func startNetwork(ctx context.Context, l *Link, o *NetworkOptions) (*clusternet.Applier, error) {
	addr, err := l.nodeAddr()
	if err != nil {
		return nil, fmt.Errorf("cluster network: %w", err)
	}
	cidr, err := netip.ParsePrefix(l.PodCIDR())
	if err != nil {
		return nil, fmt.Errorf("cluster network: pod subnet: %w", err)
	}
	a, err := clusternet.New(clusternet.Config{
		Self: podroutes.Node{Name: l.cfg.NodeName, Address: addr, PodCIDR: cidr}, Mode: o.Mode,
		Table: o.Table, VXLANDevice: o.VXLANDevice, DNSDevice: o.DNSDevice, ResolvConf: o.ResolvConf,
	})
	if err != nil {
		return nil, err
	}
	go clusternet.Run(ctx, networkSource{l}, a, l.cfg.Clock, l.cfg.Logger.With("component", "network"))
	return a, nil
}

// nodeAddr is the node's address between nodes: NodeIP, else the host of
// the advertised log address.
func (l *Link) nodeAddr() (netip.Addr, error) {
	if l.cfg.NodeIP.IsValid() {
		return l.cfg.NodeIP, nil
	}
	adv := l.cfg.Advertise
	if adv == "" {
		adv = l.LogAddr()
	}
	host, _, err := net.SplitHostPort(adv)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("node address from %q: %w", adv, err)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("node address %q: %w", host, err)
	}
	return addr, nil
}
