package clusternet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent/podroutes"
)

func ptr[T any](v T) *T { return &v }

// TestPodReachesServiceByName runs the whole node side on one namespace
// host with one namespace pod: the pod asks the cluster DNS for a Service's
// name, gets its ClusterIP, and connects to itself through it.
func TestPodReachesServiceByName(t *testing.T) {
	testenv.RequireBinary(t, "nft")
	id := os.Getpid() % 100000
	host := testenv.NewNetNS(t, fmt.Sprintf("e-cnh%d", id))
	pod := testenv.NewNetNS(t, fmt.Sprintf("e-cnp%d", id))
	hv, pv := fmt.Sprintf("e-ch%d", id), fmt.Sprintf("e-cp%d", id)
	testenv.IP(t, "link", "add", hv, "netns", host.Name, "type", "veth", "peer", "name", pv, "netns", pod.Name)
	host.IP(t, "addr", "add", "198.18.254.1/24", "dev", hv)
	host.IP(t, "link", "set", hv, "up")
	host.Sysctl(t, "net.ipv4.ip_forward", "1")
	pod.IP(t, "addr", "add", "198.18.254.2/24", "dev", pv)
	pod.IP(t, "link", "set", pv, "up")
	pod.IP(t, "route", "add", "default", "via", "198.18.254.1")

	var l net.Listener
	if err := pod.Do(func() (err error) { l, err = net.Listen("tcp4", ":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "hello from the pod")
			c.Close()
		}
	}()

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 198.18.254.99\n"), 0o644)
	self := podroutes.Node{Name: "n1", Address: netip.MustParseAddr("198.18.254.1"), PodCIDR: netip.MustParsePrefix("198.18.254.0/24")}
	st := api.NetworkState{
		ResourceVersion: 1, ServiceCIDR: "198.19.0.0/16", ClusterDNS: "198.19.0.10", ClusterDomain: "cluster.local", ClusterCIDR: "198.18.254.0/24",
		Services: []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "198.19.0.20",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}},
		EndpointSlices: []discoveryv1.EndpointSlice{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			Ports:      []discoveryv1.EndpointPort{{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(8080))}},
			Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"198.18.254.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
		}},
		Nodes: []api.NodeNetwork{{Name: "n1", Address: "198.18.254.1", PodCIDR: "198.18.254.0/24"}},
	}
	var a *Applier
	ctx := context.Background()
	if err := host.Do(func() (err error) {
		if a, err = New(Config{Self: self, Mode: podroutes.ModeAuto, Table: "e-berth", VXLANDevice: "e-vx", ResolvConf: resolv}); err != nil {
			return err
		}
		return a.Apply(ctx, st)
	}); err != nil {
		t.Fatal(err)
	}

	var ip string
	if err := pod.Do(func() error {
		m := new(dns.Msg)
		m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
		r, err := dns.Exchange(m, "198.19.0.10:53")
		if err != nil {
			return err
		}
		if len(r.Answer) != 1 {
			return fmt.Errorf("answer %v", r.Answer)
		}
		ip = r.Answer[0].(*dns.A).A.String()
		return nil
	}); err != nil {
		t.Fatalf("cluster DNS from the pod: %v", err)
	}
	if ip != "198.19.0.20" {
		t.Fatalf("web resolved to %s", ip)
	}
	var got string
	if err := pod.Do(func() error {
		c, err := net.DialTimeout("tcp4", ip+":80", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		got = string(b)
		return err
	}); err != nil || got != "hello from the pod" {
		t.Fatalf("through the Service: %q, %v", got, err)
	}

	// The endpoint leaves: the rules refuse, the name still resolves.
	st.ResourceVersion, st.EndpointSlices = 2, nil
	if err := host.Do(func() error { return a.Apply(ctx, st) }); err != nil {
		t.Fatal(err)
	}
	if err := pod.Do(func() error {
		_, err := net.DialTimeout("tcp4", "198.19.0.20:80", 2*time.Second)
		if err == nil {
			return fmt.Errorf("connected to a Service without endpoints")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := host.Do(func() error { return a.Close(ctx) }); err != nil {
		t.Fatal(err)
	}
}
