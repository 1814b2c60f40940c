package reconciler

import (
	"testing"

	"github.com/berth-dev/berth/endpoints"
)

// TestNetworkVersionMovesOnlyOnChange checks the agents' network state:
// Services carry their addresses, endpoints follow ready pods, and the
// version stays put through store writes that change nothing it shows
// (heartbeats), so agents do not rebuild their rules for nothing.
func TestNetworkVersionMovesOnlyOnChange(t *testing.T) {
	h := newHarness(t)
	h.addNode("n1", "4", "4Gi")
	h.src.push("r1", decodeObjs(t, serviceYAML("web", "")))
	h.reconcile()
	n := NewNetwork(h.store, h.rec, endpoints.NetworkConfig{ClusterDNS: "198.19.0.10"})
	st, _, err := n.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 1 || st.Services[0].Spec.ClusterIP == "" || len(st.Nodes) != 1 {
		t.Fatalf("state %+v", st)
	}
	v1 := st.ResourceVersion
	h.heartbeat("n1")
	if st, _, _ = n.State(); st.ResourceVersion != v1 {
		t.Errorf("a heartbeat moved the version %d → %d", v1, st.ResourceVersion)
	}
	h.src.push("r2", decodeObjs(t, serviceYAML("web", "")+"---\n"+deployYAML(2, "web:1")))
	h.reconcile()
	h.converge("n1")
	h.giveAddresses()
	st, _, _ = n.State()
	if len(st.EndpointSlices) != 1 || len(st.EndpointSlices[0].Endpoints) != 2 {
		t.Fatalf("want 2 endpoints, got %+v", st.EndpointSlices)
	}
	if st.ResourceVersion <= v1 {
		t.Errorf("version %d did not move past %d after endpoints appeared", st.ResourceVersion, v1)
	}
	_ = n.Applied("n1", st.ResourceVersion)
	if got := n.AppliedVersions()["n1"]; got != st.ResourceVersion {
		t.Errorf("applied %d", got)
	}
}
