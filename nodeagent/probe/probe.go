package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Kind is which of a container's probes a result belongs to.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

var kinds = [...]Kind{Startup, Liveness, Readiness}

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Result is a probe's standing answer.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

// Execer runs a command in the probed container and returns its output
// (stdout, then stderr) and exit code. It keeps at most MaxExecOutput
// bytes of each stream, reading and dropping the rest so the command never
// blocks on a full pipe, and must stop and return when ctx ends (the
// probe's or the hook's timeout).
type Execer interface {
	Exec(ctx context.Context, cmd []string) (output []byte, exitCode int, err error)
}

// MaxExecOutput bounds what an Execer keeps of each stream of an exec
// probe or hook, as the kubelet bounds an exec probe's output (10 KiB).
const MaxExecOutput = 10 << 10

// Event reports a probe whose result changed.
type Event struct {
	Container string
	Kind      Kind
	Result    Result
	// Output says why a probe failed, as the kubelet words it.
	Output string
	At     time.Time
}

// Defaults the API server applies to a probe, which a manifest read from
// a file has not been through.
const (
	DefaultPeriodSeconds    = 10
	DefaultTimeoutSeconds   = 1
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// ErrUnsupported marks a probe berth cannot run (gRPC, or none of the
// handlers set).
var ErrUnsupported = errors.New("unsupported probe")

// Prober runs the probes of one container. Its methods are safe for
// concurrent use.
type Prober struct {
	container string
	clock     clock.Clock
	notify    func(Event)
	exec      Execer
	podIP     string
	client    *http.Client

	wake chan struct{}

	mu        sync.Mutex
	workers   [3]*worker // indexed by Kind; nil when the container has no such probe
	running   bool
	startedAt time.Time
	attempt   uint64 // bumped per attempt, so a probe finishing late cannot touch the next one
}

type worker struct {
	kind Kind
	spec corev1.Probe
	run  func(ctx context.Context) (Result, string, error)

	result     Result
	lastResult Result
	resultRun  int32
	onHold     bool
	output     string
	nextAt     time.Time
	inFlight   bool
	// triggered asks for a run now, off the tick schedule, which stays as
	// it is (the kubelet's manual trigger of a readiness probe).
	triggered bool
	// lastRaw and lastOutput are the latest run's own answer, before the
	// thresholds, for messages.
	lastRaw    Result
	lastOutput string
}

// Option configures a Prober.
type Option func(*Prober)

// WithNotify sets a function called, outside the Prober's lock, with every
// change of a result. It must not block for long: probes wait for it.
func WithNotify(f func(Event)) Option { return func(p *Prober) { p.notify = f } }

// WithHTTPClient replaces the client HTTP probes use; the default follows
// the kubelet (no keep-alive, no proxy, TLS unverified, redirects followed
// only to the same host).
func WithHTTPClient(c *http.Client) Option { return func(p *Prober) { p.client = c } }

// New returns a Prober for container c, whose pod has the address podIP,
// reading time from clk. exec runs exec probes and may be nil when c has
// none. It fails for a probe it cannot run (gRPC, a named port the
// container does not declare, an exec probe without an Execer).
func New(c *corev1.Container, podIP string, exec Execer, clk clock.Clock, opts ...Option) (*Prober, error) {
	p := &Prober{
		container: c.Name,
		clock:     clk,
		exec:      exec,
		podIP:     podIP,
		wake:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(p)
	}
	if p.client == nil {
		p.client = newHTTPClient()
	}
	specs := map[Kind]*corev1.Probe{Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Startup: c.StartupProbe}
	var errs []error
	for _, k := range kinds {
		spec := specs[k]
		if spec == nil {
			continue
		}
		w, err := p.newWorker(k, spec, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %s probe: %w", c.Name, k, err))
			continue
		}
		p.workers[k] = w
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func withDefaults(s corev1.Probe) corev1.Probe {
	if s.PeriodSeconds <= 0 {
		s.PeriodSeconds = DefaultPeriodSeconds
	}
	if s.TimeoutSeconds <= 0 {
		s.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if s.SuccessThreshold <= 0 {
		s.SuccessThreshold = DefaultSuccessThreshold
	}
	if s.FailureThreshold <= 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	if s.InitialDelaySeconds < 0 {
		s.InitialDelaySeconds = 0
	}
	return s
}

// initialResult is the kubelet's: not ready until proven, alive until
// proven dead, not started until known.
func initialResult(k Kind) Result {
	switch k {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

func (p *Prober) newWorker(k Kind, spec *corev1.Probe, c *corev1.Container) (*worker, error) {
	w := &worker{kind: k, spec: withDefaults(*spec), result: initialResult(k)}
	run, err := p.handler(&w.spec.ProbeHandler, c)
	if err != nil {
		return nil, err
	}
	w.run = run
	return w, nil
}

// ContainerStarted tells the Prober that a new attempt of the container
// started at startedAt: every result goes back to its initial value and
// the probes are scheduled from that time.
func (p *Prober) ContainerStarted(startedAt time.Time) {
	var events []Event
	p.mu.Lock()
	p.running = true
	p.startedAt = startedAt
	p.attempt++
	for _, w := range p.workers {
		if w == nil {
			continue
		}
		if w.result != initialResult(w.kind) {
			events = append(events, p.event(w, initialResult(w.kind), ""))
		}
		w.result = initialResult(w.kind)
		w.lastResult = Unknown
		w.resultRun = 0
		w.onHold = false
		w.output = ""
		w.inFlight = false
		w.triggered = false
		w.lastRaw, w.lastOutput = Unknown, ""
		w.nextAt = startedAt.Add(time.Duration(w.spec.InitialDelaySeconds) * time.Second)
	}
	p.mu.Unlock()
	p.emit(events)
	p.poke()
}

// ContainerStopped tells the Prober the attempt has ended: every result
// turns to Failure (the kubelet's view of a container that is not
// running) and nothing is probed until the next ContainerStarted.
func (p *Prober) ContainerStopped() {
	var events []Event
	p.mu.Lock()
	p.running = false
	p.attempt++
	for _, w := range p.workers {
		if w == nil {
			continue
		}
		if w.result != Failure {
			events = append(events, p.event(w, Failure, "container is not running"))
		}
		w.result = Failure
		w.inFlight = false
	}
	p.mu.Unlock()
	p.emit(events)
	p.poke()
}

// Started reports whether the running container counts as started: it
// has no startup probe, or that probe has succeeded (podstatus
// Container.Started).
func (p *Prober) Started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startedLocked()
}

func (p *Prober) startedLocked() bool {
	if !p.running {
		return false
	}
	w := p.workers[Startup]
	return w == nil || w.result == Success
}

// Ready reports whether the running container is started and has no
// readiness probe or its probe stands at Success (podstatus
// Container.Ready).
func (p *Prober) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.startedLocked() {
		return false
	}
	w := p.workers[Readiness]
	return w == nil || w.result == Success
}

// Healthy reports false when the liveness or startup probe has failed
// for the current attempt: the runtime is to kill the container. The
// message says which probe and why, as the kubelet's kill reason does.
func (p *Prober) Healthy() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return true, ""
	}
	for _, k := range []Kind{Liveness, Startup} {
		if w := p.workers[k]; w != nil && w.result == Failure {
			return false, fmt.Sprintf("Container %s failed %s probe: %s", p.container, lower(k), w.output)
		}
	}
	return true, ""
}

// Result is the standing result of one probe and whether the container
// has that probe at all.
func (p *Prober) Result(k Kind) (Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k < 0 || int(k) >= len(p.workers) || p.workers[k] == nil {
		return Unknown, false
	}
	return p.workers[k].result, true
}

// Last is the latest run of one probe as it came, before thresholds: a
// single failure shows here while the standing Result still holds. Its
// output is the kubelet's "Unhealthy" event text.
func (p *Prober) Last(k Kind) (Result, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k < 0 || int(k) >= len(p.workers) || p.workers[k] == nil {
		return Unknown, ""
	}
	return p.workers[k].lastRaw, p.workers[k].lastOutput
}

func lower(k Kind) string {
	switch k {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	}
	return "startup"
}

func (p *Prober) event(w *worker, r Result, output string) Event {
	return Event{Container: p.container, Kind: w.kind, Result: r, Output: output, At: p.clock.Now()}
}

func (p *Prober) emit(events []Event) {
	if p.notify == nil {
		return
	}
	for _, e := range events {
		p.notify(e)
	}
}

func (p *Prober) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// due reports whether w should run now, and reschedules it if a run is
// skipped, as the kubelet's ticker would fire and do nothing.
func (p *Prober) dueLocked(w *worker, now time.Time) bool {
	if !p.running || w.inFlight || w.nextAt.IsZero() || (now.Before(w.nextAt) && !w.triggered) {
		return false
	}
	skip := w.onHold
	startupDone := p.workers[Startup] == nil || p.workers[Startup].result == Success
	if w.kind == Startup {
		skip = skip || startupDone
	} else {
		skip = skip || !startupDone
	}
	if skip {
		w.triggered = false
		p.rescheduleLocked(w, now)
		return false
	}
	return true
}

// rescheduleLocked moves nextAt to the first period boundary after now,
// dropping missed ticks as a ticker does.
func (p *Prober) rescheduleLocked(w *worker, now time.Time) {
	period := time.Duration(w.spec.PeriodSeconds) * time.Second
	if w.nextAt.IsZero() {
		w.nextAt = now
	}
	if now.Before(w.nextAt) {
		return
	}
	w.nextAt = w.nextAt.Add((now.Sub(w.nextAt)/period + 1) * period)
}

// NextAt is when the next probe is due, and false when none is (the
// container is not running, or has no probes).
func (p *Prober) NextAt() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	var next time.Time
	for _, w := range p.workers {
		if w == nil || w.inFlight || !p.running || w.nextAt.IsZero() {
			continue
		}
		// Skipped runs are rescheduled here, so a caller sleeping until
		// NextAt does not wake for a probe that would not run.
		due := p.dueLocked(w, now) // may move a skipped run's nextAt
		at := w.nextAt
		if due {
			at = now
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// Step runs, concurrently, every probe due at the clock's present time and
// returns when they are done.
func (p *Prober) Step(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range p.claimDue() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.probe(ctx, w)
		}()
	}
	wg.Wait()
}

type claim struct {
	w       *worker
	attempt uint64
}

func (p *Prober) claimDue() []claim {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	var out []claim
	for _, w := range p.workers {
		if w != nil && p.dueLocked(w, now) {
			w.inFlight = true
			w.triggered = false
			out = append(out, claim{w: w, attempt: p.attempt})
		}
	}
	return out
}

// probe runs one claimed probe and records its result with the kubelet's
// threshold rules.
func (p *Prober) probe(ctx context.Context, c claim) {
	w := c.w
	result, output, err := p.runWithRetries(ctx, w)

	var events []Event
	p.mu.Lock()
	if c.attempt != p.attempt {
		// The attempt ended or a new one began while we probed.
		p.mu.Unlock()
		return
	}
	w.inFlight = false
	p.rescheduleLocked(w, p.clock.Now())
	if err == nil && ctx.Err() == nil {
		w.lastRaw, w.lastOutput = result, output
		events = p.recordLocked(w, result, output)
	}
	p.mu.Unlock()
	p.emit(events)
	p.poke()
}

// maxRetries is the kubelet's maxProbeRetries: a probe that errors (as
// opposed to failing) is tried again at once, and a run that only errors
// leaves the result as it was.
const maxRetries = 3

func (p *Prober) runWithRetries(ctx context.Context, w *worker) (Result, string, error) {
	var err error
	for range maxRetries {
		var r Result
		var out string
		tctx, cancel := p.withTimeout(ctx, time.Duration(w.spec.TimeoutSeconds)*time.Second)
		r, out, err = w.run(tctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return r, out, err
		}
	}
	return Unknown, "", err
}

// errTimeout is the cause of a probe context that ran out of time.
var errTimeout = errors.New("probe timed out")

// withTimeout is context.WithTimeout on the Prober's clock, so a fake
// clock decides when a probe times out.
func (p *Prober) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return WithClockTimeout(ctx, p.clock, d, errTimeout)
}

// WithClockTimeout is context.WithTimeoutCause on clk, so a fake clock
// decides when a probe or a hook runs out of time: after d the context
// ends with cause.
func WithClockTimeout(ctx context.Context, clk clock.Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithCancelCause(ctx)
	timer := clk.NewTimer(d)
	done := make(chan struct{})
	go func() {
		defer timer.Stop()
		select {
		case <-timer.C():
			cancel(cause)
		case <-done:
		}
	}()
	return tctx, func() {
		close(done)
		cancel(context.Canceled)
	}
}

func (p *Prober) recordLocked(w *worker, result Result, output string) []Event {
	if w.lastResult == result {
		w.resultRun++
	} else {
		w.lastResult = result
		w.resultRun = 1
	}
	if (result == Failure && w.resultRun < w.spec.FailureThreshold) ||
		(result == Success && w.resultRun < w.spec.SuccessThreshold) {
		return nil
	}
	var events []Event
	if w.result != result {
		events = append(events, p.event(w, result, output))
	}
	w.result = result
	w.output = output
	if result == Failure && (w.kind == Liveness || w.kind == Startup) {
		// The container is to be killed; nothing to probe until the next
		// attempt.
		w.onHold = true
		w.resultRun = 0
	}
	if result == Success && w.kind == Startup {
		// The kubelet probes readiness at once when a container turns
		// started, rather than on its next tick.
		if r := p.workers[Readiness]; r != nil && !r.inFlight {
			now := p.clock.Now()
			if !now.Before(p.startedAt.Add(time.Duration(r.spec.InitialDelaySeconds) * time.Second)) {
				r.triggered = true
			}
		}
	}
	return events
}

// Run probes until ctx ends, sleeping on the clock until the next probe
// is due or the container starts or stops. Each probe runs on its own, so
// a slow one does not hold the others up.
func (p *Prober) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		for _, c := range p.claimDue() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.probe(ctx, c)
			}()
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if next, ok := p.NextAt(); ok {
			timer = p.clock.NewTimer(max(next.Sub(p.clock.Now()), 0))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-fire:
		case <-p.wake:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}
