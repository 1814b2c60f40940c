package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// BenchmarkHTTPProbes runs the readiness probes of 200 containers against
// one local server, once each, as a node with 200 probed pods does every
// period; it reports the cost of one probe.
func BenchmarkHTTPProbes(b *testing.B) {
	const containers = 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	var probers []*Prober
	for range containers {
		c := corev1.Container{Name: "web", ReadinessProbe: httpSpec(corev1.HTTPGetAction{Port: intPort(srv.Listener.Addr().(*net.TCPAddr).Port)})}
		p, err := New(&c, "127.0.0.1", nil, clock.RealClock{})
		if err != nil {
			b.Fatal(err)
		}
		probers = append(probers, p)
	}
	for b.Loop() {
		start := time.Now()
		for _, p := range probers {
			p.ContainerStarted(time.Now())
			p.Step(context.Background())
			if !p.Ready() {
				b.Fatal("probe failed")
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/containers, "us/probe")
	}
}
