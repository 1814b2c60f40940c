package servicerules

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"github.com/berth-dev/berth/internal/testenv"
)

// bigState is 1,000 ClusterIP Services of 10 ready endpoints each.
func bigState(shift int) State {
	var s State
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("svc-%d", i)
		s.Services = append(s.Services, service("default", name, fmt.Sprintf("198.19.%d.%d", i/250, i%250+11), nil))
		var eps []ep
		for j := 0; j < 10; j++ {
			eps = append(eps, ep{ip: fmt.Sprintf("198.18.%d.%d", i%200, j+2+shift), ready: true, serving: true})
		}
		s.Slices = append(s.Slices, slice("default", name, "http", corev1.ProtocolTCP, 8080, eps...))
	}
	return s
}

// BenchmarkRulesetRebuild1000x10 times one whole-table rebuild for 1,000
// Services × 10 endpoints: generating the transaction, and applying it with
// the real nft in a namespace of its own (one kernel transaction, as
// kube-proxy's nftables mode does per sync).
func BenchmarkRulesetRebuild1000x10(b *testing.B) {
	st := bigState(0)
	fake := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	start := time.Now()
	tx := fake.NewTransaction()
	Rules(tx, st)
	gen := time.Since(start)

	ns := testenv.NewNetNS(b, fmt.Sprintf("e-bench%d", os.Getpid()%100000))
	testenv.RequireBinary(b, "nft")
	var p *Proxier
	if err := ns.Do(func() (err error) { p, err = New("e-berth"); return err }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		start := time.Now()
		if err := ns.Do(func() error { return p.Sync(context.Background(), bigState(n%2)) }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-apply")
	}
	// After the loop: ResetTimer drops metrics reported before it.
	b.ReportMetric(float64(gen.Microseconds())/1000, "ms-generate")
	b.ReportMetric(float64(tx.NumOperations()), "nft-operations")
}

// BenchmarkEndpointChangeTenNodes simulates 10 nodes (10 namespaces, one
// Proxier each) holding 100 Services × 10 endpoints, and times 20 endpoint
// changes from "the agents have the new endpoints" to "the rules are live
// on the node", p50 and p99 over all nodes and changes. The server-to-agent
// watch is not wired yet, so its hop is not in this figure.
func BenchmarkEndpointChangeTenNodes(b *testing.B) {
	testenv.RequireBinary(b, "nft")
	const nodes, changes = 10, 20
	small := func(shift int) State {
		s := bigState(shift)
		s.Services, s.Slices = s.Services[:100], s.Slices[:100]
		return s
	}
	type node struct {
		ns *testenv.NetNS
		p  *Proxier
	}
	var ns []node
	for i := 0; i < nodes; i++ {
		n := node{ns: testenv.NewNetNS(b, fmt.Sprintf("e-bn%d-%d", i, os.Getpid()%100000))}
		if err := n.ns.Do(func() (err error) { n.p, err = New("e-berth"); return err }); err != nil {
			b.Fatal(err)
		}
		if err := n.ns.Do(func() error { return n.p.Sync(context.Background(), small(0)) }); err != nil {
			b.Fatal(err)
		}
		ns = append(ns, n)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var mu sync.Mutex
		var lat []time.Duration
		for c := 1; c <= changes; c++ {
			st := small(c)
			var wg sync.WaitGroup
			start := time.Now()
			for _, nd := range ns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := nd.ns.Do(func() error { return nd.p.Sync(context.Background(), st) }); err != nil {
						b.Error(err)
					}
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				}()
			}
			wg.Wait()
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
	}
}
