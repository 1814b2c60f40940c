package fencing

import (
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestTimings(t *testing.T) {
	for _, tc := range []struct {
		name                              string
		in                                Timings
		lease, killGrace, stoppedBy, move time.Duration
		err                               string
	}{
		{
			name:  "defaults of a 40s node timeout",
			in:    Timings{NodeTimeout: 40 * time.Second, Flush: 5 * time.Second},
			lease: 30 * time.Second, killGrace: 5 * time.Second, stoppedBy: 35 * time.Second, move: 45 * time.Second,
		},
		{
			name:  "a test's 4s node timeout kills at once",
			in:    Timings{NodeTimeout: 4 * time.Second, Flush: 500 * time.Millisecond},
			lease: 3 * time.Second, killGrace: 0, stoppedBy: 3 * time.Second, move: 4500 * time.Millisecond,
		},
		{
			name:  "margin and grace given",
			in:    Timings{NodeTimeout: 60 * time.Second, Grace: 30 * time.Second, Flush: 5 * time.Second, Margin: 20 * time.Second},
			lease: 40 * time.Second, killGrace: 10 * time.Second, stoppedBy: 50 * time.Second, move: 85 * time.Second,
		},
		{
			name:  "a margin as long as the node timeout leaves no lease",
			in:    Timings{NodeTimeout: 10 * time.Second, Margin: 10 * time.Second},
			lease: 0, killGrace: 5 * time.Second, stoppedBy: 5 * time.Second, move: 12500 * time.Millisecond,
			err: "no lease",
		},
		{
			name:  "a server flush slower than margin and grace together",
			in:    Timings{NodeTimeout: 40 * time.Second, Flush: 30 * time.Second},
			lease: 30 * time.Second, killGrace: 5 * time.Second, stoppedBy: 35 * time.Second, move: 20 * time.Second,
			err: "before the agent has stopped them",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := tc.in.WithDefaults()
			if got := tm.Lease(); got != tc.lease {
				t.Errorf("Lease() = %v, want %v", got, tc.lease)
			}
			if got := tm.KillGrace(); got != tc.killGrace {
				t.Errorf("KillGrace() = %v, want %v", got, tc.killGrace)
			}
			if got := tm.StoppedBy(); got != tc.stoppedBy {
				t.Errorf("StoppedBy() = %v, want %v", got, tc.stoppedBy)
			}
			if got := tm.MoveAfter(); got != tc.move {
				t.Errorf("MoveAfter() = %v, want %v", got, tc.move)
			}
			err := tm.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate() = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// The default rule holds for any node timeout even when the agent's clock
// runs 1% slow and the server's 1% fast: old copies stop before new ones
// may start.
func TestDefaultsSurviveClockRateDrift(t *testing.T) {
	const drift = 0.01
	for _, nt := range []time.Duration{2 * time.Second, 4 * time.Second, 40 * time.Second, 5 * time.Minute} {
		// The server flushes heartbeats every eighth of the node timeout.
		tm := Timings{NodeTimeout: nt, Flush: nt / 8}.WithDefaults()
		stopped := time.Duration(float64(tm.StoppedBy()) * (1 + drift))
		moved := time.Duration(float64(tm.MoveAfter()) * (1 - drift))
		if stopped >= moved {
			t.Errorf("node timeout %v: old copies stop by %v (real time), pods move from %v", nt, stopped, moved)
		}
	}
}

func TestLeaseClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(start)
	l := NewLeaseClock(clk)
	if _, held := l.Remaining(); held {
		t.Fatal("a lease without a term is held")
	}
	l.SetTerm(30 * time.Second)
	if _, held := l.Remaining(); held {
		t.Fatal("a lease never renewed is held")
	}
	sent := clk.Now()
	clk.Step(2 * time.Second) // the heartbeat's round trip
	l.Renew(sent)
	if left, _ := l.Remaining(); left != 28*time.Second {
		t.Errorf("after a 2s heartbeat: %v left, want 28s (counted from the send)", left)
	}
	l.Renew(sent.Add(-time.Second)) // an older call that ended later
	if left, _ := l.Remaining(); left != 28*time.Second {
		t.Errorf("an older renewal moved the lease: %v left, want 28s", left)
	}
	clk.Step(28 * time.Second)
	if left, held := l.Remaining(); !held || left > 0 {
		t.Errorf("30s after the send: %v left (held %t), want expired", left, held)
	}
	l.Renew(clk.Now())
	if left, _ := l.Remaining(); left != 30*time.Second {
		t.Errorf("renewed: %v left, want 30s", left)
	}
	l.SetTerm(0)
	if _, held := l.Remaining(); held {
		t.Error("a lease whose term was cleared is held")
	}
}
