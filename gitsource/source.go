package gitsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/render"
)

const remoteName = "origin"

// objectCacheSize bounds go-git's cache of decoded objects. Snapshots read
// every tree and blob once, so a large cache buys little and costs memory.
const objectCacheSize = 16 * cache.MiByte

// appliedFile, in Dir, remembers the applied revision across restarts so a
// server that restarts while Git holds a bad commit (or Git is down) comes
// back with the last good snapshot rather than none.
const appliedFile = "berth-applied.json"

// lockFile, in Dir, is flocked while a Source uses the clone.
const lockFile = "berth.lock"

// Source follows one ref of one Git repository and yields validated
// snapshots of it. Create it with New, run Run in a goroutine (or call
// Sync yourself), read Current after each signal on Updated. All methods
// are safe for concurrent use.
type Source struct {
	opts  Options
	ep    *transport.Endpoint
	ref   ref
	log   *slog.Logger
	clock clock.Clock

	trigger chan struct{} // a pending fetch request; capacity 1 coalesces bursts
	// guard paces webhook-triggered fetches and refuses replays; shared
	// by all of the Source's webhooks.
	guard     *hookGuard
	guardOnce sync.Once
	updated   chan struct{} // a new current snapshot; capacity 1

	syncMu sync.Mutex // one Sync at a time; guards the fields up to mu
	repo   *git.Repository
	loader *manifest.Loader // keeps what the newest revision decoded and rendered
	// evaluated is the revision (and trust digest) last verified and
	// built, and result what that gave: a poll that finds the same
	// revision returns the same answer without doing the work again.
	evaluated      string
	result         error
	loggedRejected string
	loggedFetchErr string
	warnedAmbig    bool
	restored       bool
	busy           chan struct{} // closed when an abandoned network call ends
	lock           *os.File      // holds the flock on Dir
	closed         bool

	mu         sync.Mutex // guards the fields below
	current    *Snapshot
	status     Status
	headBranch plumbing.ReferenceName // what the remote's HEAD named last time
}

// Status is what `berth status` shows about a Source. Times are zero when
// the event has not happened yet. Nothing in it holds a credential.
type Status struct {
	// URL is the remote, with any password removed.
	URL string `json:"url"`
	// Ref is the configured ref ("" follows the remote's HEAD) and
	// ResolvedRef the full name it resolved to at the last fetch.
	Ref         string `json:"ref,omitempty"`
	ResolvedRef string `json:"resolvedRef,omitempty"`
	// Path is the directory in the repository that is read.
	Path string `json:"path"`

	// LastAttempt is when the last fetch started, LastSuccess when a
	// fetch last succeeded.
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	// Attempts counts fetches started since the Source was made.
	Attempts int64 `json:"attempts"`
	// ConsecutiveFailures counts failed fetches since the last success.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// FetchError is why the last fetch failed, "" if it succeeded.
	FetchError string `json:"fetchError,omitempty"`
	// NextAttempt is when Run fetches next unless a webhook comes first.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`

	// FetchedRevision is the newest revision fetched, applied or not.
	FetchedRevision string `json:"fetchedRevision,omitempty"`
	// AppliedRevision is the revision of the current snapshot, and
	// AppliedAt when it became current.
	AppliedRevision string    `json:"appliedRevision,omitempty"`
	AppliedAt       time.Time `json:"appliedAt,omitzero"`
	// Rejected is set while the fetched revision is refused.
	Rejected *Rejection `json:"rejected,omitempty"`
}

// Rejection says why the fetched revision is not applied.
type Rejection struct {
	Revision string `json:"revision"`
	Subject  string `json:"subject,omitempty"`
	// Reason is the error, one line per problem.
	Reason string `json:"reason"`
	// Errors lists every manifest problem; empty for signature failures.
	Errors manifest.ErrorList `json:"errors,omitempty"`
	// Since is when the revision was first refused.
	Since time.Time `json:"since"`
}

// New validates opts (filling defaults) and returns a Source. It does no
// I/O beyond reading the configured key files: the first Sync clones.
func New(opts Options) (*Source, error) {
	ep, err := opts.validate()
	if err != nil {
		return nil, err
	}
	r, err := parseRef(opts.Ref)
	if err != nil {
		return nil, fmt.Errorf("%w: Ref: %v", ErrInvalidOptions, err)
	}
	s := &Source{
		opts:    opts,
		ep:      ep,
		ref:     r,
		log:     opts.Logger.With("source", RedactURL(opts.URL)),
		clock:   opts.Clock,
		trigger: make(chan struct{}, 1),
		updated: make(chan struct{}, 1),
	}
	s.status = Status{URL: RedactURL(opts.URL), Ref: opts.Ref, Path: opts.Path}
	return s, nil
}

// Current returns the current good snapshot, or nil before the first one.
func (s *Source) Current() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Updated signals after the current snapshot changed. Signals coalesce:
// a reader that was busy sees one signal and reads the newest snapshot with
// Current. It is meant for a single reader.
func (s *Source) Updated() <-chan struct{} { return s.updated }

// Status returns a copy of the Source's status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if st.Rejected != nil {
		r := *st.Rejected
		st.Rejected = &r
	}
	return st
}

// Trigger asks Run to fetch now. Any number of calls before that fetch
// starts lead to one fetch.
func (s *Source) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Close releases the clone in Dir; Sync and Run then return ErrClosed.
// The current snapshot stays readable. A network call abandoned after its
// Timeout (see Sync) may outlive Close until the server answers or drops
// the connection.
func (s *Source) Close() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.repo != nil {
		if c, ok := s.repo.Storer.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		s.repo = nil
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}

// Run fetches at once, then on every interval (with jitter), after
// failures with exponential backoff, and whenever Trigger is called, until
// ctx ends or the Source is closed. It returns ctx's error or ErrClosed.
func (s *Source) Run(ctx context.Context) error {
	for {
		err := s.Sync(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		wait := s.nextWait(err)
		s.mu.Lock()
		s.status.NextAttempt = s.clock.Now().Add(wait)
		s.mu.Unlock()
		t := s.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.trigger:
			t.Stop()
		case <-t.C():
		}
	}
}

// nextWait is the pause after a Sync that returned err: backoff after a
// failed fetch, the jittered interval otherwise (a rejected revision is a
// successful fetch: nothing to retry until Git changes).
func (s *Source) nextWait(err error) time.Duration {
	var rej *RejectedError
	if err != nil && !errors.As(err, &rej) {
		s.mu.Lock()
		n := s.status.ConsecutiveFailures
		s.mu.Unlock()
		// The n-th step of MinBackoff doubling to MaxBackoff.
		bo := wait.Backoff{Duration: s.opts.MinBackoff, Factor: 2, Cap: s.opts.MaxBackoff, Steps: math.MaxInt32}
		d := bo.Step()
		for i := 1; i < n; i++ {
			if bo.Steps == 0 { // at the cap: every further step is the cap
				return bo.Duration
			}
			d = bo.Step()
		}
		return d
	}
	jitter := time.Duration(rand.Float64() * s.opts.Jitter * float64(s.opts.Interval))
	return s.opts.Interval + jitter
}

// Sync makes one attempt: list the remote, fetch what is new, verify and
// build the revision, and make it current if it is good. It returns nil
// when the newest revision is current, a *FetchError when the remote could
// not be read, and a *RejectedError when the newest revision is refused
// (the previous snapshot stays). Asking again about a revision already
// judged costs one listing of the remote refs and nothing more.
func (s *Source) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	select { // this attempt serves every request made before it
	case <-s.trigger:
	default:
	}
	now := s.clock.Now()
	s.mu.Lock()
	s.status.LastAttempt = now
	s.status.Attempts++
	s.mu.Unlock()

	repo, err := s.openRepo()
	if err != nil {
		if !errors.Is(err, ErrInvalidOptions) {
			err = fmt.Errorf("%w: open clone in %s: %v", ErrFetch, s.opts.Dir, err)
		}
		return s.failed(err)
	}
	if !s.restored {
		s.restored = true
		s.restore(repo)
	}
	tr, err := loadTrust(&s.opts)
	if err != nil {
		return s.failed(fmt.Errorf("%w: %w", ErrInvalidOptions, err))
	}
	if s.stillBusy() {
		return s.failed(s.fetchErr("fetch", ErrUnavailable, "the previous call, abandoned after "+s.opts.Timeout.String()+", has not ended yet"))
	}
	tg, err := s.resolve(ctx, repo)
	if err != nil {
		return s.failed(err)
	}
	s.succeeded(tg)

	key := tg.hash.String()
	if tr != nil {
		key += fmt.Sprintf("/%x", tr.digest)
	}
	if key == s.evaluated {
		return s.result
	}
	err = s.evaluate(repo, tg, tr)
	var rej *RejectedError
	if err == nil || errors.As(err, &rej) {
		s.result, s.evaluated = err, key // a verdict on the revision: keep it
	}
	return err
}

// target is what the configured ref points at on the remote.
type target struct {
	name plumbing.ReferenceName // full ref name; the SHA for a pinned commit
	hash plumbing.Hash          // the commit
}

func (s *Source) failed(err error) error {
	metrics.GitFetchErrors.Inc()
	msg := err.Error()
	s.mu.Lock()
	s.status.ConsecutiveFailures++
	s.status.FetchError = msg
	n := s.status.ConsecutiveFailures
	s.mu.Unlock()
	if msg != s.loggedFetchErr {
		s.loggedFetchErr = msg
		s.log.Warn("fetch failed; keeping the current snapshot", "err", msg, "failures", n)
	} else {
		s.log.Debug("fetch failed again", "err", msg, "failures", n)
	}
	return err
}

func (s *Source) succeeded(tg target) {
	s.mu.Lock()
	recovered := s.status.ConsecutiveFailures > 0
	s.status.LastSuccess = s.clock.Now()
	s.status.ConsecutiveFailures = 0
	s.status.FetchError = ""
	s.status.FetchedRevision = tg.hash.String()
	s.status.ResolvedRef = string(tg.name)
	s.mu.Unlock()
	if recovered {
		s.log.Info("fetch succeeded again", "revision", tg.hash.String())
	}
	s.loggedFetchErr = ""
}

// openRepo opens the bare clone in Dir, creating it on first use, and
// points its remote at the configured URL (which may have changed).
func (s *Source) openRepo() (*git.Repository, error) {
	if s.repo != nil {
		return s.repo, nil
	}
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return nil, err
	}
	st := filesystem.NewStorageWithOptions(osfs.New(s.opts.Dir, osfs.WithBoundOS()),
		cache.NewObjectLRU(objectCacheSize), filesystem.Options{ExclusiveAccess: true})
	// Nothing is written to Dir until it is known to be ours: empty, or
	// a clone carrying our mark. Pointed by mistake at a user's checkout
	// or at a repository a Git server serves, the Source must not touch it.
	repo, err := git.Open(st, nil)
	created := errors.Is(err, git.ErrRepositoryNotExists)
	switch {
	case created:
		if err := checkEmpty(s.opts.Dir); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		cfg, err := repo.Config()
		if err != nil {
			return nil, err
		}
		_, lockErr := os.Stat(filepath.Join(s.opts.Dir, lockFile))
		// No mark, no remote, and our lock: an Init that was cut short
		// before the mark was written. Anything else is someone's.
		interrupted := len(cfg.Remotes) == 0 && lockErr == nil
		if cfg.Raw.Section("berth").Option("clone") != "true" && !interrupted {
			return nil, fmt.Errorf("%w: Dir %s holds a repository that gitsource did not create; give the Source a directory of its own", ErrInvalidOptions, s.opts.Dir)
		}
	}
	if err := s.lockDir(); err != nil {
		return nil, err
	}
	if created {
		if repo, err = git.Init(st, nil); err != nil {
			return nil, err
		}
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	rc := cfg.Remotes[remoteName]
	if created || rc == nil || cfg.Raw.Section("berth").Option("clone") != "true" || len(rc.URLs) != 1 || rc.URLs[0] != s.opts.URL {
		cfg.Raw.Section("berth").SetOption("clone", "true")
		cfg.Remotes[remoteName] = &config.RemoteConfig{
			Name:  remoteName,
			URLs:  []string{s.opts.URL},
			Fetch: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"},
		}
		if err := repo.SetConfig(cfg); err != nil {
			return nil, err
		}
	}
	s.repo = repo
	return repo, nil
}

// lockDir takes an exclusive flock on Dir: two Sources writing one clone
// would corrupt it, so the second fails instead. The kernel drops the lock
// if the process dies.
func (s *Source) lockDir() error {
	if s.lock != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("%w: Dir %s is in use by another Source: %v", ErrInvalidOptions, s.opts.Dir, err)
	}
	s.lock = f
	return nil
}

// checkEmpty accepts a Dir with nothing in it but our lock.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != lockFile {
			return fmt.Errorf("%w: Dir %s holds %s but no clone; give the Source a directory of its own", ErrInvalidOptions, dir, e.Name())
		}
	}
	return nil
}

// resolve finds the commit the ref names on the remote and makes sure it
// is in the local clone, fetching only when it is not.
func (s *Source) resolve(ctx context.Context, repo *git.Repository) (target, error) {
	auth, secrets, err := authFor(&s.opts, s.ep)
	if err != nil {
		return target{}, s.fetchErr("list", ErrAuth, redact(err.Error(), secrets))
	}
	if s.ref.kind == refCommit {
		h := plumbing.NewHash(s.ref.name)
		tg := target{name: plumbing.ReferenceName(s.ref.name), hash: h}
		if _, err := repo.CommitObject(h); err == nil {
			return tg, nil // a commit never changes: nothing to fetch
		}
		specs := []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
		if err := s.fetch(ctx, repo, auth, secrets, specs); err != nil {
			return target{}, err
		}
		if _, err := repo.CommitObject(h); err != nil {
			return target{}, s.fetchErr("fetch", ErrRefNotFound, fmt.Sprintf("commit %s is not on any branch or tag of the remote", s.ref.name))
		}
		return tg, nil
	}

	refs, err := s.list(ctx, repo, auth, secrets)
	if err != nil {
		return target{}, err
	}
	name, obj, peeled, err := s.pick(refs)
	if err != nil {
		return target{}, err
	}
	want := peeled
	if want.IsZero() {
		want = obj
	}
	if c, err := repo.CommitObject(want); err == nil {
		return target{name: name, hash: c.Hash}, nil
	}
	local := name
	if name.IsBranch() {
		local = plumbing.NewRemoteReferenceName(remoteName, name.Short())
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", name, local))
	if err := s.fetch(ctx, repo, auth, secrets, []config.RefSpec{spec}); err != nil {
		return target{}, err
	}
	c, err := peelToCommit(repo, want)
	if err != nil {
		return target{}, s.fetchErr("fetch", ErrRefNotFound, fmt.Sprintf("%s (%s) does not name a commit: %v", name, want, err))
	}
	return target{name: name, hash: c.Hash}, nil
}

// peelToCommit follows annotated tags (several, if tags point at tags) to
// the commit.
func peelToCommit(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		t, err := repo.TagObject(h)
		if err != nil {
			break
		}
		h = t.Target
	}
	return repo.CommitObject(h)
}

func (s *Source) list(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, secrets [][]byte) ([]*plumbing.Reference, error) {
	remote, err := repo.Remote(remoteName)
	if err != nil {
		return nil, s.fetchErr("list", ErrFetch, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var refs []*plumbing.Reference
	err = s.bounded(ctx, func() (err error) {
		refs, err = remote.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
		return err
	})
	if err != nil {
		return nil, s.fetchError("list", ctx, err, secrets)
	}
	return refs, nil
}

func (s *Source) fetch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, secrets [][]byte, specs []config.RefSpec) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	err := s.bounded(ctx, func() error {
		return repo.FetchContext(ctx, &git.FetchOptions{
			RemoteName: remoteName,
			RefSpecs:   specs,
			Auth:       auth,
			Tags:       git.NoTags,
			Force:      true,
		})
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return s.fetchError("fetch", ctx, err, secrets)
	}
	return nil
}

// bounded runs a network call and returns when it ends, or shortly after
// ctx does. go-git honours ctx while reading and writing, but not during an
// SSH handshake, so a server that accepts the connection and then says
// nothing would hold Sync forever. A call that outlives ctx (plus a grace
// of min(Timeout, 2s) of real time) is left to finish on its own; until it
// has, busy is set and no other network call starts, because the call may
// still be writing to the clone.
func (s *Source) bounded(ctx context.Context, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// A call that honours ctx returns within moments; give it that.
	grace := time.NewTimer(min(s.opts.Timeout, 2*time.Second))
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		finished := make(chan struct{})
		go func() {
			<-done
			close(finished)
		}()
		s.busy = finished
		return ctx.Err()
	}
}

// stillBusy reports whether a network call abandoned by bounded is still
// running.
func (s *Source) stillBusy() bool {
	if s.busy == nil {
		return false
	}
	select {
	case <-s.busy:
		s.busy = nil
		return false
	default:
		return true
	}
}

// fetchErr is a FetchError on this Source's remote.
func (s *Source) fetchErr(op string, kind error, detail string) *FetchError {
	return &FetchError{Op: op, URL: RedactURL(s.opts.URL), Kind: kind, Detail: detail}
}

func (s *Source) fetchError(op string, ctx context.Context, err error, secrets [][]byte) *FetchError {
	e := s.fetchErr(op, classify(err), redact(err.Error(), secrets))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.Kind = ErrUnavailable
		e.Detail = fmt.Sprintf("no answer within %s", s.opts.Timeout)
	}
	return e
}

// pick finds the configured ref among the remote's refs and returns its
// full name, the object it points at and, for an annotated tag, the
// commit the tag peels to.
func (s *Source) pick(refs []*plumbing.Reference) (name plumbing.ReferenceName, obj, peeled plumbing.Hash, err error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	notFound := func(detail string) error { return s.fetchErr("list", ErrRefNotFound, detail) }
	var found []plumbing.ReferenceName
	if s.ref.kind == refDefault {
		head := byName[plumbing.HEAD]
		if head == nil {
			return "", obj, peeled, notFound("the remote has no HEAD (is it empty?)")
		}
		if head.Type() != plumbing.SymbolicReference {
			return "", obj, peeled, notFound("the remote's HEAD names no branch; set Ref")
		}
		found = []plumbing.ReferenceName{head.Target()}
		s.mu.Lock()
		s.headBranch = head.Target()
		s.mu.Unlock()
	} else {
		cands := s.ref.candidates()
		for _, c := range cands {
			if byName[c] != nil {
				found = append(found, c)
			}
		}
		if len(found) == 0 {
			list := make([]string, len(cands))
			for i, c := range cands {
				list[i] = string(c)
			}
			return "", obj, peeled, notFound("the remote has no " + strings.Join(list, " or "))
		}
		if len(found) > 1 && !s.warnedAmbig {
			s.warnedAmbig = true
			s.log.Warn("ref names both a tag and a branch; following the tag, as git does", "ref", s.opts.Ref)
		}
	}
	name = found[0]
	r := byName[name]
	if r == nil || r.Type() != plumbing.HashReference {
		return "", obj, peeled, notFound(fmt.Sprintf("no %s on the remote", name))
	}
	if p := byName[name+"^{}"]; p != nil {
		peeled = p.Hash()
	}
	return name, r.Hash(), peeled, nil
}

// evaluate verifies and builds the commit, then applies or rejects it.
func (s *Source) evaluate(repo *git.Repository, tg target, tr *trust) error {
	commit, err := repo.CommitObject(tg.hash)
	if err != nil {
		return fmt.Errorf("%w: read commit %s: %v", ErrFetch, tg.hash, err)
	}
	snap, rej := s.build(repo, commit, tg.name, tr)
	if rej != nil {
		s.reject(rej)
		return rej
	}
	s.apply(repo, commit, snap)
	return nil
}

// build verifies the commit and decodes its tree into a snapshot.
func (s *Source) build(repo *git.Repository, commit *object.Commit, name plumbing.ReferenceName, tr *trust) (*Snapshot, *RejectedError) {
	rev := commit.Hash.String()
	subject, _, _ := strings.Cut(strings.TrimSpace(commit.Message), "\n")
	var signer *Signer
	if tr != nil {
		var err error
		if signer, err = tr.verify(commit, s.clock.Now()); err != nil {
			return nil, &RejectedError{Revision: rev, Subject: subject, Err: err}
		}
	}
	if s.loader == nil {
		s.loader = s.newLoader()
	}
	snap, rej := loadCommit(repo, commit, s.opts.Path, s.loader, s.opts.Identities, true)
	if rej != nil {
		return nil, rej
	}
	snap.Ref = string(name)
	snap.Signer = signer
	return snap, nil
}

// loadCommit reads the tree of commit under path with loader and, when
// decrypt is set, decrypts its SOPS Secrets with ids: how the server reads
// every revision, and `berth plan` (Reader) both of its.
func loadCommit(repo *git.Repository, commit *object.Commit, path string, loader *manifest.Loader, ids manifest.IdentitySource, decrypt bool) (*Snapshot, *RejectedError) {
	rev := commit.Hash.String()
	subject, _, _ := strings.Cut(strings.TrimSpace(commit.Message), "\n")
	tree, err := commit.Tree()
	if err != nil {
		return nil, &RejectedError{Revision: rev, Subject: subject, Err: fmt.Errorf("%w: read tree: %v", ErrInvalidManifests, err)}
	}
	t, err := loader.Load(newTreeFS(repo.Storer, tree, commit.Committer.When), path)
	if err != nil {
		var errs manifest.ErrorList
		if !errors.As(err, &errs) {
			errs = manifest.ErrorList{{File: path, Message: err.Error()}}
		}
		return nil, &RejectedError{Revision: rev, Subject: subject, Err: fmt.Errorf("%w: %d problem(s)", ErrInvalidManifests, len(errs)), Errors: errs}
	}
	objs := t.Objects
	if decrypt {
		var errs manifest.ErrorList
		if objs, errs = manifest.DecryptSecrets(t.Objects, ids); len(errs) > 0 {
			return nil, &RejectedError{Revision: rev, Subject: subject, Err: fmt.Errorf("%w: %d problem(s)", ErrInvalidManifests, len(errs)), Errors: errs}
		}
	}
	return &Snapshot{
		Revision:   rev,
		Ref:        rev,
		CommitTime: commit.Committer.When,
		Author:     fmt.Sprintf("%s <%s>", commit.Author.Name, commit.Author.Email),
		Subject:    subject,
		Objects:    objs,
		Skipped:    t.Skipped,
		Warnings:   manifest.Warnings(objs),
	}, nil
}

func (s *Source) reject(rej *RejectedError) {
	s.countRejected(rej)
	now := s.clock.Now()
	s.mu.Lock()
	if s.status.Rejected == nil || s.status.Rejected.Revision != rej.Revision {
		s.status.Rejected = &Rejection{Revision: rej.Revision, Since: now}
	}
	s.status.Rejected.Subject = rej.Subject
	s.status.Rejected.Reason = rej.Err.Error()
	s.status.Rejected.Errors = rej.Errors
	applied := s.status.AppliedRevision
	s.mu.Unlock()
	if s.loggedRejected == rej.Revision {
		return
	}
	s.loggedRejected = rej.Revision
	attrs := []any{"revision", rej.Revision, "applied", applied, "reason", rej.Err.Error()}
	if len(rej.Errors) > 0 {
		lines := make([]string, len(rej.Errors))
		for i, e := range rej.Errors {
			lines[i] = e.Error()
		}
		attrs = append(attrs, "errors", lines)
	}
	s.log.Warn("revision rejected; keeping the applied one", attrs...)
}

// apply makes snap current, warns when history was rewritten, remembers
// the revision on disk and signals Updated.
func (s *Source) apply(repo *git.Repository, commit *object.Commit, snap *Snapshot) {
	s.mu.Lock()
	prev := s.current
	s.status.Rejected = nil
	if prev != nil && prev.Revision == snap.Revision {
		s.mu.Unlock()
		return
	}
	s.current = snap
	s.status.AppliedRevision = snap.Revision
	s.status.AppliedAt = s.clock.Now()
	s.mu.Unlock()

	if prev != nil {
		if old, err := repo.CommitObject(plumbing.NewHash(prev.Revision)); err == nil {
			if ok, err := old.IsAncestor(commit); err == nil && !ok {
				s.log.Warn("the ref moved to a commit that does not descend from the applied one (force push or reset); applying it",
					"from", prev.Revision, "to", snap.Revision)
			}
		}
	}
	s.log.Info("applied revision", "revision", snap.Revision, "ref", snap.Ref, "subject", snap.Subject, "objects", len(snap.Objects))
	if err := s.remember(snap); err != nil {
		s.log.Warn("cannot record the applied revision; after a restart it is rebuilt from Git", "err", err)
	}
	select {
	case s.updated <- struct{}{}:
	default:
	}
}

// applied is what appliedFile holds. The source's identity is stored with
// the revision so a changed URL, ref or path does not restore a snapshot
// of something else.
type applied struct {
	URL      string `json:"url"`
	Ref      string `json:"ref"`
	Path     string `json:"path"`
	Revision string `json:"revision"`
	// Resolved is the full ref the revision was read from.
	Resolved string `json:"resolved"`
}

func (s *Source) remember(snap *Snapshot) error {
	data, err := json.Marshal(applied{URL: s.opts.URL, Ref: s.opts.Ref, Path: s.opts.Path, Revision: snap.Revision, Resolved: snap.Ref})
	if err != nil {
		return err
	}
	p := filepath.Join(s.opts.Dir, appliedFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// restore rebuilds the snapshot applied before a restart from the local
// clone, verified and validated again, without touching the network.
func (s *Source) restore(repo *git.Repository) {
	data, err := os.ReadFile(filepath.Join(s.opts.Dir, appliedFile))
	if err != nil {
		return
	}
	var a applied
	if json.Unmarshal(data, &a) != nil || a.URL != s.opts.URL || a.Ref != s.opts.Ref || a.Path != s.opts.Path || !isFullSHA(a.Revision) {
		return
	}
	commit, err := repo.CommitObject(plumbing.NewHash(a.Revision))
	if err != nil {
		return
	}
	tr, err := loadTrust(&s.opts)
	if err != nil {
		return
	}
	snap, rej := s.build(repo, commit, plumbing.ReferenceName(a.Resolved), tr)
	if rej != nil {
		s.log.Warn("the revision applied before the restart is no longer accepted", "revision", a.Revision, "reason", rej.Err.Error())
		return
	}
	s.log.Info("restored the revision applied before the restart", "revision", a.Revision)
	s.apply(repo, commit, snap)
}

// SnapshotAt builds the snapshot of a revision that is already in the
// clone, verified like any other. A caller that refused the newest
// revision (the reconciler, for capacity) uses it after a restart to keep
// running the revision it had applied, rather than nothing.
func (s *Source) SnapshotAt(rev string) (*Snapshot, error) {
	if !isFullSHA(rev) {
		return nil, fmt.Errorf("snapshot at %q: %w: not a full commit SHA", rev, ErrRefNotFound)
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	repo, err := s.openRepo()
	if err != nil {
		return nil, fmt.Errorf("snapshot at %s: %w", rev, err)
	}
	commit, err := repo.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return nil, fmt.Errorf("snapshot at %s: %w: %v", rev, ErrRefNotFound, err)
	}
	tr, err := loadTrust(&s.opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot at %s: %w", rev, err)
	}
	// Decode with a cache of its own: the Source's cache stays that of the
	// newest revision, which the next fetch builds on.
	saved := s.loader
	s.loader = s.newLoader()
	snap, rej := s.build(repo, commit, "", tr)
	s.loader = saved
	if rej != nil {
		return nil, rej
	}
	return snap, nil
}

// newLoader returns the reader of commit trees: a manifest.Loader whose
// caches carry over from one revision to the next.
func (s *Source) newLoader() *manifest.Loader {
	return &manifest.Loader{Renderer: render.New(render.Limits{})}
}
