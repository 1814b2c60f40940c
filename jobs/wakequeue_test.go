package jobs

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitResult is what a Wait running in the background returned.
type waitResult struct {
	keys []string
	err  error
}

func waitAsync(ctx context.Context, q *WakeQueue) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		keys, err := q.Wait(ctx)
		ch <- waitResult{keys, err}
	}()
	return ch
}

// untilBlocked waits (bounded) until the fake clock has n timers: the
// goroutine under test is then parked on the timer, and stepping the clock
// is what releases it. This waits for a goroutine to reach a line, not for
// time to pass.
func untilBlocked(t *testing.T, fc *clocktesting.FakeClock, n int) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if fc.Waiters() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("Wait never set its timer (%d waiters)", fc.Waiters())
}

func TestWakeQueue(t *testing.T) {
	for _, tc := range []struct {
		name string
		// set are the wake-ups, relative to t0
		set  map[string]time.Duration
		step time.Duration
		want []string
	}{
		{name: "keys due now come out at once, ties by key", set: map[string]time.Duration{"b": 0, "a": 0, "c": time.Minute}, step: 0, want: []string{"a", "b"}},
		{name: "a later key waits for the clock", set: map[string]time.Duration{"a": time.Minute}, step: time.Minute, want: []string{"a"}},
		{name: "every key due by then, in time order", set: map[string]time.Duration{"x": 30 * time.Second, "y": 10 * time.Second, "z": 2 * time.Minute}, step: time.Minute, want: []string{"y", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := clocktesting.NewFakeClock(t0)
			q := NewWakeQueue(fc)
			for k, d := range tc.set {
				q.Set(k, t0.Add(d))
			}
			ch := waitAsync(context.Background(), q)
			if tc.step > 0 {
				untilBlocked(t, fc, 1)
				fc.Step(tc.step)
			}
			r := <-ch
			if r.err != nil || !slices.Equal(r.keys, tc.want) {
				t.Errorf("Wait = %q, %v; want %q", r.keys, r.err, tc.want)
			}
		})
	}

	t.Run("Set replaces a key's time; Remove and a zero time forget it", func(t *testing.T) {
		fc := clocktesting.NewFakeClock(t0)
		q := NewWakeQueue(fc)
		q.Set("a", t0.Add(time.Hour))
		q.Set("a", t0.Add(time.Minute))
		q.Set("b", t0.Add(time.Minute))
		q.Set("c", t0.Add(time.Minute))
		q.Remove("b")
		q.Set("c", time.Time{})
		if q.Len() != 1 {
			t.Fatalf("Len = %d, want 1", q.Len())
		}
		ch := waitAsync(context.Background(), q)
		untilBlocked(t, fc, 1)
		fc.Step(time.Minute)
		if r := <-ch; !slices.Equal(r.keys, []string{"a"}) {
			t.Errorf("Wait = %q", r.keys)
		}
	})

	t.Run("an earlier Set wakes a Wait blocked on a later timer", func(t *testing.T) {
		fc := clocktesting.NewFakeClock(t0)
		q := NewWakeQueue(fc)
		q.Set("late", t0.Add(time.Hour))
		ch := waitAsync(context.Background(), q)
		untilBlocked(t, fc, 1)
		q.Set("soon", t0.Add(time.Second))
		fc.Step(time.Second)
		// Without the kick Wait would sleep on the hour-long timer.
		select {
		case r := <-ch:
			if !slices.Equal(r.keys, []string{"soon"}) {
				t.Errorf("Wait = %q, want soon", r.keys)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not notice the earlier key")
		}
	})

	t.Run("Wait on an empty queue returns when the context ends", func(t *testing.T) {
		q := NewWakeQueue(clocktesting.NewFakeClock(t0))
		ctx, cancel := context.WithCancel(context.Background())
		ch := waitAsync(ctx, q)
		cancel()
		if r := <-ch; !errors.Is(r.err, context.Canceled) {
			t.Errorf("Wait error = %v", r.err)
		}
	})
}

// TestWakeQueueRealClock runs the queue on the real clock it will run on
// in the server: a key set a little in the future comes out, and not
// before its time.
func TestWakeQueueRealClock(t *testing.T) {
	c := clock.RealClock{}
	q := NewWakeQueue(c)
	at := c.Now().Add(50 * time.Millisecond)
	q.Set("a", at)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := q.Wait(ctx)
	if err != nil || !slices.Equal(keys, []string{"a"}) {
		t.Fatalf("Wait = %q, %v", keys, err)
	}
	if c.Now().Before(at) {
		t.Errorf("woke before the key's time")
	}
}
