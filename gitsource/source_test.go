package gitsource

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/manifest"
)

// TestTransports follows main over every transport and credential form,
// against a real git serving the repository.
func TestTransports(t *testing.T) {
	u := newUpstream(t)
	want := u.commitPush("first", map[string]string{"pods/a.yaml": pod("a")})
	open := serveGit(t, u.root, "", "")
	authed := serveGit(t, u.root, "alice", "correct-horse-battery")
	secretDir := t.TempDir()
	goodPw := filepath.Join(secretDir, "good")
	badPw := filepath.Join(secretDir, "bad")
	if err := os.WriteFile(goodPw, []byte("correct-horse-battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPw, []byte("wrong-password-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITSOURCE_TEST_PW", "correct-horse-battery")

	tests := []struct {
		name     string
		url      string
		edit     func(*Options)
		wantErr  error
		wantText string // in the error
	}{
		{name: "local path", url: u.bare},
		{name: "relative local path", url: relPathTo(t, u.bare)},
		{name: "file URL", url: "file://" + u.bare},
		{name: "http", url: open.URL + "/repo.git"},
		{name: "http basic auth from file", url: authed.URL + "/repo.git",
			edit: func(o *Options) { o.Username = "alice"; o.Password = Secret{File: goodPw} }},
		{name: "http basic auth from env", url: authed.URL + "/repo.git",
			edit: func(o *Options) { o.Username = "alice"; o.Password = Secret{Env: "GITSOURCE_TEST_PW"} }},
		{name: "http basic auth, user in URL", url: strings.Replace(authed.URL, "http://", "http://alice@", 1) + "/repo.git",
			edit: func(o *Options) { o.Password = Secret{File: goodPw} }},
		{name: "http wrong password", url: authed.URL + "/repo.git",
			edit:    func(o *Options) { o.Username = "alice"; o.Password = Secret{File: badPw} },
			wantErr: ErrAuth},
		{name: "http no credentials", url: authed.URL + "/repo.git", wantErr: ErrAuth},
		{name: "http no such repository", url: open.URL + "/nope.git", wantErr: ErrRepositoryNotFound},
		{name: "local no such repository", url: filepath.Join(u.root, "nope.git"), wantErr: ErrRepositoryNotFound},
		{name: "no such branch", url: u.bare, edit: func(o *Options) { o.Ref = "nope" },
			wantErr: ErrRefNotFound, wantText: "refs/tags/nope"},
		{name: "nothing listening", url: "http://" + freeAddr(t) + "/repo.git", wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestSource(t, tt.url, tt.edit)
			err := s.Sync(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Sync: %v", err)
				}
				snap := s.Current()
				if snap.Revision != want || snap.Ref != "refs/heads/main" {
					t.Fatalf("snapshot %s of %s, want %s of refs/heads/main", snap.Revision, snap.Ref, want)
				}
				if got := names(snap); !slices.Equal(got, []string{"Pod default/a"}) {
					t.Fatalf("objects %v", got)
				}
				if snap.Author != "Ada Author <ada@example.com>" || snap.Subject != "first" || snap.CommitTime.IsZero() {
					t.Fatalf("commit facts %+v", snap)
				}
				st := s.Status()
				if st.AppliedRevision != want || st.FetchedRevision != want || st.LastSuccess.IsZero() || st.FetchError != "" {
					t.Fatalf("status %+v", st)
				}
				return
			}
			wantKind(t, err, tt.wantErr)
			var fe *FetchError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v: want a *FetchError", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("error %q does not mention %q", err, tt.wantText)
			}
			if s.Current() != nil {
				t.Fatal("a failed first fetch produced a snapshot")
			}
			st := s.Status()
			if st.FetchError != err.Error() || st.ConsecutiveFailures != 1 || !st.LastSuccess.IsZero() {
				t.Fatalf("status %+v", st)
			}
			for _, secret := range []string{"correct-horse-battery", "wrong-password-value"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Fatalf("secret leaked: %v\n%s", err, logs)
				}
			}
		})
	}
}

func relPathTo(t *testing.T, abs string) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestPinning follows a branch, tags (lightweight and annotated, short and
// full names) and a commit SHA, and checks what moving each one does.
func TestPinning(t *testing.T) {
	u := newUpstream(t)
	c1 := u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	u.git(u.work, "tag", "light")
	u.git(u.work, "tag", "-a", "-m", "release 1", "v1")
	c2 := u.commit("two", map[string]string{"b.yaml": pod("b")})
	u.push("main")
	u.push("dev")
	u.git(u.work, "push", "-q", "origin", "light", "v1")

	tests := []struct {
		name    string
		ref     string
		want    string
		wantRef string
	}{
		{name: "remote HEAD", ref: "", want: c2, wantRef: "refs/heads/main"},
		{name: "branch short", ref: "dev", want: c2, wantRef: "refs/heads/dev"},
		{name: "branch full", ref: "refs/heads/main", want: c2, wantRef: "refs/heads/main"},
		{name: "lightweight tag", ref: "light", want: c1, wantRef: "refs/tags/light"},
		{name: "annotated tag", ref: "v1", want: c1, wantRef: "refs/tags/v1"},
		{name: "annotated tag full", ref: "refs/tags/v1", want: c1, wantRef: "refs/tags/v1"},
		{name: "commit SHA", ref: c1, want: c1, wantRef: c1},
		{name: "commit SHA upper case", ref: strings.ToUpper(c1), want: c1, wantRef: c1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestSource(t, u.bare, func(o *Options) { o.Ref = tt.ref })
			snap := mustSync(t, s)
			if snap.Revision != tt.want || snap.Ref != tt.wantRef {
				t.Fatalf("got %s at %s, want %s at %s", snap.Revision, snap.Ref, tt.want, tt.wantRef)
			}
		})
	}

	t.Run("pinned commit ignores new pushes and needs no server", func(t *testing.T) {
		s, _ := newTestSource(t, u.bare, func(o *Options) { o.Ref = c1 })
		mustSync(t, s)
		u.commitPush("three", map[string]string{"c.yaml": pod("c")})
		if err := os.Rename(u.bare, u.bare+".away"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(u.bare+".away", u.bare)
		if snap := mustSync(t, s); snap.Revision != c1 {
			t.Fatalf("pinned source moved to %s", snap.Revision)
		}
	})

	t.Run("moving a tag moves the snapshot", func(t *testing.T) {
		s, _ := newTestSource(t, u.bare, func(o *Options) { o.Ref = "v1" })
		mustSync(t, s)
		u.git(u.work, "tag", "-f", "-a", "-m", "release 1 again", "v1", c2)
		u.git(u.work, "push", "-q", "-f", "origin", "v1")
		if snap := mustSync(t, s); snap.Revision != c2 {
			t.Fatalf("after moving the tag got %s, want %s", snap.Revision, c2)
		}
	})

	t.Run("unknown commit", func(t *testing.T) {
		s, _ := newTestSource(t, u.bare, func(o *Options) { o.Ref = strings.Repeat("ab", 20) })
		wantKind(t, s.Sync(context.Background()), ErrRefNotFound)
	})

	t.Run("empty repository", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.git")
		u.git(u.work, "init", "-q", "--bare", empty)
		s, _ := newTestSource(t, empty, nil)
		wantKind(t, s.Sync(context.Background()), ErrRefNotFound)
	})
}

// TestSubdirectory reads only Path, reports paths relative to it, skips
// hidden files, and refuses a revision where the directory is missing.
func TestSubdirectory(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("layout", map[string]string{
		"README.md":                  "not a manifest",
		"other/x.yaml":               pod("x"),
		"deploy/prod/a.yaml":         pod("a"),
		"deploy/prod/nested/b.yml":   pod("b"),
		"deploy/prod/.hidden/h.yaml": pod("h"),
		"deploy/prod/.h.yaml":        pod("h2"),
		"deploy/prod/notes.txt":      "ignored",
		"deploy/staging/s.yaml":      pod("s"),
	})
	s, _ := newTestSource(t, u.bare, func(o *Options) { o.Path = "/deploy/prod/" })
	snap := mustSync(t, s)
	var files []string
	for _, o := range snap.Objects {
		files = append(files, o.File)
	}
	if !slices.Equal(files, []string{"a.yaml", "nested/b.yml"}) || !slices.Equal(names(snap), []string{"Pod default/a", "Pod default/b"}) {
		t.Fatalf("files %v objects %v", files, names(snap))
	}

	bad := u.commitPush("move everything", map[string]string{"deploy/prod/a.yaml": "", "deploy/prod/nested/b.yml": "",
		"deploy/prod/.hidden/h.yaml": "", "deploy/prod/.h.yaml": "", "deploy/prod/notes.txt": ""})
	err := s.Sync(context.Background())
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Revision != bad || len(rej.Errors) != 1 || !strings.Contains(rej.Errors[0].Error(), "deploy/prod") {
		t.Fatalf("missing directory: got %v", err)
	}
	if s.Current().Revision != snap.Revision {
		t.Fatal("a revision without the directory replaced the good one")
	}
}

// TestBadCommitKeepsGoodOne: a bad commit on top of a good one is refused
// with every error (file, line, field) in the error and in Status, logged
// once however often it is polled; the fix after it is applied.
func TestBadCommitKeepsGoodOne(t *testing.T) {
	u := newUpstream(t)
	good := u.commitPush("good", map[string]string{"a.yaml": pod("a"), "b.yaml": pod("b")})
	s, logs := newTestSource(t, u.bare, nil)
	mustSync(t, s)
	select {
	case <-s.Updated():
	default:
		t.Fatal("no Updated signal after the first snapshot")
	}

	bad := u.commitPush("bad", map[string]string{"b.yaml": badPod("b"), "c.yaml": pod("a")})
	for range 3 {
		err := s.Sync(context.Background())
		wantKind(t, err, ErrInvalidManifests)
		var list manifest.ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error %v holds no manifest.ErrorList", err)
		}
		var rej *RejectedError
		if !errors.As(err, &rej) || rej.Revision != bad {
			t.Fatalf("error %v: want a RejectedError for %s", err, bad)
		}
		got := list.Error()
		if !strings.Contains(got, "b.yaml:9: spec.containers[0].bogus") || !strings.Contains(got, "Pod default/a is also defined at a.yaml:1") {
			t.Fatalf("errors do not name file, line and field:\n%s", got)
		}
	}
	if cur := s.Current(); cur.Revision != good {
		t.Fatalf("current is %s, want the good %s", cur.Revision, good)
	}
	select {
	case <-s.Updated():
		t.Fatal("Updated signalled for a rejected revision")
	default:
	}
	st := s.Status()
	if st.AppliedRevision != good || st.FetchedRevision != bad || st.Rejected == nil || st.Rejected.Revision != bad || len(st.Rejected.Errors) != 2 {
		t.Fatalf("status %+v", st)
	}
	if n := logs.count("revision rejected", bad); n != 1 {
		t.Fatalf("rejection logged %d times over 3 polls, want once", n)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatalf("status does not marshal: %v", err)
	}

	fix := u.commitPush("fix", map[string]string{"b.yaml": pod("b"), "c.yaml": pod("c")})
	snap := mustSync(t, s)
	if snap.Revision != fix || !slices.Equal(names(snap), []string{"Pod default/a", "Pod default/b", "Pod default/c"}) {
		t.Fatalf("after the fix: %s %v", snap.Revision, names(snap))
	}
	if st := s.Status(); st.Rejected != nil || st.AppliedRevision != fix {
		t.Fatalf("status after the fix %+v", st)
	}
	select {
	case <-s.Updated():
	default:
		t.Fatal("no Updated signal after the fix")
	}
}

// TestForcePush: a ref moved to a commit that does not descend from the
// applied one is applied, with a warning naming both commits.
func TestForcePush(t *testing.T) {
	u := newUpstream(t)
	base := u.commitPush("base", map[string]string{"a.yaml": pod("a")})
	s, logs := newTestSource(t, u.bare, nil)
	mustSync(t, s)
	ahead := u.commitPush("ahead", map[string]string{"b.yaml": pod("b")})
	mustSync(t, s)
	if logs.count("does not descend") != 0 {
		t.Fatal("a fast-forward was reported as a force push")
	}

	u.git(u.work, "reset", "-q", "--hard", base)
	rewritten := u.commitPush("rewritten", map[string]string{"c.yaml": pod("c")})
	snap := mustSync(t, s)
	if snap.Revision != rewritten {
		t.Fatalf("force-pushed commit not applied: %s", snap.Revision)
	}
	if logs.count("does not descend", "from="+ahead, "to="+rewritten) != 1 {
		t.Fatalf("no force-push warning naming both commits:\n%s", logs)
	}
}

// TestServerDownThenUp: while the server drops connections or stalls, the
// snapshot stays, Status keeps the last success and the error; when it
// answers again the new revision arrives.
func TestServerDownThenUp(t *testing.T) {
	u := newUpstream(t)
	first := u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	srv := serveGit(t, u.root, "", "")
	s, logs := newTestSource(t, srv.URL+"/repo.git", nil)
	mustSync(t, s)
	okAt := s.Status().LastSuccess

	second := u.commitPush("two", map[string]string{"b.yaml": pod("b")})
	for _, mode := range []string{"down", "stalled", "down"} {
		srv.setDown(mode == "down")
		srv.setStall(mode == "stalled")
		// Only the stalled call should run into the timeout: a short one
		// throughout would fail good calls on a loaded machine.
		s.opts.Timeout = 20 * time.Second
		if mode == "stalled" {
			s.opts.Timeout = 500 * time.Millisecond
		}
		err := s.Sync(context.Background())
		wantKind(t, err, ErrUnavailable)
		if mode == "stalled" && !strings.Contains(err.Error(), "no answer within 500ms") {
			t.Fatalf("stalled server: %v", err)
		}
		if s.Current().Revision != first {
			t.Fatal("snapshot changed while the server was unreachable")
		}
	}
	st := s.Status()
	if st.LastSuccess != okAt || st.ConsecutiveFailures != 3 || st.FetchError == "" {
		t.Fatalf("status while down %+v", st)
	}
	if n := logs.count("level=WARN", "fetch failed"); n != 3 {
		// down, stalled, down: the message changes each time, so each is logged.
		t.Fatalf("fetch failure logged %d times, want 3", n)
	}

	srv.setDown(false)
	srv.setStall(false)
	s.opts.Timeout = 20 * time.Second
	waitFor(t, "the call abandoned on the stalled server to end", func() bool {
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		return !s.stillBusy()
	})
	if snap := mustSync(t, s); snap.Revision != second {
		t.Fatalf("after recovery got %s, want %s", snap.Revision, second)
	}
	if st := s.Status(); st.ConsecutiveFailures != 0 || st.FetchError != "" {
		t.Fatalf("status after recovery %+v", st)
	}
}

// TestServerRestartsOnSameAddress covers a server whose port is closed (not
// merely failing) and that comes back on the same address.
func TestServerRestartsOnSameAddress(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	srv := serveGit(t, u.root, "", "")
	addr := srv.Listener.Addr().String()
	s, _ := newTestSource(t, srv.URL+"/repo.git", nil)
	mustSync(t, s)
	srv.Close()
	second := u.commitPush("two", map[string]string{"b.yaml": pod("b")})
	err := s.Sync(context.Background())
	wantKind(t, err, ErrUnavailable)

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := httptest.NewUnstartedServer(srv.Config.Handler)
	back.Listener.Close()
	back.Listener = l
	back.Start()
	defer back.Close()
	if snap := mustSync(t, s); snap.Revision != second {
		t.Fatalf("after restart got %s, want %s", snap.Revision, second)
	}
}

// TestRestoreAfterRestart: a new Source on the same Dir comes back with
// the revision applied before, even when Git now holds a bad commit and
// the server is unreachable.
func TestRestoreAfterRestart(t *testing.T) {
	u := newUpstream(t)
	good := u.commitPush("good", map[string]string{"a.yaml": pod("a")})
	srv := serveGit(t, u.root, "", "")
	dir := filepath.Join(t.TempDir(), "clone")
	url := srv.URL + "/repo.git"
	first, _ := newTestSource(t, url, func(o *Options) { o.Dir = dir })
	mustSync(t, first)

	u.commitPush("bad", map[string]string{"a.yaml": badPod("a")})
	srv.setDown(true)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, _ := newTestSource(t, url, func(o *Options) { o.Dir = dir })
	wantKind(t, again.Sync(context.Background()), ErrUnavailable)
	if cur := again.Current(); cur == nil || cur.Revision != good || cur.Ref != "refs/heads/main" || len(cur.Objects) != 1 {
		t.Fatalf("after restart with the server down: %+v, want %s", cur, good)
	}
	srv.setDown(false)
	wantKind(t, again.Sync(context.Background()), ErrInvalidManifests)
	if cur := again.Current(); cur.Revision != good {
		t.Fatalf("after restart with a bad head: %s, want %s", cur.Revision, good)
	}

	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	wantKind(t, again.Sync(context.Background()), ErrClosed)
	other, _ := newTestSource(t, url, func(o *Options) { o.Dir = dir; o.Path = "elsewhere" })
	err := other.Sync(context.Background())
	wantKind(t, err, ErrInvalidManifests)
	if other.Current() != nil {
		t.Fatal("a Source with another Path restored a snapshot of a different directory")
	}
}

// TestDirIsExclusive: a second Source on a Dir in use fails rather than
// corrupting the clone.
func TestDirIsExclusive(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	dir := filepath.Join(t.TempDir(), "clone")
	first, _ := newTestSource(t, u.bare, func(o *Options) { o.Dir = dir })
	mustSync(t, first)
	second, _ := newTestSource(t, u.bare, func(o *Options) { o.Dir = dir })
	err := second.Sync(context.Background())
	wantKind(t, err, ErrInvalidOptions)
	if !strings.Contains(err.Error(), "in use by another Source") {
		t.Fatalf("error %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	mustSync(t, second)

	// A directory that is not ours (here a user's checkout) is left alone.
	checkout, _ := newTestSource(t, u.bare, func(o *Options) { o.Dir = u.work })
	err = checkout.Sync(context.Background())
	wantKind(t, err, ErrInvalidOptions)
	if !strings.Contains(err.Error(), "directory of its own") {
		t.Fatalf("a user's checkout as Dir: %v", err)
	}
	if status := u.git(u.work, "status", "--porcelain", "--ignored"); status != "" {
		t.Fatalf("the Source wrote into the checkout:\n%s", status)
	}
	served, _ := newTestSource(t, u.bare, func(o *Options) { o.Dir = u.bare })
	err = served.Sync(context.Background())
	wantKind(t, err, ErrInvalidOptions)
	if !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("a served bare repository as Dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(u.bare, lockFile)); err == nil {
		t.Fatal("the Source wrote its lock into a repository not its own")
	}
}

// TestSilentSSHServer: a server that accepts the connection and never
// speaks (go-git's context does not cover the SSH handshake) still gives
// an error within Timeout, and no second call starts while the first hangs.
func TestSilentSSHServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	key := newSSHKey(t, "k@example.com")
	known := writeFile(t, "known_hosts", "")
	s, _ := newTestSource(t, "ssh://git@"+l.Addr().String()+"/repo.git", func(o *Options) {
		o.SSHKey = Secret{File: key.priv}
		o.KnownHosts = known
		o.Timeout = 300 * time.Millisecond
	})
	err = s.Sync(context.Background())
	wantKind(t, err, ErrUnavailable)
	if !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("first call: %v", err)
	}
	err = s.Sync(context.Background())
	wantKind(t, err, ErrUnavailable)
	if !strings.Contains(err.Error(), "has not ended yet") {
		t.Fatalf("second call while the first hangs: %v", err)
	}
	l.Close()
	(<-conns).Close()
	waitFor(t, "the abandoned call to end", func() bool {
		err := s.Sync(context.Background())
		return err != nil && !strings.Contains(err.Error(), "has not ended yet")
	})
}

// TestCredentialsNeverShown: a wrong password, a token and a URL with a
// user appear nowhere in errors, logs or status.
func TestCredentialsNeverShown(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	srv := serveGit(t, u.root, "alice", "right-password")
	const secret = "hunter2-very-secret-token"
	t.Setenv("GITSOURCE_TEST_SECRET", secret)
	for _, edit := range []func(*Options){
		func(o *Options) { o.Username = "alice"; o.Password = Secret{Env: "GITSOURCE_TEST_SECRET"} },
		func(o *Options) { o.BearerToken = Secret{Env: "GITSOURCE_TEST_SECRET"} },
	} {
		s, logs := newTestSource(t, srv.URL+"/repo.git", edit)
		err := s.Sync(context.Background())
		wantKind(t, err, ErrAuth)
		st, _ := json.Marshal(s.Status())
		for where, text := range map[string]string{"error": err.Error(), "logs": logs.String(), "status": string(st)} {
			if strings.Contains(text, secret) {
				t.Fatalf("secret in %s: %s", where, text)
			}
		}
	}
	if _, err := New(Options{URL: "https://bob:" + secret + "@example.com/r.git", Dir: t.TempDir()}); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("password in URL: %v", err)
	}
}
