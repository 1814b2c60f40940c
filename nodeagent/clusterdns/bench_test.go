package clusterdns

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// bigCluster is 1,000 Services of 10 endpoints each, a tenth headless.
func bigCluster() ([]corev1.Service, []discoveryv1.EndpointSlice) {
	var svcs []corev1.Service
	var slices []discoveryv1.EndpointSlice
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("198.19.%d.%d", i/250, i%250+11)
		if i%10 == 0 {
			ip = "None"
		}
		svcs = append(svcs, corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
		s := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(8080))}}}
		for j := 0; j < 10; j++ {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("198.18.%d.%d", i%200, j+2)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
		}
		slices = append(slices, s)
	}
	return svcs, slices
}

// BenchmarkClusterDNSQueries sends 20,000 A queries for Service names (a
// third of them search-path misses, as ndots:5 makes) from 8 clients over
// UDP to one agent's server holding 1,000 Services, and reports queries per
// second. CoreDNS, the anchor the issue names, is not installed here.
func BenchmarkClusterDNSQueries(b *testing.B) {
	svcs, slices := bigCluster()
	s := NewServer(DefaultDomain, nil)
	s.Update(Build(DefaultDomain, svcs, slices))
	addr := startOnLoopback(b, s)
	const total, clients = 20000, 8
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed int
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
				conn, err := cl.Dial(addr)
				if err != nil {
					mu.Lock()
					failed += total / clients
					mu.Unlock()
					return
				}
				defer conn.Close()
				for i := 0; i < total/clients; i++ {
					name := fmt.Sprintf("svc-%d.default.svc.cluster.local.", (c*7919+i)%1000)
					if i%3 == 0 {
						name = fmt.Sprintf("svc-%d.default.svc.cluster.local.default.svc.cluster.local.", i%1000)
					}
					m := new(dns.Msg)
					m.SetQuestion(name, dns.TypeA)
					if _, _, err := cl.ExchangeWithConn(m, conn); err != nil {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}
			}(c)
		}
		wg.Wait()
		el := time.Since(start)
		if failed > 0 {
			b.Fatalf("%d of %d queries failed", failed, total)
		}
		b.ReportMetric(float64(total)/el.Seconds(), "queries/s")
	}
}

// BenchmarkClusterDNSZoneMemory reports the heap one agent's zone holds
// for 1,000 Services × 10 endpoints, and the time to build it.
func BenchmarkClusterDNSZoneMemory(b *testing.B) {
	svcs, slices := bigCluster()
	for n := 0; n < b.N; n++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		z := Build(DefaultDomain, svcs, slices)
		el := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(z)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-heap")
		b.ReportMetric(float64(el.Microseconds())/1000, "ms-build")
	}
}
