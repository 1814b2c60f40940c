package gitsource

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// runSource starts Run in the background and stops it when the test ends.
func runSource(t *testing.T, s *Source) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

// waitIdle waits until Run has finished attempt n and waits on its timer.
func waitIdle(t *testing.T, s *Source, fc *clocktesting.FakeClock, n int64) {
	t.Helper()
	waitFor(t, "the attempt to finish", func() bool {
		st := s.Status()
		return st.Attempts == n && st.NextAttempt.After(st.LastAttempt) && fc.HasWaiters()
	})
}

// TestRunPolls: Run fetches at once, then once per interval (jittered, but
// never shorter than Interval nor longer than Interval×(1+Jitter)), and only
// a new revision signals Updated.
func TestRunPolls(t *testing.T) {
	u := newUpstream(t)
	first := u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newTestSource(t, u.bare, func(o *Options) { o.Clock = fc; o.Interval = time.Minute; o.Jitter = 0.5 })
	runSource(t, s)

	waitUpdated(t, s)
	if s.Current().Revision != first {
		t.Fatal("wrong first revision")
	}
	for attempt := int64(1); attempt <= 3; attempt++ {
		waitIdle(t, s, fc, attempt)
		st := s.Status()
		wait := st.NextAttempt.Sub(st.LastAttempt)
		if wait < time.Minute || wait > 90*time.Second {
			t.Fatalf("attempt %d: next poll after %s, want 1m to 1m30s", attempt, wait)
		}
		select {
		case <-s.Updated():
			t.Fatal("Updated signalled without a new revision")
		default:
		}
		fc.Step(wait)
	}
	waitIdle(t, s, fc, 4)
	second := u.commitPush("two", map[string]string{"b.yaml": pod("b")})
	st := s.Status()
	fc.Step(st.NextAttempt.Sub(st.LastAttempt))
	waitUpdated(t, s)
	if got := s.Current().Revision; got != second {
		t.Fatalf("after a poll got %s, want %s", got, second)
	}
}

// TestRunBacksOff: failed fetches are retried after MinBackoff, doubling
// up to MaxBackoff; a rejected revision is not a failure; a success resets
// the backoff.
func TestRunBacksOff(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	srv := serveGit(t, u.root, "", "")
	srv.setDown(true)
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newTestSource(t, srv.URL+"/repo.git", func(o *Options) {
		o.Clock = fc
		o.Interval = time.Hour
		o.MinBackoff = time.Second
		o.MaxBackoff = 10 * time.Second
	})
	runSource(t, s)

	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		n := int64(i + 1)
		waitIdle(t, s, fc, n)
		st := s.Status()
		if got := st.NextAttempt.Sub(st.LastAttempt); got != want*time.Second {
			t.Fatalf("after failure %d: retry in %s, want %s", n, got, want*time.Second)
		}
		if st.ConsecutiveFailures != int(n) || st.FetchError == "" {
			t.Fatalf("status %+v", st)
		}
		if n == 6 {
			srv.setDown(false) // before the step, so attempt 7 succeeds
		}
		fc.Step(want * time.Second)
	}
	waitUpdated(t, s)
	waitIdle(t, s, fc, 7)
	st := s.Status()
	if got := st.NextAttempt.Sub(st.LastAttempt); got < time.Hour || st.ConsecutiveFailures != 0 {
		t.Fatalf("after recovery: next poll in %s, failures %d", got, st.ConsecutiveFailures)
	}

	u.commitPush("bad", map[string]string{"a.yaml": badPod("a")})
	s.Trigger()
	waitIdle(t, s, fc, 8)
	st = s.Status()
	if st.Rejected == nil || st.NextAttempt.Sub(st.LastAttempt) < time.Hour {
		t.Fatalf("a rejected revision changed the poll interval: %+v", st)
	}
}

// waitUpdated waits (a bounded real time) for Run to signal Updated.
func waitUpdated(t *testing.T, s *Source) {
	t.Helper()
	select {
	case <-s.Updated():
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for Updated")
	}
}
