// Package clusternet makes a node's network match the cluster's
// NetworkState: Service rules (servicerules), the cluster DNS server
// (clusterdns) on the cluster DNS address, and routes to the other nodes'
// pod subnets (podroutes). The agent calls Apply with every version its
// watch brings and confirms the version to the server once Apply returns:
// from then on the node sends nothing to endpoints that left.
package clusternet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/nodeagent/clusterdns"
	"github.com/berth-dev/berth/nodeagent/podroutes"
	"github.com/berth-dev/berth/nodeagent/servicerules"
)

// Config names this node and the devices berth owns on it.
type Config struct {
	// Self is this node: its name, address between nodes, pod subnet.
	Self podroutes.Node
	// Mode picks direct routes, VXLAN, or both (podroutes.ModeAuto).
	Mode podroutes.Mode
	// Table is the nftables table (servicerules.DefaultTable).
	Table string
	// VXLANDevice is the overlay device (podroutes.DefaultDevice).
	VXLANDevice string
	// DNSDevice holds the cluster DNS address (DefaultDNSDevice), so pods
	// reach it through their gateway as a local address of the node.
	DNSDevice string
	// ResolvConf is the node's resolver file, whose name servers get
	// the names that are not the cluster's (default /etc/resolv.conf).
	ResolvConf string
}

// DefaultDNSDevice holds the cluster DNS address on every node: the
// loopback, since not every kernel has dummy devices.
const DefaultDNSDevice = "lo"

// Applier holds the node's network parts.
type Applier struct {
	cfg     Config
	proxier *servicerules.Proxier
	router  *podroutes.Router
	dns     *clusterdns.Server

	mu      sync.Mutex
	dnsAddr netip.Addr // where the DNS server listens, once started
}

// New checks that nftables works and prepares the parts; nothing is
// changed on the node until Apply.
func New(cfg Config) (*Applier, error) {
	if cfg.Table == "" {
		cfg.Table = servicerules.DefaultTable
	}
	if cfg.VXLANDevice == "" {
		cfg.VXLANDevice = podroutes.DefaultDevice
	}
	if cfg.DNSDevice == "" {
		cfg.DNSDevice = DefaultDNSDevice
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	p, err := servicerules.New(cfg.Table)
	if err != nil {
		return nil, err
	}
	return &Applier{cfg: cfg, proxier: p, router: &podroutes.Router{Self: cfg.Self, Mode: cfg.Mode, Device: cfg.VXLANDevice}}, nil
}

// Apply makes the node match st: routes first (so new endpoints on other
// nodes are reachable before rules send to them), then the rules in one
// transaction, then the DNS zone. Errors of one part do not stop the
// others; all are returned.
func (a *Applier) Apply(ctx context.Context, st api.NetworkState) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	var peers []podroutes.Node
	for _, n := range st.Nodes {
		addr, aerr := netip.ParseAddr(n.Address)
		cidr, cerr := netip.ParsePrefix(n.PodCIDR)
		if aerr != nil || cerr != nil {
			continue // not registered with an address yet
		}
		peers = append(peers, podroutes.Node{Name: n.Name, Address: addr, PodCIDR: cidr})
	}
	plan, err := a.router.Sync(peers)
	if err != nil {
		errs = append(errs, fmt.Errorf("pod routes: %w", err))
	}
	if len(plan.Unreachable) > 0 {
		errs = append(errs, fmt.Errorf("pod routes: host-gw cannot reach nodes %v (no shared link)", plan.Unreachable))
	}

	clusterCIDR, _ := netip.ParsePrefix(st.ClusterCIDR)
	if err := a.proxier.Sync(ctx, servicerules.State{
		Services: st.Services, Slices: st.EndpointSlices,
		ClusterCIDR: clusterCIDR, PodSubnet: a.cfg.Self.PodCIDR,
	}); err != nil {
		errs = append(errs, fmt.Errorf("service rules: %w", err))
	}

	domain := st.ClusterDomain
	if domain == "" {
		domain = clusterdns.DefaultDomain
	}
	if dnsAddr, err := netip.ParseAddr(st.ClusterDNS); err == nil {
		if err := a.ensureDNS(dnsAddr, domain); err != nil {
			errs = append(errs, err)
		}
	}
	if a.dns != nil {
		a.dns.Update(clusterdns.Build(domain, st.Services, st.EndpointSlices))
	}
	return errors.Join(errs...)
}

// ensureDNS puts the cluster DNS address on the dummy device and starts
// the server there, once.
func (a *Applier) ensureDNS(addr netip.Addr, domain string) error {
	if a.dns != nil && a.dnsAddr == addr {
		return nil
	}
	if a.dns != nil {
		if err := a.dns.Shutdown(context.Background()); err != nil {
			return fmt.Errorf("cluster DNS: restart on %s: %w", addr, err)
		}
		a.dns = nil
	}
	link, err := netlink.LinkByName(a.cfg.DNSDevice)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	if err := netlink.AddrReplace(link, dnsAddr(addr)); err != nil {
		return fmt.Errorf("cluster DNS: address %s on %s: %w", addr, a.cfg.DNSDevice, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("cluster DNS: bring up %s: %w", a.cfg.DNSDevice, err)
	}
	resolv, _ := os.ReadFile(a.cfg.ResolvConf) // no file: nothing to forward to
	s := clusterdns.NewServer(domain, clusterdns.Upstreams(resolv, addr.String()))
	if err := s.Start(net.JoinHostPort(addr.String(), "53")); err != nil {
		return err
	}
	a.dns, a.dnsAddr = s, addr
	return nil
}

// Close stops the DNS server and removes the rules, the routes, the
// overlay and the DNS address: what an agent leaving the cluster does.
func (a *Applier) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	if a.dns != nil {
		errs = append(errs, a.dns.Shutdown(ctx))
		a.dns = nil
	}
	errs = append(errs, a.proxier.Close(ctx))
	if _, err := a.router.Sync(nil); err != nil {
		errs = append(errs, err)
	}
	if l, err := netlink.LinkByName(a.cfg.DNSDevice); err == nil && a.dnsAddr.IsValid() {
		if err := netlink.AddrDel(l, dnsAddr(a.dnsAddr)); err != nil {
			errs = append(errs, fmt.Errorf("cluster DNS: remove %s: %w", a.dnsAddr, err))
		}
	}
	return errors.Join(errs...)
}

func dnsAddr(a netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(32, 32)}}
}
