package podroutes

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
)

// Mode chooses how peers are reached.
type Mode string

const (
	// ModeAuto routes directly to peers on a shared link, VXLAN otherwise.
	ModeAuto Mode = "auto"
	// ModeVXLAN reaches every peer over the overlay.
	ModeVXLAN Mode = "vxlan"
	// ModeHostGW routes directly to every peer; peers not on a shared link
	// are unreachable, and Plan says so.
	ModeHostGW Mode = "host-gw"
)

// ParseMode reads a --pod-network value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeVXLAN, ModeHostGW:
		return m, nil
	case "":
		return ModeAuto, nil
	}
	return "", fmt.Errorf("pod network mode %q: want auto, vxlan or host-gw", s)
}

// Node is what a node tells the others about itself.
type Node struct {
	Name    string
	Address netip.Addr   // its address on the network between nodes
	PodCIDR netip.Prefix // its pods' subnet
}

// Route is one route to a peer's pod subnet.
type Route struct {
	Peer string
	Dst  netip.Prefix
	Via  netip.Addr
	// Overlay routes go out of the VXLAN device, onlink, with the
	// neighbour and FDB entries below; direct ones pick their link.
	Overlay bool
	// VTEPMAC is the peer's VXLAN MAC (overlay routes only).
	VTEPMAC net.HardwareAddr
	// Underlay is where the overlay's packets go (the peer's address).
	Underlay netip.Addr
}

// Plan is every route this node should have.
type Plan struct {
	Routes []Route
	// Unreachable lists peers host-gw mode cannot reach.
	Unreachable []string
}

// NeedsOverlay reports whether any route uses the VXLAN device.
func (p Plan) NeedsOverlay() bool {
	for _, r := range p.Routes {
		if r.Overlay {
			return true
		}
	}
	return false
}

// MakePlan decides the route to every peer. onLink reports whether an
// address is reachable without a gateway from self (the caller asks the
// kernel). Peers without an address or subnet, and self, are skipped.
func MakePlan(self Node, peers []Node, mode Mode, onLink func(netip.Addr) bool) Plan {
	var p Plan
	sorted := append([]Node(nil), peers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, n := range sorted {
		if n.Name == self.Name || !n.Address.IsValid() || !n.PodCIDR.IsValid() {
			continue
		}
		direct := mode != ModeVXLAN && onLink(n.Address)
		switch {
		case direct:
			p.Routes = append(p.Routes, Route{Peer: n.Name, Dst: n.PodCIDR, Via: n.Address})
		case mode == ModeHostGW:
			p.Unreachable = append(p.Unreachable, n.Name)
		default:
			p.Routes = append(p.Routes, Route{Peer: n.Name, Dst: n.PodCIDR, Via: VTEPAddress(n.PodCIDR), Overlay: true,
				VTEPMAC: VTEPMAC(n.Address), Underlay: n.Address})
		}
	}
	return p
}

// VTEPAddress is a node's address on the overlay: its pod subnet's network
// address, as flannel uses (never given to a pod by host-local).
func VTEPAddress(podCIDR netip.Prefix) netip.Addr { return podCIDR.Masked().Addr() }

// VTEPMAC derives a node's VXLAN MAC from its address: locally
// administered, unicast, the four address bytes last.
func VTEPMAC(addr netip.Addr) net.HardwareAddr {
	b := addr.As4()
	return net.HardwareAddr{0x0a, 0x62, b[0], b[1], b[2], b[3]}
}
