package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/nodeagent/podroutes"
)

// TestClusterNetworkVXLAN runs two namespace hosts whose agents are forced
// into VXLAN mode (--pod-network vxlan) although they share a link, so
// pod traffic between them crosses berth's overlay: one web pod per node,
// each fetching the other's /cgi-bin/ip by pod IP, both ways. The route to
// the peer's pod goes through the VXLAN device, the device's counters move
// on both hosts, and each pod sees the other's pod IP (no masquerade).
func TestClusterNetworkVXLAN(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "e2v", clusterCIDR: "198.18.164.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout, hosts: true, podNetwork: "vxlan",
	})
	a, b := c.nodes[0], c.nodes[1]
	sha := c.apply("a web pod on each node", map[string]string{
		"apps/va.yaml": webApp(c.image, "va", a.name, 1, "1.35", `echo va > /www/index.html`),
		"apps/vb.yaml": webApp(c.image, "vb", b.name, 1, "1.35", `echo vb > /www/index.html`),
	})
	c.waitApplied(sha)
	var va, vb corev1.Pod
	c.eventually("both pods ready", 90*time.Second, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		as, bs := owned(pods, "va-"), owned(pods, "vb-")
		if len(as) != 1 || len(bs) != 1 || !isReady(&as[0]) || !isReady(&bs[0]) {
			return fmt.Errorf("pods %s", podNames(pods))
		}
		va, vb = as[0], bs[0]
		return nil
	})
	for _, tt := range []struct {
		name     string
		from, to *node
		src, dst corev1.Pod
	}{
		{name: "a to b", from: a, to: b, src: va, dst: vb},
		{name: "b to a", from: b, to: a, src: vb, dst: va},
	} {
		t.Run(tt.name, func(t *testing.T) {
			route, err := exec.Command("ip", "-n", tt.from.host, "route", "get", tt.dst.Status.PodIP).CombinedOutput()
			if err != nil || !strings.Contains(string(route), "dev "+podroutes.DefaultDevice) {
				t.Fatalf("route from %s to %s's pod %s: %q (%v), want it through %s", tt.from.host, tt.to.name, tt.dst.Status.PodIP, route, err, podroutes.DefaultDevice)
			}
			txBefore, rxBefore := vxlanPackets(t, tt.from.host), vxlanPackets(t, tt.to.host)
			got, err := c.exec(tt.from, tt.src.Name, "timeout", "5", "wget", "-q", "-O", "-", "http://"+tt.dst.Status.PodIP+":8080/cgi-bin/ip")
			if err != nil || seenIP(got) != tt.src.Status.PodIP {
				t.Fatalf("%s %s → %s %s: the receiver saw %q (%v), want the sender's pod IP", tt.src.Name, tt.src.Status.PodIP, tt.dst.Name, tt.dst.Status.PodIP, got, err)
			}
			if tx, rx := vxlanPackets(t, tt.from.host), vxlanPackets(t, tt.to.host); tx.tx <= txBefore.tx || rx.rx <= rxBefore.rx {
				t.Errorf("the request did not cross the overlay: %s sent %d → %d packets on %s, %s received %d → %d",
					tt.from.host, txBefore.tx, tx.tx, podroutes.DefaultDevice, tt.to.host, rxBefore.rx, rx.rx)
			}
		})
	}
}

type packetCounts struct{ tx, rx uint64 }

// vxlanPackets reads the packet counters of berth's VXLAN device in host.
func vxlanPackets(t *testing.T, host string) packetCounts {
	t.Helper()
	out, err := exec.Command("ip", "-n", host, "-s", "-j", "link", "show", "dev", podroutes.DefaultDevice).Output()
	if err != nil {
		t.Fatalf("%s in %s: %v", podroutes.DefaultDevice, host, err)
	}
	var links []struct {
		Stats struct {
			RX struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
			TX struct {
				Packets uint64 `json:"packets"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("%s in %s: %q: %v", podroutes.DefaultDevice, host, out, err)
	}
	return packetCounts{tx: links[0].Stats.TX.Packets, rx: links[0].Stats.RX.Packets}
}
