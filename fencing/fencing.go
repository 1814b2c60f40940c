package fencing

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Timings are the durations of the rule. The server owns NodeTimeout,
// Grace and Flush and tells agents at register; the agent owns Margin.
type Timings struct {
	// NodeTimeout is the heartbeat age at which the server marks a node
	// NotReady.
	NodeTimeout time.Duration
	// Grace is how much longer the server waits before it moves the pods
	// of a NotReady node (0: DefaultGrace).
	Grace time.Duration
	// Flush is how much older than the last heartbeat received the
	// server's stored one may be: what a server crash forgets.
	Flush time.Duration
	// Margin is how much before NodeTimeout the agent's lease ends
	// (0: DefaultMargin).
	Margin time.Duration
}

// DefaultGrace is the server's wait past the node timeout: a quarter of it.
func DefaultGrace(nodeTimeout time.Duration) time.Duration { return nodeTimeout / 4 }

// DefaultMargin is how much earlier than the node timeout the agent's
// lease ends: a quarter of it.
func DefaultMargin(nodeTimeout time.Duration) time.Duration { return nodeTimeout / 4 }

// WithDefaults fills Grace and Margin.
func (t Timings) WithDefaults() Timings {
	if t.Grace <= 0 {
		t.Grace = DefaultGrace(t.NodeTimeout)
	}
	if t.Margin <= 0 {
		t.Margin = DefaultMargin(t.NodeTimeout)
	}
	return t
}

// Lease is how long after the last heartbeat it sent that the server
// accepted an agent keeps its pods without reaching the server.
func (t Timings) Lease() time.Duration { return t.NodeTimeout - t.Margin }

// KillGrace caps the termination grace period of fenced pods, so they
// are stopped within half the margin: whole seconds, as
// terminationGracePeriodSeconds, and 0 (SIGKILL at once) when the margin
// is under two seconds.
func (t Timings) KillGrace() time.Duration {
	return (t.Margin / 2).Truncate(time.Second)
}

// StoppedBy is when, after the last heartbeat the agent sent, its fenced
// pods have stopped at the latest (on the agent's clock).
func (t Timings) StoppedBy() time.Duration { return t.Lease() + t.KillGrace() }

// MoveAfter is when, after the last heartbeat the server received, it
// may move the pods of the node at the earliest (on the server's clock).
func (t Timings) MoveAfter() time.Duration { return t.NodeTimeout + t.Grace - t.Flush }

// Slack is how long before a moved pod may start anywhere else its old
// copy has stopped: the fencing bound is no overlap when it is positive.
func (t Timings) Slack() time.Duration { return t.MoveAfter() - t.StoppedBy() }

// Validate refuses timings under which an old copy could still run when
// the server moves its pod.
func (t Timings) Validate() error {
	if t.NodeTimeout <= 0 {
		return fmt.Errorf("fencing: node timeout %v: must be positive", t.NodeTimeout)
	}
	if t.Lease() <= 0 {
		return fmt.Errorf("fencing: margin %v leaves no lease within the node timeout %v", t.Margin, t.NodeTimeout)
	}
	if t.Slack() <= 0 {
		return fmt.Errorf("fencing: pods would move %v after the last heartbeat, before the agent has stopped them (%v): raise the grace or the margin", t.MoveAfter(), t.StoppedBy())
	}
	return nil
}

// A LeaseClock is the agent's lease: renewed by each heartbeat the server
// accepts, expired when none was for the lease's duration. It reads the
// injected clock only; with the real one, times carry Go's monotonic
// reading, so a jump of the wall clock neither ends nor prolongs it.
type LeaseClock struct {
	clock clock.PassiveClock

	mu      sync.Mutex
	ttl     time.Duration // 0: no lease, never expires
	renewed time.Time
}

// NewLeaseClock returns a lease on c that holds no term yet.
func NewLeaseClock(c clock.PassiveClock) *LeaseClock { return &LeaseClock{clock: c} }

// SetTerm sets the lease's duration (0: fencing off).
func (l *LeaseClock) SetTerm(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ttl = max(d, 0)
}

// Renew records that the server accepted a call the agent sent at sent,
// a reading of the lease's clock taken before sending: the server's
// record of the call is no earlier. A renewal older than the last one
// (calls that ended out of order) changes nothing.
func (l *LeaseClock) Renew(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewed.IsZero() || sent.After(l.renewed) {
		l.renewed = sent
	}
}

// Renewed is the send time of the last renewal (zero: never renewed).
func (l *LeaseClock) Renewed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewed
}

// Remaining is how long the lease still holds (≤ 0: expired); held is
// false when there is no lease: no term, or never renewed.
func (l *LeaseClock) Remaining() (left time.Duration, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ttl == 0 || l.renewed.IsZero() {
		return 0, false
	}
	return l.ttl - l.clock.Since(l.renewed), true
}
