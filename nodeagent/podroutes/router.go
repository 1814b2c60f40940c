package podroutes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Defaults of the overlay, flannel's (the IANA VXLAN port).
const (
	DefaultDevice = "berth.vxlan"
	VNI           = 1
	VXLANPort     = 4789
	// vxlanOverhead is what encapsulation adds to each packet.
	vxlanOverhead = 50
)

// routeProtocol tags berth's routes (any value the kernel does not use
// itself), so Sync removes exactly the routes it made.
const routeProtocol netlink.RouteProtocol = 0xbe

// Router keeps this node's routes equal to a Plan.
type Router struct {
	Self   Node
	Mode   Mode
	Device string // DefaultDevice unless a test needs its own name
}

// OnLink asks the kernel whether addr is reached without a gateway.
func OnLink(addr netip.Addr) bool {
	routes, err := netlink.RouteGet(net.IP(addr.AsSlice()))
	if err != nil || len(routes) == 0 {
		return false
	}
	return routes[0].Gw == nil
}

// Sync makes the routes to peers match the plan for them. It is
// idempotent: run it on every change of the node list.
func (r *Router) Sync(peers []Node) (Plan, error) {
	dev := r.Device
	if dev == "" {
		dev = DefaultDevice
	}
	plan := MakePlan(r.Self, peers, r.Mode, OnLink)
	var vx netlink.Link
	var err error
	if plan.NeedsOverlay() {
		if vx, err = r.ensureVXLAN(dev); err != nil {
			return plan, err
		}
	} else if l, lerr := netlink.LinkByName(dev); lerr == nil {
		vx = l // still clean its stale entries below, then remove it
	}
	var errs []error
	want := map[netip.Prefix]bool{}
	for _, rt := range plan.Routes {
		want[rt.Dst] = true
		nr := &netlink.Route{Dst: prefixNet(rt.Dst), Gw: net.IP(rt.Via.AsSlice()), Protocol: routeProtocol}
		if rt.Overlay {
			idx := vx.Attrs().Index
			nr.LinkIndex = idx
			nr.Flags = int(netlink.FLAG_ONLINK)
			if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, Type: unix.RTN_UNICAST,
				IP: net.IP(rt.Via.AsSlice()), HardwareAddr: rt.VTEPMAC}); err != nil {
				errs = append(errs, fmt.Errorf("ARP entry for %s: %w", rt.Peer, err))
			}
			if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT, Flags: netlink.NTF_SELF,
				IP: net.IP(rt.Underlay.AsSlice()), HardwareAddr: rt.VTEPMAC}); err != nil {
				errs = append(errs, fmt.Errorf("FDB entry for %s: %w", rt.Peer, err))
			}
		}
		if err := netlink.RouteReplace(nr); err != nil {
			errs = append(errs, fmt.Errorf("route to %s (%s): %w", rt.Peer, rt.Dst, err))
		}
	}
	// Remove what no peer needs any more.
	routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		errs = append(errs, fmt.Errorf("list routes: %w", err))
	}
	for i := range routes {
		d := routes[i].Dst
		if d == nil {
			continue
		}
		p, ok := netipPrefix(d)
		if ok && want[p] {
			continue
		}
		if err := netlink.RouteDel(&routes[i]); err != nil {
			errs = append(errs, fmt.Errorf("remove route %s: %w", d, err))
		}
	}
	if vx != nil {
		errs = append(errs, r.pruneNeighbours(vx, plan)...)
		if !plan.NeedsOverlay() {
			if err := netlink.LinkDel(vx); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", dev, err))
			}
		}
	}
	return plan, errors.Join(errs...)
}

func (r *Router) pruneNeighbours(vx netlink.Link, plan Plan) []error {
	arp, fdb := map[string]bool{}, map[string]bool{}
	for _, rt := range plan.Routes {
		if rt.Overlay {
			arp[rt.Via.String()] = true
			fdb[rt.VTEPMAC.String()+"/"+rt.Underlay.String()] = true
		}
	}
	var errs []error
	idx := vx.Attrs().Index
	if ns, err := netlink.NeighList(idx, unix.AF_INET); err == nil {
		for i := range ns {
			if ns[i].State == netlink.NUD_PERMANENT && !arp[ns[i].IP.String()] {
				if err := netlink.NeighDel(&ns[i]); err != nil {
					errs = append(errs, fmt.Errorf("remove ARP entry %s: %w", ns[i].IP, err))
				}
			}
		}
	}
	if ns, err := netlink.NeighList(idx, unix.AF_BRIDGE); err == nil {
		for i := range ns {
			if ns[i].IP == nil || ns[i].IP.IsUnspecified() {
				continue
			}
			if !fdb[ns[i].HardwareAddr.String()+"/"+ns[i].IP.String()] {
				if err := netlink.NeighDel(&ns[i]); err != nil {
					errs = append(errs, fmt.Errorf("remove FDB entry %s: %w", ns[i].HardwareAddr, err))
				}
			}
		}
	}
	return errs
}

// ensureVXLAN creates (or finds) the overlay device with this node's VTEP
// MAC and address, up.
func (r *Router) ensureVXLAN(dev string) (netlink.Link, error) {
	mac := VTEPMAC(r.Self.Address)
	l, err := netlink.LinkByName(dev)
	if err == nil {
		if v, ok := l.(*netlink.Vxlan); !ok || v.VxlanId != VNI || v.HardwareAddr.String() != mac.String() || !v.SrcAddr.Equal(net.IP(r.Self.Address.AsSlice())) {
			if err := netlink.LinkDel(l); err != nil {
				return nil, fmt.Errorf("replace %s: %w", dev, err)
			}
			l = nil
		}
	}
	if l == nil || err != nil {
		parent, perr := linkFor(r.Self.Address)
		if perr != nil {
			return nil, perr
		}
		v := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: dev, HardwareAddr: mac, MTU: parent.Attrs().MTU - vxlanOverhead},
			VxlanId:   VNI, VtepDevIndex: parent.Attrs().Index, SrcAddr: net.IP(r.Self.Address.AsSlice()),
			Port: VXLANPort, Learning: false,
		}
		if err := netlink.LinkAdd(v); err != nil {
			return nil, fmt.Errorf("create %s: %w", dev, err)
		}
		if l, err = netlink.LinkByName(dev); err != nil {
			return nil, fmt.Errorf("find %s: %w", dev, err)
		}
	}
	vtep := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(VTEPAddress(r.Self.PodCIDR).AsSlice()), Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrReplace(l, vtep); err != nil {
		return nil, fmt.Errorf("address of %s: %w", dev, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("bring up %s: %w", dev, err)
	}
	return l, nil
}

// linkFor finds the link that holds addr.
func linkFor(addr netip.Addr) (netlink.Link, error) {
	addrs, err := netlink.AddrList(nil, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IP.Equal(net.IP(addr.AsSlice())) {
			return netlink.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("no link has the node address %s", addr)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Masked().Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 32)}
}

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}
