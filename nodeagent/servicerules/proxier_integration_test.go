package servicerules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/berth-dev/berth/internal/testenv"
)

// node is a network namespace acting as a host, linked by a veth pair to a
// second one acting as a pod: 198.18.250.1 (node) — 198.18.250.2 (pod).
type testNode struct {
	host, pod *testenv.NetNS
}

func newTestNode(t *testing.T) testNode {
	t.Helper()
	testenv.RequireBinary(t, "nft")
	id := os.Getpid() % 100000
	n := testNode{host: testenv.NewNetNS(t, fmt.Sprintf("e-svch%d", id)), pod: testenv.NewNetNS(t, fmt.Sprintf("e-svcp%d", id))}
	hv, pv := fmt.Sprintf("e-vh%d", id), fmt.Sprintf("e-vp%d", id)
	testenv.IP(t, "link", "add", hv, "netns", n.host.Name, "type", "veth", "peer", "name", pv, "netns", n.pod.Name)
	n.host.IP(t, "addr", "add", "198.18.250.1/24", "dev", hv)
	n.host.IP(t, "link", "set", hv, "up")
	// Service addresses need a route for the output hook to see them;
	// the agent puts one on its bridge.
	n.host.IP(t, "route", "add", "198.19.0.0/16", "dev", hv)
	n.host.Sysctl(t, "net.ipv4.ip_forward", "1")
	n.pod.IP(t, "addr", "add", "198.18.250.2/24", "dev", pv)
	n.pod.IP(t, "link", "set", pv, "up")
	n.pod.IP(t, "route", "add", "default", "via", "198.18.250.1")
	return n
}

// serveTCP answers every connection with the address it came from.
func serveTCP(t *testing.T, ns *testenv.NetNS, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// serveUDP echoes every datagram.
func serveUDP(t *testing.T, ns *testenv.NetNS, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// get dials addr from inside ns and returns what the server wrote.
func get(ns *testenv.NetNS, addr string) (string, error) {
	var c net.Conn
	if err := ns.Do(func() (err error) { c, err = net.DialTimeout("tcp4", addr, 2*time.Second); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestProxierOnRealNftables(t *testing.T) {
	n := newTestNode(t)
	serveTCP(t, n.pod, ":8080")
	serveUDP(t, n.pod, ":5353")

	state := func(udpEndpoints ...string) State {
		var eps []ep
		for _, ip := range udpEndpoints {
			eps = append(eps, ep{ip: ip, ready: true, serving: true})
		}
		return State{
			ClusterCIDR: netip.MustParsePrefix("198.18.250.0/24"),
			Services: []corev1.Service{
				service("default", "web", "198.19.0.10", func(s *corev1.ServiceSpec) {
					s.Type = corev1.ServiceTypeNodePort
					s.Ports[0].NodePort = 30080
					s.SessionAffinity = corev1.ServiceAffinityClientIP // the kernel must take the dynamic set
				}),
				service("default", "empty", "198.19.0.20", nil),
				service("default", "dns", "198.19.0.53", func(s *corev1.ServiceSpec) {
					s.Ports = []corev1.ServicePort{{Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP}}
				}),
			},
			Slices: []discoveryv1.EndpointSlice{
				slice("default", "web", "http", corev1.ProtocolTCP, 8080, ep{ip: "198.18.250.2", ready: true, serving: true}),
				slice("default", "dns", "udp", corev1.ProtocolUDP, 5353, eps...),
			},
		}
	}
	var p *Proxier
	ctx := context.Background()
	if err := n.host.Do(func() (err error) {
		if p, err = New("e-berth"); err != nil {
			return err
		}
		return p.Sync(ctx, state("198.18.250.2"))
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("ClusterIP from a host process (output hook)", func(t *testing.T) {
		got, err := get(n.host, "198.19.0.10:80")
		if err != nil || got != "198.18.250.1" {
			t.Fatalf("got %q, %v; want the node's address seen by the pod", got, err)
		}
	})
	t.Run("ClusterIP from the pod to itself (hairpin, masqueraded)", func(t *testing.T) {
		got, err := get(n.pod, "198.19.0.10:80")
		if err != nil || got != "198.18.250.1" {
			t.Fatalf("got %q, %v; want the reply through the node's address", got, err)
		}
	})
	t.Run("NodePort on the node's address", func(t *testing.T) {
		got, err := get(n.pod, "198.18.250.1:30080")
		if err != nil || got != "198.18.250.1" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("a Service without endpoints refuses at once", func(t *testing.T) {
		start := time.Now()
		_, err := get(n.host, "198.19.0.20:80")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("want connection refused, got %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusal took %s", d)
		}
	})
	t.Run("UDP conntrack of a removed endpoint is flushed", func(t *testing.T) {
		var c net.Conn
		if err := n.host.Do(func() (err error) { c, err = net.Dial("udp4", "198.19.0.53:53"); return err }); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 16)
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if k, err := c.Read(buf); err != nil || string(buf[:k]) != "ping" {
			t.Fatalf("echo through the Service: %q, %v", buf[:k], err)
		}
		if got := udpFlows(t, n.host, "198.19.0.53"); got != 1 {
			t.Fatalf("%d conntrack entries to the Service before the change, want 1", got)
		}
		if err := n.host.Do(func() error { return p.Sync(ctx, state()) }); err != nil {
			t.Fatal(err)
		}
		if got := udpFlows(t, n.host, "198.19.0.53"); got != 0 {
			t.Fatalf("%d conntrack entries left after the endpoint went away", got)
		}
	})

	if err := n.host.Do(func() error { return p.Close(ctx) }); err != nil {
		t.Fatal(err)
	}
	if err := n.host.Do(func() error {
		l, err := p.nft.List(ctx, "chain")
		if err == nil || !strings.Contains(err.Error(), "No such file") && len(l) > 0 {
			return fmt.Errorf("table still there after Close: %v %v", l, err)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func udpFlows(t *testing.T, ns *testenv.NetNS, dst string) int {
	t.Helper()
	count := 0
	if err := ns.Do(func() error {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		for _, f := range flows {
			if f.Forward.Protocol == unix.IPPROTO_UDP && f.Forward.DstIP.String() == dst {
				count++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return count
}
