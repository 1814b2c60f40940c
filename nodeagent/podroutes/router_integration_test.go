package podroutes

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/testenv"
)

// twoHosts links two namespaces acting as machines; each holds the first
// address of its pod subnet on its loopback, standing for a pod (this
// kernel has no dummy devices).
type host struct {
	ns   *testenv.NetNS
	node Node
}

func twoHosts(t *testing.T) (host, host) {
	t.Helper()
	id := os.Getpid() % 100000
	a := host{ns: testenv.NewNetNS(t, fmt.Sprintf("e-rta%d", id)), node: Node{Name: "a", Address: netip.MustParseAddr("198.18.252.1"), PodCIDR: netip.MustParsePrefix("198.18.10.0/24")}}
	b := host{ns: testenv.NewNetNS(t, fmt.Sprintf("e-rtb%d", id)), node: Node{Name: "b", Address: netip.MustParseAddr("198.18.252.2"), PodCIDR: netip.MustParsePrefix("198.18.20.0/24")}}
	la, lb := fmt.Sprintf("e-la%d", id), fmt.Sprintf("e-lb%d", id)
	testenv.IP(t, "link", "add", la, "netns", a.ns.Name, "type", "veth", "peer", "name", lb, "netns", b.ns.Name)
	for _, h := range []struct {
		host
		link string
	}{{a, la}, {b, lb}} {
		h.ns.IP(t, "addr", "add", h.node.Address.String()+"/24", "dev", h.link)
		h.ns.IP(t, "link", "set", h.link, "up")
		h.ns.IP(t, "addr", "add", netip.PrefixFrom(h.node.PodCIDR.Addr().Next(), 32).String(), "dev", "lo")
	}
	return a, b
}

// podIP is the host's stand-in pod address.
func (h host) podIP() netip.Addr { return h.node.PodCIDR.Addr().Next() }

// reach connects from from's pod address to to's pod address and returns
// the source address the server saw.
func reach(t *testing.T, from, to host) (string, error) {
	t.Helper()
	var l net.Listener
	if err := to.ns.Do(func() (err error) { l, err = net.Listen("tcp4", to.podIP().String()+":0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			fmt.Fprint(c, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	var c net.Conn
	err := from.ns.Do(func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IP(from.podIP().AsSlice())}}
		c, err = d.Dial("tcp4", l.Addr().String())
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestRouterOnRealLinks(t *testing.T) {
	for _, mode := range []Mode{ModeVXLAN, ModeAuto} {
		t.Run(string(mode), func(t *testing.T) {
			a, b := twoHosts(t)
			if _, err := reach(t, a, b); err == nil {
				t.Fatal("pods reach each other before any route exists: the test proves nothing")
			}
			routers := map[string]*Router{}
			for _, h := range []host{a, b} {
				r := &Router{Self: h.node, Mode: mode, Device: "e-vx"}
				routers[h.node.Name] = r
				if err := h.ns.Do(func() error { _, err := r.Sync([]Node{a.node, b.node}); return err }); err != nil {
					t.Fatal(err)
				}
			}
			for _, pair := range [][2]host{{a, b}, {b, a}} {
				got, err := reach(t, pair[0], pair[1])
				if err != nil || got != pair[0].podIP().String() {
					t.Errorf("%s → %s: saw %q, %v; want the sender's pod address", pair[0].node.Name, pair[1].node.Name, got, err)
				}
			}
			// The overlay is there only when used.
			var vxlan bool
			if err := a.ns.Do(func() error { _, err := netlink.LinkByName("e-vx"); vxlan = err == nil; return nil }); err != nil {
				t.Fatal(err)
			}
			if vxlan != (mode == ModeVXLAN) {
				t.Errorf("VXLAN device present=%v in mode %s", vxlan, mode)
			}
			// b leaves: a's route to it goes, and nothing else of a's.
			if err := a.ns.Do(func() error { _, err := routers["a"].Sync([]Node{a.node}); return err }); err != nil {
				t.Fatal(err)
			}
			if _, err := reach(t, a, b); err == nil {
				t.Error("a still reaches b's pods after b left the node list")
			}
			if err := a.ns.Do(func() error {
				routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
				if err == nil && len(routes) > 0 {
					return fmt.Errorf("routes left: %v", routes)
				}
				if _, lerr := netlink.LinkByName("e-vx"); lerr == nil {
					return fmt.Errorf("the VXLAN device outlived its last peer")
				}
				return err
			}); err != nil {
				t.Error(err)
			}
		})
	}
}
