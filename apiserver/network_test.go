package apiserver

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sync"
	"testing"

	"github.com/berth-dev/berth/api"
)

// feed is a NetworkFeed whose state the test sets; reconciler's
// TestNetworkVersionMovesOnlyOnChange covers the real one.
type feed struct {
	mu      sync.Mutex
	st      api.NetworkState
	changed chan struct{}
	applied map[string]uint64
}

func (f *feed) State() (*api.NetworkState, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	return &st, st.ResourceVersion, nil
}

func (f *feed) WaitChange(ctx context.Context, since uint64) (uint64, error) {
	select {
	case <-f.changed:
	case <-ctx.Done():
	}
	return since + 1, nil
}

func (f *feed) Applied(node string, rv uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied[node] = rv
	return nil
}

func TestNetworkWatchAndConfirmation(t *testing.T) {
	f := &feed{st: api.NetworkState{ResourceVersion: 5, ClusterDNS: "198.19.0.10"}, changed: make(chan struct{}), applied: map[string]uint64{}}
	h := newAPIHarness(t, func(c *harnessConfig) { c.api.Network = f })
	h.register("n1")
	ctx := context.Background()
	c := h.agent("n1")

	st, err := c.WatchNetwork(ctx, 0)
	if err != nil || st.ResourceVersion != 5 || st.ClusterDNS != "198.19.0.10" {
		t.Fatalf("first watch: %+v, %v", st, err)
	}
	// A watch from version 5 waits for the change.
	got := make(chan *api.NetworkState, 1)
	go func() {
		st, err := c.WatchNetwork(ctx, 5)
		if err != nil {
			t.Error(err)
		}
		got <- st
	}()
	f.mu.Lock()
	f.st.ResourceVersion = 6
	f.mu.Unlock()
	close(f.changed)
	if st := <-got; st.ResourceVersion != 6 {
		t.Fatalf("watch from 5 returned version %d", st.ResourceVersion)
	}
	if err := c.NetworkApplied(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if f.applied["n1"] != 6 {
		t.Fatalf("confirmation recorded as %v", f.applied)
	}
	// Users read Services and their slices where kubectl would.
	f.mu.Lock()
	f.st.Services = []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{ClusterIP: "198.19.0.20"}}}
	f.st.EndpointSlices = []discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}}}}
	f.mu.Unlock()
	if svc, err := h.admin().Service(ctx, "default", "web"); err != nil || svc.Spec.ClusterIP != "198.19.0.20" {
		t.Errorf("get service: %+v, %v", svc, err)
	}
	if _, err := h.admin().Service(ctx, "default", "nope"); err == nil {
		t.Error("a missing Service was found")
	}
	if l, err := h.admin().EndpointSlices(ctx, "default", "web"); err != nil || len(l.Items) != 1 {
		t.Errorf("endpoint slices of web: %+v, %v", l, err)
	}
	if l, err := h.admin().EndpointSlices(ctx, "other", ""); err != nil || len(l.Items) != 0 {
		t.Errorf("endpoint slices of another namespace: %+v, %v", l, err)
	}
	// Only nodes may watch.
	if _, err := h.agent("stranger").WatchNetwork(ctx, 0); err == nil {
		t.Error("an unregistered caller read the network state")
	}
}
