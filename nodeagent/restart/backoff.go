package restart

import (
	"fmt"
	"math"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
)

// The kubelet's container back-off (pkg/kubelet/kubelet.go backOffPeriod,
// MaxContainerBackOff).
const (
	DefaultInitialBackoff = 10 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
)

// Key names one container of one pod for back-off bookkeeping. The kubelet
// adds a hash of the container spec, so an edited container starts with a
// fresh back-off; SpecHash carries that, empty if the caller has none.
type Key struct {
	PodUID    string
	Container string
	SpecHash  string
}

// Backoff is the crash-loop back-off of every container on a node. It is
// safe for concurrent use.
type Backoff struct {
	clock   clock.PassiveClock
	initial time.Duration
	max     time.Duration

	mu      sync.Mutex
	entries map[Key]entry
}

type entry struct {
	// steps yields the container's successive delays: initial doubling
	// to max (apimachinery's wait.Backoff, the one back-off berth uses).
	steps wait.Backoff
	delay time.Duration
	// lastRestart is when the latest restart was admitted; a container
	// that finishes more than 2*max after it has earned a fresh back-off.
	lastRestart time.Time
}

// Option changes a Backoff built by NewBackoff.
type Option func(*Backoff)

// WithLimits replaces the initial delay and the cap (10 s and 5 min by
// default). Values that are not positive, or a cap below the initial delay,
// leave the defaults in place.
func WithLimits(initial, max time.Duration) Option {
	return func(b *Backoff) {
		if initial > 0 && max >= initial {
			b.initial, b.max = initial, max
		}
	}
}

// NewBackoff returns an empty back-off that reads time from clk.
func NewBackoff(clk clock.PassiveClock, opts ...Option) *Backoff {
	b := &Backoff{
		clock:   clk,
		initial: DefaultInitialBackoff,
		max:     DefaultMaxBackoff,
		entries: make(map[Key]entry),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// expired mirrors flowcontrol's hasExpired: a back-off is forgotten once
// the container ran (finished) more than twice the cap after the restart
// that set it.
func (b *Backoff) expired(e entry, finishedAt time.Time) bool {
	return finishedAt.Sub(e.lastRestart) > 2*b.max
}

// NotBefore answers when the container named by key, whose latest attempt
// finished at finishedAt, may be started again, and the back-off in force.
// It changes nothing. A time at or before now means "now"; inBackoff tells
// whether the caller must wait.
func (b *Backoff) NotBefore(key Key, finishedAt time.Time) (at time.Time, delay time.Duration, inBackoff bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notBeforeLocked(key, finishedAt)
}

func (b *Backoff) notBeforeLocked(key Key, finishedAt time.Time) (time.Time, time.Duration, bool) {
	e, ok := b.entries[key]
	if !ok || b.expired(e, finishedAt) {
		return finishedAt, 0, false
	}
	at := finishedAt.Add(e.delay)
	return at, e.delay, b.clock.Now().Before(at)
}

// Admit is the runtime's question before restarting a container that
// finished at finishedAt. If the back-off allows a start now, Admit records
// the restart (so the next one waits longer) and returns ok. Otherwise it
// returns the time the start becomes allowed and the back-off in force,
// for the CrashLoopBackOff message; nothing is recorded.
func (b *Backoff) Admit(key Key, finishedAt time.Time) (ok bool, at time.Time, delay time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at, delay, inBackoff := b.notBeforeLocked(key, finishedAt)
	if inBackoff {
		return false, at, delay
	}
	now := b.clock.Now()
	e, found := b.entries[key]
	if !found || b.expired(e, finishedAt) {
		e = entry{steps: wait.Backoff{Duration: b.initial, Factor: 2, Cap: b.max, Steps: math.MaxInt32}}
	}
	e.delay = e.steps.Step()
	e.lastRestart = now
	b.entries[key] = e
	return true, now, 0
}

// Delay is the back-off that will apply to the container's next crash, 0
// if it has none.
func (b *Backoff) Delay(key Key) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entries[key].delay
}

// Forget drops the back-off of one container.
func (b *Backoff) Forget(key Key) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// ForgetPod drops the back-off of every container of the pod, for when the
// pod is removed from the node.
func (b *Backoff) ForgetPod(podUID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if k.PodUID == podUID {
			delete(b.entries, k)
		}
	}
}

// GC drops entries whose last restart is more than twice the cap in the
// past; they could no longer delay anything.
func (b *Backoff) GC() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	for k, e := range b.entries {
		if now.Sub(e.lastRestart) > 2*b.max {
			delete(b.entries, k)
		}
	}
}

// Len is the number of containers with a back-off recorded.
func (b *Backoff) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// Message is the kubelet's text for a container held in back-off, shown as
// the CrashLoopBackOff waiting message, e.g. "back-off 20s restarting
// failed container=app pod=web_default(uid)".
func Message(delay time.Duration, container, podName, podNamespace, podUID string) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, container, podName, podNamespace, podUID)
}
