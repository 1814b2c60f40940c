package restart

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// crashLoop drives a container that crashes runFor after every start and
// is restarted as early as the back-off allows, and returns the wait
// before each restart.
func crashLoop(b *Backoff, clk *clocktesting.FakeClock, key Key, crashes int, runFor time.Duration) []time.Duration {
	var waits []time.Duration
	for range crashes {
		clk.Step(runFor)
		finished := clk.Now()
		ok, at, _ := b.Admit(key, finished)
		if !ok {
			clk.SetTime(at)
			if ok, _, _ = b.Admit(key, finished); !ok {
				panic("not admitted at the promised time")
			}
		}
		waits = append(waits, clk.Now().Sub(finished))
	}
	return waits
}

func TestBackoffSequence(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		opts    []Option
		crashes int
		runFor  time.Duration
		want    []time.Duration
	}{
		{
			name:    "kubelet defaults double to the 5 minute cap",
			crashes: 9,
			runFor:  s,
			want:    []time.Duration{0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s},
		},
		{
			name:    "custom limits",
			opts:    []Option{WithLimits(time.Second, 4*time.Second)},
			crashes: 5,
			runFor:  100 * time.Millisecond,
			want:    []time.Duration{0, s, 2 * s, 4 * s, 4 * s},
		},
		{
			name:    "invalid limits keep the defaults",
			opts:    []Option{WithLimits(time.Minute, time.Second)},
			crashes: 3,
			runFor:  s,
			want:    []time.Duration{0, 10 * s, 20 * s},
		},
		{
			name:    "running past twice the cap resets every time",
			crashes: 3,
			runFor:  10*time.Minute + s,
			want:    []time.Duration{0, 0, 0},
		},
		{
			name:    "a run under 10 minutes still waits, counted from the crash",
			crashes: 4,
			runFor:  5 * time.Minute,
			want:    []time.Duration{0, 10 * s, 20 * s, 40 * s},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			b := NewBackoff(clk, tt.opts...)
			got := crashLoop(b, clk, Key{PodUID: "u", Container: "c"}, tt.crashes, tt.runFor)
			if len(got) != len(tt.want) {
				t.Fatalf("waits = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("waits = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestBackoffDoublesWhileRunningUnderTenMinutes(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	b := NewBackoff(clk)
	key := Key{PodUID: "u", Container: "c"}
	// Runs of 5 minutes do not reset the back-off; only a run of more than
	// twice the cap does.
	crashLoop(b, clk, key, 4, 5*time.Minute)
	if got, want := b.Delay(key), 80*time.Second; got != want {
		t.Fatalf("Delay after 4 restarts = %v, want %v", got, want)
	}
	crashLoop(b, clk, key, 1, 10*time.Minute+time.Second)
	if got, want := b.Delay(key), 10*time.Second; got != want {
		t.Fatalf("Delay after a long run = %v, want %v", got, want)
	}
}

func TestNotBefore(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	b := NewBackoff(clk)
	key := Key{PodUID: "u", Container: "c"}

	tests := []struct {
		name          string
		setup         func()
		finishedAt    time.Time
		wantAt        time.Time
		wantDelay     time.Duration
		wantInBackoff bool
	}{
		{
			name:       "unknown container may start at once",
			setup:      func() {},
			finishedAt: t0,
			wantAt:     t0,
		},
		{
			name: "after one restart a crash waits 10s from its finish",
			setup: func() {
				b.Admit(key, t0)
				clk.Step(3 * time.Second)
			},
			finishedAt:    t0.Add(2 * time.Second),
			wantAt:        t0.Add(12 * time.Second),
			wantDelay:     10 * time.Second,
			wantInBackoff: true,
		},
		{
			name:          "once the time has come it is no longer in back-off",
			setup:         func() { clk.SetTime(t0.Add(12 * time.Second)) },
			finishedAt:    t0.Add(2 * time.Second),
			wantAt:        t0.Add(12 * time.Second),
			wantDelay:     10 * time.Second,
			wantInBackoff: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			at, delay, in := b.NotBefore(key, tt.finishedAt)
			if !at.Equal(tt.wantAt) || delay != tt.wantDelay || in != tt.wantInBackoff {
				t.Fatalf("NotBefore = %v, %v, %v; want %v, %v, %v", at, delay, in, tt.wantAt, tt.wantDelay, tt.wantInBackoff)
			}
		})
	}
}

func TestAdmitRefusalRecordsNothing(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	b := NewBackoff(clk)
	key := Key{PodUID: "u", Container: "c"}
	b.Admit(key, t0)
	for range 5 {
		if ok, at, delay := b.Admit(key, t0); ok || !at.Equal(t0.Add(10*time.Second)) || delay != 10*time.Second {
			t.Fatalf("Admit in back-off = %v, %v, %v", ok, at, delay)
		}
	}
	if got := b.Delay(key); got != 10*time.Second {
		t.Fatalf("refused admissions changed the delay to %v", got)
	}
}

func TestForgetAndGC(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	b := NewBackoff(clk)
	a1 := Key{PodUID: "a", Container: "one"}
	a2 := Key{PodUID: "a", Container: "two"}
	other := Key{PodUID: "b", Container: "one"}
	for _, k := range []Key{a1, a2, other} {
		b.Admit(k, t0)
	}
	b.Forget(a1)
	if b.Len() != 2 {
		t.Fatalf("Len after Forget = %d, want 2", b.Len())
	}
	b.ForgetPod("a")
	if b.Len() != 1 || b.Delay(other) == 0 {
		t.Fatalf("ForgetPod removed the wrong entries: len %d", b.Len())
	}
	clk.Step(10 * time.Minute)
	b.GC()
	if b.Len() != 1 {
		t.Fatalf("GC removed an entry still within 2x the cap")
	}
	clk.Step(time.Second)
	b.GC()
	if b.Len() != 0 {
		t.Fatalf("GC kept an expired entry")
	}
}

func TestSpecHashSeparatesBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	b := NewBackoff(clk)
	old := Key{PodUID: "u", Container: "c", SpecHash: "1"}
	edited := Key{PodUID: "u", Container: "c", SpecHash: "2"}
	b.Admit(old, t0)
	if ok, _, _ := b.Admit(edited, t0); !ok {
		t.Fatal("an edited container inherited the old back-off")
	}
}

func TestMessage(t *testing.T) {
	got := Message(20*time.Second, "app", "web", "default", "1234")
	want := "back-off 20s restarting failed container=app pod=web_default(1234)"
	if got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
}
