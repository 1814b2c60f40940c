package podroutes

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestMakePlan(t *testing.T) {
	self := Node{Name: "a", Address: netip.MustParseAddr("198.18.252.1"), PodCIDR: netip.MustParsePrefix("198.18.10.0/24")}
	near := Node{Name: "b", Address: netip.MustParseAddr("198.18.252.2"), PodCIDR: netip.MustParsePrefix("198.18.20.0/24")}
	far := Node{Name: "c", Address: netip.MustParseAddr("198.18.253.3"), PodCIDR: netip.MustParsePrefix("198.18.30.0/24")}
	noSubnet := Node{Name: "d", Address: netip.MustParseAddr("198.18.252.4")}
	onLink := func(a netip.Addr) bool { return netip.MustParsePrefix("198.18.252.0/24").Contains(a) }
	direct := Route{Peer: "b", Dst: near.PodCIDR, Via: near.Address}
	overlay := func(n Node) Route {
		return Route{Peer: n.Name, Dst: n.PodCIDR, Via: VTEPAddress(n.PodCIDR), Overlay: true, VTEPMAC: VTEPMAC(n.Address), Underlay: n.Address}
	}
	tests := []struct {
		name string
		mode Mode
		want Plan
	}{
		{name: "auto: direct on a shared link, overlay elsewhere", mode: ModeAuto, want: Plan{Routes: []Route{direct, overlay(far)}}},
		{name: "vxlan: overlay for everyone", mode: ModeVXLAN, want: Plan{Routes: []Route{overlay(near), overlay(far)}}},
		{name: "host-gw: a far peer is unreachable", mode: ModeHostGW, want: Plan{Routes: []Route{direct}, Unreachable: []string{"c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(self, []Node{far, self, noSubnet, near}, tt.mode, onLink)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVTEP(t *testing.T) {
	if got := VTEPAddress(netip.MustParsePrefix("198.18.10.0/24")); got.String() != "198.18.10.0" {
		t.Errorf("VTEP address %s", got)
	}
	if got := VTEPMAC(netip.MustParseAddr("198.18.252.1")).String(); got != "0a:62:c6:12:fc:01" {
		t.Errorf("VTEP MAC %s", got)
	}
	if _, err := ParseMode("bgp"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
