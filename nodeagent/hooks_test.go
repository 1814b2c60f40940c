package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/nodeagent/probe"
)

var hookT0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// timerClock is a fake clock that announces every timer made on it, so a
// test steps the clock only once the code under test waits on it.
type timerClock struct {
	*clocktesting.FakeClock
	made chan time.Duration
}

func (c timerClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.made <- d
	return t
}

// fakeTask is a running container that logs, on the clock, what is done
// to it. With exitOn set it exits on that signal.
type fakeTask struct {
	clk    clock.PassiveClock
	exitOn syscall.Signal

	mu   sync.Mutex
	log  []string
	done chan struct{}
	once sync.Once
}

func (f *fakeTask) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("%s@%s", s, f.clk.Since(hookT0)))
}

func (f *fakeTask) signal(_ context.Context, sig syscall.Signal) error {
	f.note(map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL"}[sig])
	if sig == f.exitOn || sig == syscall.SIGKILL {
		f.exit()
	}
	return nil
}

func (f *fakeTask) exit()                     { f.once.Do(func() { close(f.done) }) }
func (f *fakeTask) exitedCh() <-chan struct{} { return f.done }
func (f *fakeTask) name() string              { return "app" }

// step is one move of the clock, made once the timers listed (in any
// order) have been made.
type step struct {
	timers  []time.Duration
	advance time.Duration
	// exit makes the container end by itself after this step's timers
	// are made and before the clock moves.
	exit bool
}

func TestStopContainerOrderAndGrace(t *testing.T) {
	s := time.Second
	// sleepHook is a preStop hook that takes d on the clock (a sleep
	// handler); failHook one that fails at once.
	sleepHook := func(clk clock.Clock, f *fakeTask, d time.Duration) func(context.Context) error {
		return func(ctx context.Context) error {
			f.note("hook")
			t := clk.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C():
				f.note("hook done")
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	tests := []struct {
		name     string
		grace    time.Duration
		hook     string // "", "5s", "hang", "fail"
		exitOn   syscall.Signal
		steps    []step
		want     []string
		wantHook error // nil: the hook succeeded or did not run
	}{
		{name: "no hook: SIGTERM at once, the app exits",
			grace: 30 * s, exitOn: syscall.SIGTERM,
			steps: []step{{timers: []time.Duration{30 * s}}},
			want:  []string{"TERM@0s"}},
		{name: "no hook, SIGTERM ignored: SIGKILL after the grace period",
			grace: 30 * s,
			steps: []step{{timers: []time.Duration{30 * s}, advance: 30 * s}},
			want:  []string{"TERM@0s", "KILL@30s"}},
		{name: "preStop runs first and its time comes out of the grace period",
			grace: 30 * s, hook: "5s",
			steps: []step{
				{timers: []time.Duration{30 * s, 5 * s}, advance: 5 * s},
				{timers: []time.Duration{25 * s}, advance: 25 * s},
			},
			want: []string{"hook@0s", "hook done@5s", "TERM@5s", "KILL@30s"}},
		{name: "preStop that outlives the grace period: timed out, SIGTERM still gets 2s",
			grace: 10 * s, hook: "hang",
			steps: []step{
				{timers: []time.Duration{10 * s, time.Hour}, advance: 10 * s},
				{timers: []time.Duration{2 * s}, advance: 2 * s},
			},
			want:     []string{"hook@0s", "TERM@10s", "KILL@12s"},
			wantHook: errPreStopTimeout},
		{name: "a failing preStop is reported and the stop goes on",
			grace: 30 * s, hook: "fail", exitOn: syscall.SIGTERM,
			steps:    []step{{timers: []time.Duration{30 * s, 30 * s}}},
			want:     []string{"hook@0s", "TERM@0s"},
			wantHook: probe.ErrHook},
		{name: "the container ends during its hook: nothing to signal, no failure",
			grace: 30 * s, hook: "hang",
			steps: []step{{timers: []time.Duration{30 * s, time.Hour}, exit: true}},
			want:  []string{"hook@0s"}},
		{name: "no grace period: no hook, SIGKILL",
			grace: 0, hook: "5s",
			want: []string{"KILL@0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := timerClock{FakeClock: clocktesting.NewFakeClock(hookT0), made: make(chan time.Duration, 16)}
			f := &fakeTask{clk: clk, exitOn: tt.exitOn, done: make(chan struct{})}
			var hook func(context.Context) error
			switch tt.hook {
			case "5s":
				hook = sleepHook(clk, f, 5*s)
			case "hang":
				hook = sleepHook(clk, f, time.Hour)
			case "fail":
				hook = func(context.Context) error { f.note("hook"); return fmt.Errorf("%w: exited with 1", probe.ErrHook) }
			}
			type result struct{ hookErr, err error }
			res := make(chan result, 1)
			go func() {
				h, err := stopContainer(context.Background(), clk, f, hook, tt.grace)
				res <- result{h, err}
			}()
			for i, st := range tt.steps {
				var made []time.Duration
				for len(made) < len(st.timers) {
					select {
					case d := <-clk.made:
						made = append(made, d)
					case <-time.After(5 * time.Second):
						t.Fatalf("step %d: timers made %v, want %v; log %v", i, made, st.timers, f.log)
					}
				}
				slices.Sort(made)
				want := slices.Sorted(slices.Values(st.timers))
				if !slices.Equal(made, want) {
					t.Fatalf("step %d: timers made %v, want %v", i, made, want)
				}
				if st.exit {
					f.exit()
				}
				clk.Step(st.advance)
			}
			var r result
			select {
			case r = <-res:
			case <-time.After(5 * time.Second):
				t.Fatalf("stopContainer did not return; log %v", f.log)
			}
			if r.err != nil {
				t.Fatalf("err = %v", r.err)
			}
			if !slices.Equal(f.log, tt.want) {
				t.Fatalf("log %v, want %v", f.log, tt.want)
			}
			switch {
			case tt.wantHook == nil && r.hookErr != nil:
				t.Fatalf("hook error %v, want none", r.hookErr)
			case tt.wantHook != nil && !errors.Is(r.hookErr, tt.wantHook):
				t.Fatalf("hook error %v, want %v", r.hookErr, tt.wantHook)
			}
		})
	}
}

func TestStartBatches(t *testing.T) {
	tests := []struct {
		name  string
		hooks []bool // per container, in spec order: has a postStart hook
		want  [][]int
	}{
		{name: "no hooks: all side by side", hooks: []bool{false, false, false}, want: [][]int{{0, 1, 2}}},
		{name: "a hook on the first holds the rest back", hooks: []bool{true, false, false}, want: [][]int{{0}, {1, 2}}},
		{name: "a hook in the middle", hooks: []bool{false, true, false}, want: [][]int{{0, 1}, {2}}},
		{name: "a hook on the last holds nothing back", hooks: []bool{false, false, true}, want: [][]int{{0, 1, 2}}},
		{name: "every container hooked: one by one", hooks: []bool{true, true}, want: [][]int{{0}, {1}}},
		{name: "none", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := startBatches(len(tt.hooks), func(i int) bool { return tt.hooks[i] })
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("startBatches = %v, want %v", got, tt.want)
			}
		})
	}
}
