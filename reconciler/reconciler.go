package reconciler

import (
	"context"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/serviceaddr"
	corev1 "k8s.io/api/core/v1"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/fencing"
	"github.com/berth-dev/berth/scheduler"
)

// Source is where desired state comes from: gitsource in the server, a
// fixed list in tests.
type Source interface {
	// Current is the newest revision that decoded and validated cleanly,
	// or nil before the first.
	Current() *Desired
	// Updated signals after Current changed.
	Updated() <-chan struct{}
	// Info describes the source for `berth status`: repository, ref, path,
	// fetch times and errors, and a revision refused for its manifests.
	// The reconciler adds what it knows: the applied revision and a
	// revision refused because its pods do not fit.
	Info() api.SyncStatus
}

// RevisionSource is a Source that can also give an older revision. After a
// restart the reconciler uses it to keep running the revision it had
// applied when the newest one is refused (its pods do not fit).
type RevisionSource interface {
	Source
	At(revision string) (*Desired, error)
}

// HeartbeatSource tells when this process last received a heartbeat
// from a node, as a reading of its clock (with Go's monotonic reading
// when the clock is real); ok is false for none yet.
type HeartbeatSource interface {
	LastHeartbeat(node string) (at time.Time, ok bool)
}

// Config configures a Reconciler.
type Config struct {
	Store  Store
	Source Source
	// Clock is read for every decision and drives waits (default: real).
	Clock clock.WithTicker
	// Logger receives progress (default: slog.Default()).
	Logger *slog.Logger
	// Strategy ranks nodes for placement (default spread).
	Strategy scheduler.Strategy
	// NodeTimeout is how long a node may miss heartbeats before it is
	// NotReady and its pods move (default 40 s).
	NodeTimeout time.Duration
	// Heartbeats, when set, are the node heartbeats this process
	// received, read on its clock (the Membership serving the agents):
	// node liveness is then measured from them, on the monotonic clock
	// (nodes.go). Without it, from changes of the stored heartbeats.
	Heartbeats HeartbeatSource
	// FenceGrace is how much longer than NodeTimeout the pods of a
	// NotReady node wait before they move, so its agent has stopped them
	// first (package fencing; default fencing.DefaultGrace).
	FenceGrace time.Duration
	// Resync bounds the wait between two passes when nothing happens
	// (default 10 s).
	Resync time.Duration
	// FullResync bounds the time between two passes that sync every
	// work key, not only those a change or a deadline made due: the
	// safety net of the work queue (default 5 min).
	FullResync time.Duration
	// LocalZone is the zone of CronJobs without spec.timeZone (default:
	// time.Local).
	LocalZone *time.Location
	// ServiceCIDR is where Services' cluster IPs come from (default
	// serviceaddr.DefaultServiceCIDR).
	ServiceCIDR netip.Prefix
	// Configs receives each admitted revision's ConfigMaps and Secrets for
	// the agents' lists (nil: none are sent).
	Configs *ConfigFeed
}

func (c *Config) setDefaults() error {
	if c.Store == nil || c.Source == nil {
		return errors.New("reconciler: Store and Source are required")
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 40 * time.Second
	}
	if c.FenceGrace <= 0 {
		c.FenceGrace = fencing.DefaultGrace(c.NodeTimeout)
	}
	if c.Resync <= 0 {
		c.Resync = 10 * time.Second
	}
	if c.FullResync <= 0 {
		c.FullResync = 5 * time.Minute
	}
	if c.LocalZone == nil {
		c.LocalZone = time.Local
	}
	if !c.ServiceCIDR.IsValid() {
		c.ServiceCIDR = serviceaddr.DefaultServiceCIDR
	}
	return nil
}

// Reconciler is the control loop. Every pass is level-triggered: it reads
// the desired state and the store, and writes the difference, each step in
// one store transaction, so running it twice, or after a crash at any
// line, does no harm.
type Reconciler struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex // one pass at a time; guards the fields below
	// applied is the admitted revision whose objects are running; nil
	// after a restart until a revision is admitted (meanwhile the pods in
	// the store keep running as they are).
	applied *desiredIndex
	// view is applied for readers outside a pass (the API), which must not
	// wait for a pass to end.
	view atomic.Pointer[desiredIndex]
	// refused is the revision last refused for capacity, and the cluster
	// fingerprint it was refused on: admission is tried again only when
	// the cluster changes.
	refused     string
	refusedOn   string
	refusedWhy  *api.RejectedRevision
	lastSyncRec []byte
	// alloc gives Services their cluster IPs and node ports.
	alloc *serviceaddr.Allocator

	// workloadsWrote is whether the last workload pass changed the store
	// (see syncWorkloads).
	workloadsWrote bool
	lag            syncLag // for berth_sync_lag_seconds (metrics.go)

	// The workload pass syncs only the work keys due (workqueue.go):
	// queue holds them; seen is the store version whose changes are
	// queued, synced the revision whose changes are, lastFull when every
	// key was last synced. workloadsIdle is whether the last pass had no
	// key due, and scheduleOK whether the last scheduling succeeded: an
	// idle pass after one schedules nothing anew.
	queue         *workQueue
	seen          uint64
	synced        *desiredIndex
	lastFull      time.Time
	workloadsIdle bool
	scheduleOK    bool
	// sightings are when each node's stored heartbeat was seen to change
	// (nodes.go).
	sightings map[string]sighting
}

// Services returns the applied revision's Services with their allocated
// cluster IP and node ports, sorted by namespace and name.
func (r *Reconciler) Services() []*corev1.Service {
	v := r.view.Load()
	if v == nil {
		return nil
	}
	return v.services
}

// New returns a Reconciler; call Run, or ReconcileOnce in tests.
func New(cfg Config) (*Reconciler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	alloc, err := serviceaddr.New(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("reconciler: %w", err)
	}
	return &Reconciler{cfg: cfg, log: cfg.Logger.With("component", "reconciler"), alloc: alloc}, nil
}

// Applied returns the revision whose objects are running, or "".
func (r *Reconciler) Applied() string {
	if v := r.view.Load(); v != nil {
		return v.Revision
	}
	return ""
}

func (r *Reconciler) setApplied(idx *desiredIndex) {
	r.applied = idx
	r.view.Store(idx)
}

// Run reconciles on every new revision, every store change (node and pod
// status reports), at the times the controllers asked to be woken, and at
// least every Resync, until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	go func() {
		var since uint64
		for {
			v, err := r.cfg.Store.WaitChange(ctx, since)
			if err != nil {
				return
			}
			since = v
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	// A failed pass is retried after 1s, doubling while it keeps failing,
	// up to Resync (apimachinery's wait.Backoff, the one back-off berth
	// uses); a pass that succeeds starts it over.
	newRetry := func() wait.Backoff {
		return wait.Backoff{Duration: time.Second, Factor: 2, Cap: r.cfg.Resync, Steps: math.MaxInt32}
	}
	retry := newRetry()
	for {
		wake, err := r.ReconcileOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Error("reconcile", "err", err)
		}
		next := r.cfg.Resync
		if !wake.IsZero() {
			next = min(next, max(wake.Sub(r.cfg.Clock.Now()), 10*time.Millisecond))
		}
		if err != nil {
			next = min(next, retry.Step())
		} else {
			retry = newRetry()
		}
		t := r.cfg.Clock.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.cfg.Source.Updated():
		case <-changed:
		case <-t.C():
		}
		t.Stop()
	}
}

// ReconcileOnce runs one pass and returns when the next pass is due at the
// latest (zero: no deadline of its own).
func (r *Reconciler) ReconcileOnce(ctx context.Context) (wake time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func(start time.Time) { observePass(start, err) }(time.Now())
	now := r.cfg.Clock.Now()
	var errs []error
	wake, err = r.syncNodes(now)
	if err != nil {
		errs = append(errs, fmt.Errorf("nodes: %w", err))
	}
	if err := r.admitNewest(now); err != nil {
		errs = append(errs, fmt.Errorf("admit: %w", err))
	}
	w, view, err := r.syncWorkloads(now)
	if err != nil {
		errs = append(errs, fmt.Errorf("workloads: %w", err))
	}
	wake = earliest(wake, w)
	// A plan refused as stale is placed again at once, on a fresh view, a
	// few times. When no pod or node changed since a scheduling that
	// succeeded (the workload pass had no key due), it would place
	// nothing new.
	if !r.workloadsIdle || !r.scheduleOK {
		for attempt := 0; attempt < 3; attempt++ {
			err = r.schedule(view, now)
			view = nil
			if !errors.Is(err, scheduler.ErrStale) {
				break
			}
			r.log.Info("scheduling plan was stale; placing again", "attempt", attempt+1)
		}
		r.scheduleOK = err == nil
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: %w", err))
		}
	}
	if err := r.writeSync(now); err != nil {
		errs = append(errs, fmt.Errorf("status: %w", err))
	}
	return wake, errors.Join(errs...)
}

func event(now time.Time, typ, reason, kind, ns, name, msg string) api.Event {
	return api.Event{Time: now, Type: typ, Reason: reason, Kind: kind, Namespace: ns, Name: name, Message: msg}
}

// earliest is the earlier of two wake-up times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
