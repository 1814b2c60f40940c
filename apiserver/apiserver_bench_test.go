package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/peakrss"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/reconciler"
)

// BenchmarkAgentAPI is the agent side of the control plane at scale: 200
// agents speaking the real API over loopback HTTP to one server with
// 10,000 pods on the real embedded store. One iteration measures
//   - initial-ms: all 200 agents fetching their full lists at once
//     (a server restart, every agent reconnecting);
//   - fanout-ms: from one transaction that changes 1,000 pods (5 on every
//     node) to every agent's long poll having returned the new list;
//   - fanout-1node-x200-cpu-ms: the process's CPU time from 200
//     transactions that each change one pod of another node to every
//     agent's long poll having returned;
//   - status-ms: all 200 agents reporting 50 pod statuses each, at once,
//     the first report after the pods started (every report writes);
//   - rss-MB: the process's peak resident set (server and agents).
func BenchmarkAgentAPI(b *testing.B) {
	const nodes, perNode = 200, 50
	for range b.N {
		st, err := reconciler.OpenStore(filepath.Join(b.TempDir(), "berth.db"))
		if err != nil {
			b.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		srv, _ := newBackedServer(b, st, harnessConfig{api: Config{Logger: log}, nodes: reconciler.MembershipConfig{Logger: log}}, nil)
		hs := httptest.NewServer(srv)
		transport := &http.Transport{MaxIdleConnsPerHost: 2 * nodes}
		hc := &http.Client{Transport: transport}
		names := make([]string, nodes)
		agents := make([]*client.Client, nodes)
		for i := range names {
			names[i] = fmt.Sprintf("node-%03d", i)
			if agents[i], err = client.New(hs.URL, testTokens.Agent, client.WithNode(names[i]), client.WithHTTPClient(hc), client.WithTimeout(time.Minute)); err != nil {
				b.Fatal(err)
			}
			rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi")}
			resp, err := agents[i].Register(context.Background(), api.RegisterRequest{Name: names[i], Capacity: rl, Allocatable: rl})
			if err != nil {
				b.Fatal(err)
			}
			agents[i] = agents[i].WithToken(resp.NodeToken)
		}
		pods := make([]*reconciler.PodRecord, 0, nodes*perNode)
		for i := range nodes * perNode {
			pods = append(pods, benchPod(i, names[i%nodes], "web:v1"))
		}
		if err := st.Update(func(tx reconciler.Tx) error {
			for _, p := range pods {
				if err := tx.PutPod(p); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()

		b.ResetTimer()
		start := time.Now()
		rvs := make([]uint64, nodes)
		parallel(nodes, func(i int) error {
			l, err := agents[i].WatchPods(ctx, 0, 0)
			if err != nil {
				return err
			}
			if len(l.Items) != perNode {
				return fmt.Errorf("%s got %d pods", names[i], len(l.Items))
			}
			rvs[i] = l.ResourceVersion
			return nil
		}, b)
		initial := time.Since(start)

		// watchAll has every agent wait on its list, runs change, and
		// returns the time and the process's CPU time until every agent's
		// long poll returned its new list.
		watchAll := func(change func() error) (wall, cpu time.Duration) {
			var ready, done sync.WaitGroup
			ready.Add(nodes)
			done.Add(nodes)
			changed := make([]time.Time, nodes)
			errs := make(chan error, nodes)
			for i := range nodes {
				go func() {
					defer done.Done()
					ready.Done()
					for {
						l, err := agents[i].WatchPods(ctx, rvs[i], 0)
						if err != nil {
							errs <- err
							return
						}
						if l.ResourceVersion != rvs[i] {
							changed[i], rvs[i] = time.Now(), l.ResourceVersion
							return
						}
					}
				}()
			}
			ready.Wait()
			time.Sleep(200 * time.Millisecond) // let the polls reach the server: they are what is measured
			start, cpu0 := time.Now(), processCPU()
			if err := change(); err != nil {
				b.Fatal(err)
			}
			done.Wait()
			cpu = processCPU() - cpu0
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			var last time.Time
			for _, t := range changed {
				if t.After(last) {
					last = t
				}
			}
			return last.Sub(start), cpu
		}
		// One transaction changes 1,000 pods, 5 on every node.
		fanout, _ := watchAll(func() error {
			return st.Update(func(tx reconciler.Tx) error {
				for i := range 1000 { // pod i is on node i%200
					if err := tx.PutPod(benchPod(i, names[i%nodes], "web:v2")); err != nil {
						return err
					}
				}
				return nil
			})
		})
		// 200 transactions, each changing one pod of another node: with
		// one wake for all, each of them wakes every agent's watch.
		_, oneNodeCPU := watchAll(func() error {
			for i := range nodes {
				if err := st.Update(func(tx reconciler.Tx) error {
					return tx.PutPod(benchPod(i, names[i], "web:v3"))
				}); err != nil {
					return err
				}
			}
			return nil
		})

		start = time.Now()
		parallel(nodes, func(i int) error {
			rep := api.PodStatusReport{}
			for j := i; j < len(pods); j += nodes {
				p := pods[j]
				rep.Pods = append(rep.Pods, api.PodStatus{Namespace: p.Pod.Namespace, Name: p.Pod.Name, UID: string(p.Pod.UID),
					Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "198.18.0.2",
						Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}})
			}
			resp, err := agents[i].ReportStatus(ctx, rep)
			if err == nil && len(resp.Drop) > 0 {
				err = fmt.Errorf("%s: %d dropped", names[i], len(resp.Drop))
			}
			return err
		}, b)
		status := time.Since(start)
		b.StopTimer()

		b.ReportMetric(float64(initial.Milliseconds()), "initial-ms")
		b.ReportMetric(float64(fanout.Milliseconds()), "fanout-ms")
		b.ReportMetric(float64(oneNodeCPU.Milliseconds()), "fanout-1node-x200-cpu-ms")
		b.ReportMetric(float64(status.Milliseconds()), "status-ms")
		rss, err := peakrss.MB()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rss, "rss-MB")
		hs.CloseClientConnections()
		hs.Close()
		transport.CloseIdleConnections()
		st.Close()
	}
}

func benchPod(i int, node, image string) *reconciler.PodRecord {
	name := fmt.Sprintf("web-%05d", i)
	return &reconciler.PodRecord{
		Pod: corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
				Labels: map[string]string{"app": "web", api.LabelTemplateHash: "abcdef0123"}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "web", Image: image,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
		},
		Owner: reconciler.Owner{Kind: "Deployment", Name: "web"}, TemplateHash: "abcdef0123",
	}
}

// parallel runs f for 0..n-1 at once and fails b on the first error.
func parallel(n int, f func(i int) error, b *testing.B) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
