package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// leaseDesc is berth_agent_lease_remaining_seconds: read from the agent's
// lease at scrape time, on its monotonic clock, so it is exact when
// scraped and goes negative once the lease has run out.
var leaseDesc = prometheus.NewDesc("berth_agent_lease_remaining_seconds",
	"How long the agent keeps its pods without reaching the server (negative: run out, pods fenced), by node.",
	[]string{"node"}, nil)

// leases are the agents' leases by node name.
var leases = &leaseCollector{src: map[string]*leaseSource{}}

type leaseSource struct {
	remaining func() (time.Duration, bool)
}

type leaseCollector struct {
	mu  sync.Mutex
	src map[string]*leaseSource
}

func (c *leaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- leaseDesc }

func (c *leaseCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for node, s := range c.src {
		if left, held := s.remaining(); held {
			ch <- prometheus.MustNewConstMetric(leaseDesc, prometheus.GaugeValue, left.Seconds(), node)
		}
	}
}

// AgentLease serves node's lease as berth_agent_lease_remaining_seconds
// until the returned function is called: remaining is read at each scrape
// (held false: no lease, no sample). A later call for the same node
// replaces it.
func AgentLease(node string, remaining func() (time.Duration, bool)) (remove func()) {
	s := &leaseSource{remaining: remaining}
	leases.mu.Lock()
	leases.src[node] = s
	leases.mu.Unlock()
	return func() {
		leases.mu.Lock()
		defer leases.mu.Unlock()
		if leases.src[node] == s {
			delete(leases.src, node)
		}
	}
}
