package servicerules

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"
)

// Proxier keeps a node's table equal to the last State it was given.
type Proxier struct {
	nft knftables.Interface

	mu   sync.Mutex
	last []*servicePort // what the table holds now
}

// New returns a Proxier for the ip table named table (DefaultTable unless
// a test needs its own). It fails when `nft` is missing or not allowed.
func New(table string) (*Proxier, error) {
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &Proxier{nft: nft}, nil
}

// Sync rebuilds the table for s in one transaction, then removes the UDP
// conntrack entries that would keep sending to an endpoint that is gone
// (or keep a Service that just got its first endpoint rejected).
func (p *Proxier) Sync(ctx context.Context, s State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx := p.nft.NewTransaction()
	Rules(tx, s)
	if err := p.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("apply nftables table: %w", err)
	}
	now := servicePorts(s)
	stale := staleUDP(p.last, now)
	p.last = now
	var errs []error
	for _, f := range stale {
		if err := f.delete(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close removes the table.
func (p *Proxier) Close(ctx context.Context) error {
	tx := p.nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	if err := p.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("delete nftables table: %w", err)
	}
	return nil
}

// staleFlow selects UDP conntrack entries to a Service port: all of them
// when Endpoint is zero, else those answered by Endpoint.
type staleFlow struct {
	ServiceIP netip.Addr // zero for a node port
	Port      int32      // the Service port, or the node port
	Endpoint  netip.Addr
}

func (f staleFlow) String() string {
	return fmt.Sprintf("udp %s:%d via %s", f.ServiceIP, f.Port, f.Endpoint)
}

// staleUDP lists the flows to remove after going from old to new: for
// every UDP Service port, the endpoints that left, and, when the port had
// no endpoint before, every flow to it (the rejected ones).
func staleUDP(old, new []*servicePort) []staleFlow {
	type portKey struct {
		ip   netip.Addr
		port int32
	}
	before := map[portKey]map[netip.Addr]bool{}
	nodePort := map[portKey]int32{}
	for _, sp := range old {
		if sp.port.Protocol != corev1.ProtocolUDP {
			continue
		}
		k := portKey{sp.clusterIP, sp.port.Port}
		before[k] = map[netip.Addr]bool{}
		nodePort[k] = sp.port.NodePort
		for _, e := range sp.endpoints {
			before[k][e.IP] = true
		}
	}
	var out []staleFlow
	seen := map[portKey]bool{}
	for _, sp := range new {
		if sp.port.Protocol != corev1.ProtocolUDP {
			continue
		}
		k := portKey{sp.clusterIP, sp.port.Port}
		seen[k] = true
		prev, existed := before[k]
		if existed && len(prev) == 0 && len(sp.endpoints) > 0 {
			out = append(out, staleFlow{ServiceIP: sp.clusterIP, Port: sp.port.Port})
			if sp.port.NodePort != 0 {
				out = append(out, staleFlow{Port: sp.port.NodePort})
			}
		}
		still := map[netip.Addr]bool{}
		for _, e := range sp.endpoints {
			still[e.IP] = true
		}
		for ip := range prev {
			if !still[ip] {
				out = append(out, staleFlow{ServiceIP: sp.clusterIP, Port: sp.port.Port, Endpoint: ip})
				if np := nodePort[k]; np != 0 {
					out = append(out, staleFlow{Port: np, Endpoint: ip})
				}
			}
		}
	}
	// A Service port that went away takes its flows with it.
	for k, prev := range before {
		if seen[k] {
			continue
		}
		for ip := range prev {
			out = append(out, staleFlow{ServiceIP: k.ip, Port: k.port, Endpoint: ip})
			if np := nodePort[k]; np != 0 {
				out = append(out, staleFlow{Port: np, Endpoint: ip})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (f staleFlow) delete() error {
	filter := &netlink.ConntrackFilter{}
	err := filter.AddProtocol(unix.IPPROTO_UDP)
	if err == nil {
		err = filter.AddPort(netlink.ConntrackOrigDstPort, uint16(f.Port))
	}
	if err == nil && f.ServiceIP.IsValid() {
		err = filter.AddIP(netlink.ConntrackOrigDstIP, net.IP(f.ServiceIP.AsSlice()))
	}
	if err == nil && f.Endpoint.IsValid() {
		err = filter.AddIP(netlink.ConntrackReplySrcIP, net.IP(f.Endpoint.AsSlice()))
	}
	if err == nil {
		_, err = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filter)
	}
	if err != nil {
		return fmt.Errorf("flush conntrack for %s: %w", f, err)
	}
	return nil
}
