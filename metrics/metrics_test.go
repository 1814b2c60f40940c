package metrics

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHandlerNames scrapes the real handler: every berth metric appears
// under its documented name once it has a sample, and a change shows.
func TestHandlerNames(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	// Vectors show a series only once one exists.
	APIRequests.WithLabelValues("GET", "test", "200")
	APIRequestDuration.WithLabelValues("GET", "test")
	PodStart.WithLabelValues("test-node")
	ContainerRestarts.WithLabelValues("test-node")
	for _, v := range []*prometheus.CounterVec{NodeFences, NodeFencedPods, AgentFences, AgentFencedPods} {
		v.WithLabelValues("test-node")
	}
	AgentServerContact.WithLabelValues("test-node")
	removeLease := AgentLease("test-node", func() (time.Duration, bool) { return 12 * time.Second, true })
	before, err := Scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"berth_sync_lag_seconds", "berth_revisions_admitted_total", "berth_revisions_refused_total",
		"berth_reconcile_pass_duration_seconds", "berth_reconcile_errors_total",
		"berth_scheduling_latency_seconds", "berth_unschedulable_pods",
		"berth_api_requests_total", "berth_api_request_duration_seconds",
		"berth_store_size_bytes", "berth_store_write_duration_seconds", "berth_git_fetch_errors_total",
		"berth_agent_pod_start_duration_seconds", "berth_agent_container_restarts_total",
		"berth_node_fences_total", "berth_node_fenced_pods_total", "berth_agent_fences_total",
		"berth_agent_fenced_pods_total", "berth_agent_server_contact_timestamp_seconds",
		"berth_agent_lease_remaining_seconds",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if _, ok := before.Value(name); !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	for _, r := range []string{RefusedManifests, RefusedSignature, RefusedFit, RefusedServiceAddresses} {
		if _, ok := before.Value("berth_revisions_refused_total", "reason", r); !ok {
			t.Errorf("refused reason %q has no series before the first refusal", r)
		}
	}
	UnschedulablePods.Set(3)
	removeLease()
	ContainerRestarts.WithLabelValues("test-node").Inc()
	after, err := Scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := after.Value("berth_unschedulable_pods"); v != 3 {
		t.Errorf("berth_unschedulable_pods = %v, want 3", v)
	}
	if v, _ := before.Value("berth_agent_lease_remaining_seconds", "node", "test-node"); v != 12 {
		t.Errorf("berth_agent_lease_remaining_seconds = %v, want 12", v)
	}
	if _, ok := after.Value("berth_agent_lease_remaining_seconds", "node", "test-node"); ok {
		t.Error("a lease removed is still served")
	}
	b, _ := before.Value("berth_agent_container_restarts_total", "node", "test-node")
	a, _ := after.Value("berth_agent_container_restarts_total", "node", "test-node")
	if a != b+1 {
		t.Errorf("restarts %v → %v, want +1", b, a)
	}
}
