// Package metrics declares berth's Prometheus collectors and serves them.
//
// The server and each agent expose them at /metrics (see
// cmd/berth --metrics-listen). Names follow Prometheus' conventions: a
// berth_ prefix, base units in the name (_seconds, _bytes), _total on
// counters. The packages that observe an event call the variables here;
// everything is registered on Registry, never on the global default
// registry, so a test can scrape exactly berth's collectors.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every berth collector, plus the Go runtime and process
// collectors.
var Registry = prometheus.NewRegistry()

// latencyBuckets spans 5 ms to about 80 s: reconcile passes and API calls
// at the low end, image pulls and sync lag at the high end.
var latencyBuckets = prometheus.ExponentialBuckets(0.005, 2, 15)

// Control plane.
var (
	// SyncLag is the time from the reconciler first seeing a revision to
	// admitting it (commit seen → applied).
	SyncLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "berth_sync_lag_seconds", Help: "Time from a revision first seen by the reconciler to its admission.",
		Buckets: latencyBuckets,
	})
	// RevisionsAdmitted counts revisions the reconciler admitted.
	RevisionsAdmitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_revisions_admitted_total", Help: "Revisions admitted and applied.",
	})
	// RevisionsRefused counts revisions refused, once per revision, by
	// reason: manifests (decode or validation), signature, fit (its pods
	// do not fit), service_addresses (cluster IP or node port clash), not_run_yet (kinds validated but not run yet).
	RevisionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_revisions_refused_total", Help: "Revisions refused, by reason.",
	}, []string{"reason"})
	// ReconcilePass is the duration of one reconciler pass.
	ReconcilePass = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "berth_reconcile_pass_duration_seconds", Help: "Duration of one reconcile pass.",
		Buckets: latencyBuckets,
	})
	// ReconcileErrors counts passes that ended with an error.
	ReconcileErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_reconcile_errors_total", Help: "Reconcile passes that ended with an error.",
	})
	// SchedulingLatency is the time from a pod's creation to its binding.
	SchedulingLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "berth_scheduling_latency_seconds", Help: "Time from a pod's creation to its binding to a node.",
		Buckets: latencyBuckets,
	})
	// UnschedulablePods is the number of pending pods the last scheduling
	// pass could not place.
	UnschedulablePods = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "berth_unschedulable_pods", Help: "Pending pods the last scheduling pass could not place.",
	})
	// APIRequests counts API requests by method, route and status code.
	APIRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_api_requests_total", Help: "API requests, by method, route and status code.",
	}, []string{"method", "route", "code"})
	// APIRequestDuration is the API's latency by method and route (long
	// polls included: their route names them).
	APIRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "berth_api_request_duration_seconds", Help: "API request latency, by method and route.",
		Buckets: latencyBuckets,
	}, []string{"method", "route"})
	// StoreSize is the size of the store's file.
	StoreSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "berth_store_size_bytes", Help: "Size of the store's database file.",
	})
	// StoreWriteDuration is the duration of one store write transaction
	// (including its disk sync).
	StoreWriteDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "berth_store_write_duration_seconds", Help: "Duration of one store write transaction, disk sync included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
	})
	// GitFetchErrors counts failed fetches of the followed repository.
	GitFetchErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_git_fetch_errors_total", Help: "Failed fetches of the followed Git repository.",
	})
	// NodeFences counts the fences nodes reported once back (package
	// fencing), by node; NodeFencedPods the pods they stopped.
	NodeFences = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_node_fences_total", Help: "Times a node reported it lost the server for its lease and fenced its pods, by node.",
	}, []string{"node"})
	NodeFencedPods = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_node_fenced_pods_total", Help: "Pods nodes reported they stopped when they fenced, by node.",
	}, []string{"node"})
)

// Agent.
var (
	// PodStart is the time an agent takes from accepting a pod to all its
	// containers started, by node.
	PodStart = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "berth_agent_pod_start_duration_seconds", Help: "Time from an agent accepting a pod to its containers started, by node.",
		Buckets: latencyBuckets,
	}, []string{"node"})
	// ContainerRestarts counts container restarts an agent made, by node.
	ContainerRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_agent_container_restarts_total", Help: "Container restarts made by the agent, by node.",
	}, []string{"node"})
	// AgentFences counts the times an agent's lease ran out and it fenced
	// its pods, by node; AgentFencedPods the pods it stopped then.
	AgentFences = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_agent_fences_total", Help: "Times the agent lost the server for its lease and fenced its pods, by node.",
	}, []string{"node"})
	AgentFencedPods = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_agent_fenced_pods_total", Help: "Pods the agent stopped because it lost the server for its lease, by node.",
	}, []string{"node"})
	// AgentServerContact is when the agent sent the last call the server
	// accepted: Prometheus' way to say how long ago something happened
	// (time() minus it).
	AgentServerContact = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "berth_agent_server_contact_timestamp_seconds", Help: "Unix time the agent sent the last call the server accepted, by node.",
	}, []string{"node"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		SyncLag, RevisionsAdmitted, RevisionsRefused, ReconcilePass, ReconcileErrors,
		SchedulingLatency, UnschedulablePods, APIRequests, APIRequestDuration,
		StoreSize, StoreWriteDuration, GitFetchErrors, NodeFences, NodeFencedPods,
		PodStart, ContainerRestarts, AgentFences, AgentFencedPods, AgentServerContact, leases,
	)
	// A refused reason shows at 0 before the first refusal, so a rate()
	// over it has a series to start from.
	for _, r := range []string{RefusedManifests, RefusedSignature, RefusedFit, RefusedServiceAddresses} {
		RevisionsRefused.WithLabelValues(r)
	}
}

// Reasons a revision is refused (the reason label of
// berth_revisions_refused_total).
const (
	RefusedManifests        = "manifests"
	RefusedSignature        = "signature"
	RefusedFit              = "fit"
	RefusedServiceAddresses = "service_addresses"
	// RefusedNotRunYet: valid kinds this server does not run yet.
	RefusedNotRunYet = "not_run_yet"
)

// Handler serves Registry in the Prometheus text (or OpenMetrics) format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}
