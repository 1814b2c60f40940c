package clusternet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
)

// script is a Source that hands out versions in order and records what
// was confirmed; the test's Run ends when the script runs out.
type script struct {
	mu        sync.Mutex
	versions  []uint64
	asked     []uint64
	confirmed []uint64
	cancel    context.CancelFunc
}

func (s *script) Watch(ctx context.Context, rv uint64) (*api.NetworkState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, rv)
	if len(s.versions) == 0 {
		s.cancel()
		return nil, ctx.Err()
	}
	v := s.versions[0]
	s.versions = s.versions[1:]
	return &api.NetworkState{ResourceVersion: v}, nil
}

func (s *script) Applied(_ context.Context, rv uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed = append(s.confirmed, rv)
	return nil
}

// flaky fails to apply the versions in fail, once each.
type flaky struct {
	fail    map[uint64]bool
	applied []uint64
}

func (f *flaky) Apply(_ context.Context, st api.NetworkState) error {
	if f.fail[st.ResourceVersion] {
		delete(f.fail, st.ResourceVersion)
		return errors.New("nft: boom")
	}
	f.applied = append(f.applied, st.ResourceVersion)
	return nil
}

func TestRunConfirmsOnlyWhatApplied(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	// 3 fails once; the watch repeats 2 (a timeout) and serves 3 again.
	src := &script{versions: []uint64{1, 2, 2, 3, 3, 4}, cancel: cancel}
	n := &flaky{fail: map[uint64]bool{3: true}}
	done := make(chan struct{})
	go func() {
		Run(ctx, src, n, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	// Step the fake clock past the back-off until Run ends.
	for {
		select {
		case <-done:
			if want := []uint64{1, 2, 3, 4}; !reflect.DeepEqual(src.confirmed, want) {
				t.Errorf("confirmed %v, want %v", src.confirmed, want)
			}
			if want := []uint64{1, 2, 3, 4}; !reflect.DeepEqual(n.applied, want) {
				t.Errorf("applied %v, want %v", n.applied, want)
			}
			if want := []uint64{0, 1, 2, 2, 2, 3, 4}; !reflect.DeepEqual(src.asked, want) {
				t.Errorf("watched from %v, want %v", src.asked, want)
			}
			return
		default:
			if clk.HasWaiters() {
				clk.Step(time.Second)
			}
			runtime.Gosched()
		}
	}
}
