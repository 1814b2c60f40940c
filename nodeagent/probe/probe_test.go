package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)

// scriptedExec answers exec probes by the command's first word, from a
// table the test changes between steps.
type scriptedExec struct {
	mu    sync.Mutex
	exit  map[string]int
	err   map[string]error
	calls map[string]int
}

func newScriptedExec() *scriptedExec {
	return &scriptedExec{exit: map[string]int{}, err: map[string]error{}, calls: map[string]int{}}
}

func (e *scriptedExec) Exec(_ context.Context, cmd []string) ([]byte, int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[cmd[0]]++
	return nil, e.exit[cmd[0]], e.err[cmd[0]]
}

func (e *scriptedExec) set(cmd string, exit int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.exit[cmd] = exit
}

func (e *scriptedExec) count(cmd string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[cmd]
}

func execProbeSpec(cmd string, mod func(*corev1.Probe)) *corev1.Probe {
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}}}
	if mod != nil {
		mod(p)
	}
	return p
}

// step is one moment of a probe scenario: the clock moves to at (after
// the container started at t0), the scripted commands answer exits, the
// due probes run, and the Prober's answers are checked.
type step struct {
	at          time.Duration
	exits       map[string]int
	wantReady   bool
	wantStarted bool
	wantHealthy bool
	wantCalls   map[string]int // cumulative, only the commands named
}

func TestProberScenarios(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		container corev1.Container
		steps     []step
	}{
		{
			name:      "no probes: started and ready while running",
			container: corev1.Container{Name: "c"},
			steps:     []step{{at: 0, wantReady: true, wantStarted: true, wantHealthy: true}},
		},
		{
			name: "readiness waits for its initial delay, then follows failureThreshold",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) {
				p.InitialDelaySeconds = 5
				p.PeriodSeconds = 10
			})},
			steps: []step{
				{at: 0, exits: map[string]int{"ready": 0}, wantReady: false, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 0}},
				{at: 4 * s, wantReady: false, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 0}},
				{at: 5 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 1}},
				{at: 14 * s, exits: map[string]int{"ready": 1}, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 1}},
				{at: 15 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 2}},
				{at: 25 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 3}},
				{at: 35 * s, wantReady: false, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 4}},
				{at: 45 * s, exits: map[string]int{"ready": 0}, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 5}},
			},
		},
		{
			name: "readiness successThreshold 2 needs two passes",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) {
				p.PeriodSeconds = 1
				p.SuccessThreshold = 2
			})},
			steps: []step{
				{at: 0, exits: map[string]int{"ready": 0}, wantReady: false, wantStarted: true, wantHealthy: true},
				{at: 1 * s, wantReady: true, wantStarted: true, wantHealthy: true},
			},
		},
		{
			name: "missed ticks are dropped, not replayed",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) {
				p.PeriodSeconds = 1
			})},
			steps: []step{
				{at: 0, exits: map[string]int{"ready": 0}, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 1}},
				{at: 60 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 2}},
				{at: 60*s + 500*time.Millisecond, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 2}},
				{at: 61 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"ready": 3}},
			},
		},
		{
			name: "liveness fails after failureThreshold and then holds",
			container: corev1.Container{Name: "c", LivenessProbe: execProbeSpec("live", func(p *corev1.Probe) {
				p.PeriodSeconds = 2
				p.FailureThreshold = 2
			})},
			steps: []step{
				{at: 0, exits: map[string]int{"live": 1}, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"live": 1}},
				{at: 2 * s, wantReady: true, wantStarted: true, wantHealthy: false, wantCalls: map[string]int{"live": 2}},
				{at: 4 * s, wantReady: true, wantStarted: true, wantHealthy: false, wantCalls: map[string]int{"live": 2}},
				{at: 20 * s, exits: map[string]int{"live": 0}, wantReady: true, wantStarted: true, wantHealthy: false, wantCalls: map[string]int{"live": 2}},
			},
		},
		{
			name: "a success between failures restarts the count",
			container: corev1.Container{Name: "c", LivenessProbe: execProbeSpec("live", func(p *corev1.Probe) {
				p.PeriodSeconds = 1
				p.FailureThreshold = 2
			})},
			steps: []step{
				{at: 0, exits: map[string]int{"live": 1}, wantReady: true, wantStarted: true, wantHealthy: true},
				{at: 1 * s, exits: map[string]int{"live": 0}, wantReady: true, wantStarted: true, wantHealthy: true},
				{at: 2 * s, exits: map[string]int{"live": 1}, wantReady: true, wantStarted: true, wantHealthy: true},
				{at: 3 * s, wantReady: true, wantStarted: true, wantHealthy: false},
			},
		},
		{
			name: "startup gates liveness and readiness, then stops",
			container: corev1.Container{
				Name:           "c",
				StartupProbe:   execProbeSpec("boot", func(p *corev1.Probe) { p.PeriodSeconds = 1; p.FailureThreshold = 30 }),
				LivenessProbe:  execProbeSpec("live", func(p *corev1.Probe) { p.PeriodSeconds = 10 }),
				ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) { p.PeriodSeconds = 10 }),
			},
			steps: []step{
				{at: 0, exits: map[string]int{"boot": 1, "live": 0, "ready": 0}, wantReady: false, wantStarted: false, wantHealthy: true, wantCalls: map[string]int{"boot": 1, "live": 0, "ready": 0}},
				{at: 1 * s, wantReady: false, wantStarted: false, wantHealthy: true, wantCalls: map[string]int{"boot": 2, "live": 0, "ready": 0}},
				{at: 10 * s, wantReady: false, wantStarted: false, wantHealthy: true, wantCalls: map[string]int{"boot": 3, "live": 0, "ready": 0}},
				// Started: readiness is probed at once, not at its next tick.
				{at: 11 * s, exits: map[string]int{"boot": 0}, wantReady: false, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"boot": 4, "live": 0, "ready": 0}},
				{at: 11 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"boot": 4, "live": 0, "ready": 1}},
				{at: 20 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"boot": 4, "live": 1, "ready": 2}},
				{at: 30 * s, wantReady: true, wantStarted: true, wantHealthy: true, wantCalls: map[string]int{"boot": 4, "live": 2, "ready": 3}},
			},
		},
		{
			name: "startup probe failing failureThreshold times asks for a kill",
			container: corev1.Container{
				Name:         "c",
				StartupProbe: execProbeSpec("boot", func(p *corev1.Probe) { p.PeriodSeconds = 1; p.FailureThreshold = 2 }),
			},
			steps: []step{
				{at: 0, exits: map[string]int{"boot": 1}, wantStarted: false, wantHealthy: true},
				{at: 1 * s, wantStarted: false, wantHealthy: false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			ex := newScriptedExec()
			p, err := New(&tt.container, "127.0.0.1", ex, clk)
			if err != nil {
				t.Fatal(err)
			}
			p.ContainerStarted(t0)
			for i, st := range tt.steps {
				clk.SetTime(t0.Add(st.at))
				for cmd, code := range st.exits {
					ex.set(cmd, code)
				}
				p.Step(context.Background())
				healthy, msg := p.Healthy()
				if p.Ready() != st.wantReady || p.Started() != st.wantStarted || healthy != st.wantHealthy {
					t.Fatalf("step %d (t+%v): ready=%v started=%v healthy=%v (%s); want %v %v %v",
						i, st.at, p.Ready(), p.Started(), healthy, msg, st.wantReady, st.wantStarted, st.wantHealthy)
				}
				for cmd, n := range st.wantCalls {
					if got := ex.count(cmd); got != n {
						t.Fatalf("step %d (t+%v): %s ran %d times, want %d", i, st.at, cmd, got, n)
					}
				}
			}
		})
	}
}

func TestNewAttemptResetsResults(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	ex := newScriptedExec()
	c := corev1.Container{
		Name:           "c",
		LivenessProbe:  execProbeSpec("live", func(p *corev1.Probe) { p.FailureThreshold = 1 }),
		ReadinessProbe: execProbeSpec("ready", nil),
	}
	var mu sync.Mutex
	var events []string
	p, err := New(&c, "", ex, clk, WithNotify(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e.Kind.String()+"="+e.Result.String())
	}))
	if err != nil {
		t.Fatal(err)
	}
	p.ContainerStarted(t0)
	ex.set("live", 1)
	p.Step(context.Background())
	healthy, msg := p.Healthy()
	if healthy || !strings.Contains(msg, "Container c failed liveness probe") {
		t.Fatalf("Healthy = %v, %q; want a liveness failure", healthy, msg)
	}
	if !p.Ready() {
		t.Fatal("readiness probe passed but not ready")
	}

	p.ContainerStopped()
	if p.Ready() || p.Started() {
		t.Fatal("a stopped container is ready or started")
	}
	if next, ok := p.NextAt(); ok {
		t.Fatalf("a stopped container has a probe due at %v", next)
	}
	clk.Step(time.Minute)
	p.Step(context.Background())
	if got := ex.count("live"); got != 1 {
		t.Fatalf("probed a stopped container: %d liveness runs", got)
	}

	ex.set("live", 0)
	p.ContainerStarted(clk.Now())
	if healthy, _ := p.Healthy(); !healthy {
		t.Fatal("new attempt starts unhealthy")
	}
	if p.Ready() {
		t.Fatal("new attempt starts ready before its probe passed")
	}
	p.Step(context.Background())
	if got := ex.count("live"); got != 2 {
		t.Fatalf("new attempt not probed: %d liveness runs", got)
	}

	// Probes of one step run concurrently, so compare without order: the
	// first step fails liveness and passes readiness, the stop fails
	// readiness (liveness already was), the new attempt restores liveness
	// and readiness passes again.
	mu.Lock()
	got := slices.Sorted(slices.Values(events))
	mu.Unlock()
	want := []string{"Liveness=Failure", "Liveness=Success", "Readiness=Failure", "Readiness=Success", "Readiness=Success"}
	if !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

func TestExecErrorsLeaveTheResultAlone(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	ex := newScriptedExec()
	ex.err["ready"] = errors.New("container not found")
	c := corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", nil)}
	p, err := New(&c, "", ex, clk)
	if err != nil {
		t.Fatal(err)
	}
	p.ContainerStarted(t0)
	p.Step(context.Background())
	if got := ex.count("ready"); got != maxRetries {
		t.Fatalf("exec tried %d times, want %d", got, maxRetries)
	}
	if r, _ := p.Result(Readiness); r != Failure {
		t.Fatalf("readiness = %v after errors, want its initial Failure", r)
	}
	if next, ok := p.NextAt(); !ok || !next.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("NextAt = %v, %v; want the next period", next, ok)
	}
}

// blockingExec blocks until its context ends, announcing each call.
type blockingExec struct{ entered chan struct{} }

func (b blockingExec) Exec(ctx context.Context, _ []string) ([]byte, int, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return nil, -1, context.Cause(ctx)
}

func TestExecTimeoutOnTheClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	ex := blockingExec{entered: make(chan struct{})}
	c := corev1.Container{Name: "c", LivenessProbe: execProbeSpec("hang", func(p *corev1.Probe) {
		p.TimeoutSeconds = 3
		p.FailureThreshold = 1
	})}
	var events []Event
	p, err := New(&c, "", ex, clk, WithNotify(func(e Event) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	p.ContainerStarted(t0)
	done := make(chan struct{})
	go func() {
		p.Step(context.Background())
		close(done)
	}()
	<-ex.entered
	clk.Step(2 * time.Second)
	select {
	case <-done:
		t.Fatal("probe returned before its timeout")
	default:
	}
	clk.Step(time.Second)
	<-done
	healthy, msg := p.Healthy()
	if healthy || !strings.Contains(msg, "timed out") {
		t.Fatalf("Healthy = %v, %q; want a timeout failure", healthy, msg)
	}
	if len(events) != 1 || events[0].Result != Failure || !strings.Contains(events[0].Output, "timed out") {
		t.Fatalf("events = %+v", events)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name      string
		container corev1.Container
		exec      Execer
		want      string
	}{
		{
			name:      "grpc",
			container: corev1.Container{Name: "c", LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}},
			want:      "grpc probes are not supported",
		},
		{
			name:      "no handler",
			container: corev1.Container{Name: "c", ReadinessProbe: &corev1.Probe{}},
			want:      "no exec, httpGet or tcpSocket handler",
		},
		{
			name:      "exec without an Execer",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("x", nil)},
			want:      "no Execer",
		},
		{
			name:      "unknown named port",
			container: corev1.Container{Name: "c", ReadinessProbe: tcpSpec(namedPort("web"))},
			want:      `port "web" is not a port the container names`,
		},
		{
			name: "bad scheme",
			container: corev1.Container{Name: "c", ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intPort(80), Scheme: "FTP"},
			}}},
			want: `scheme "FTP"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.container, "127.0.0.1", tt.exec, clocktesting.NewFakeClock(t0))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRunDrivenByTheClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	ex := newScriptedExec()
	c := corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) {
		p.InitialDelaySeconds = 30
	})}
	events := make(chan Event, 16)
	p, err := New(&c, "", ex, clk, WithNotify(func(e Event) { events <- e }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(stopped)
	}()
	p.ContainerStarted(t0)
	waitForWaiters(t, clk, 1)
	clk.Step(30 * time.Second)
	e := <-events
	if e.Kind != Readiness || e.Result != Success || !e.At.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("event = %+v", e)
	}
	if !p.Ready() {
		t.Fatal("not ready after the event")
	}
	cancel()
	<-stopped
}

// waitForWaiters waits, bounded, until n goroutines sleep on the fake
// clock, so that stepping it cannot race them getting there.
func waitForWaiters(t *testing.T, clk *clocktesting.FakeClock, n int) {
	t.Helper()
	for range 10000 {
		if clk.Waiters() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %d waiters on the clock", n)
}

func TestNextAt(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		container corev1.Container
		exits     map[string]int
		steps     []time.Duration // run Step at these offsets first
		wantAt    time.Duration
		wantOK    bool
	}{
		{
			name:      "no probes",
			container: corev1.Container{Name: "c"},
			wantOK:    false,
		},
		{
			name:      "first run after the initial delay",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) { p.InitialDelaySeconds = 5 })},
			wantAt:    5 * s,
			wantOK:    true,
		},
		{
			name:      "then every period",
			container: corev1.Container{Name: "c", ReadinessProbe: execProbeSpec("ready", func(p *corev1.Probe) { p.InitialDelaySeconds = 5 })},
			steps:     []time.Duration{5 * s},
			wantAt:    15 * s,
			wantOK:    true,
		},
		{
			name: "gated probes are not announced as due",
			container: corev1.Container{
				Name:          "c",
				StartupProbe:  execProbeSpec("boot", func(p *corev1.Probe) { p.PeriodSeconds = 3; p.FailureThreshold = 10 }),
				LivenessProbe: execProbeSpec("live", func(p *corev1.Probe) { p.PeriodSeconds = 1 }),
			},
			exits:  map[string]int{"boot": 1},
			steps:  []time.Duration{0},
			wantAt: 1 * s, // liveness ticks every second, skipped until started
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			ex := newScriptedExec()
			for cmd, code := range tt.exits {
				ex.set(cmd, code)
			}
			p, err := New(&tt.container, "", ex, clk)
			if err != nil {
				t.Fatal(err)
			}
			p.ContainerStarted(t0)
			for _, at := range tt.steps {
				clk.SetTime(t0.Add(at))
				p.Step(context.Background())
			}
			at, ok := p.NextAt()
			if ok != tt.wantOK || (ok && !at.Equal(t0.Add(tt.wantAt))) {
				t.Fatalf("NextAt = %v, %v; want t0+%v, %v", at.Sub(t0), ok, tt.wantAt, tt.wantOK)
			}
			if ok && at.Before(clk.Now()) {
				t.Fatalf("NextAt %v is in the past", at)
			}
		})
	}
}
