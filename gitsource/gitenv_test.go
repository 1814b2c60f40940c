package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testenv"
)

// upstream is a bare repository (what a Git host serves) and a work clone
// that commits and pushes to it, both made with the real git command.
type upstream struct {
	t    testing.TB
	root string // GIT_PROJECT_ROOT for http-backend: holds repo.git
	bare string // root/repo.git
	work string
	env  []string
}

// gitEnv isolates git from the machine's and the user's configuration.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, "gitconfig"),
		"GIT_AUTHOR_NAME=Ada Author", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Cid Committer", "GIT_COMMITTER_EMAIL=cid@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	testenv.RequireBinary(t, "git")
	dir := t.TempDir()
	u := &upstream{t: t, root: filepath.Join(dir, "srv"), work: filepath.Join(dir, "work")}
	u.bare = filepath.Join(u.root, "repo.git")
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	u.env = gitEnv(home)
	u.git(dir, "init", "-q", "--bare", "-b", "main", u.bare)
	u.git(dir, "init", "-q", "-b", "main", u.work)
	u.git(u.work, "remote", "add", "origin", u.bare)
	return u
}

// git runs git in dir and returns its trimmed stdout.
func (u *upstream) git(dir string, args ...string) string {
	u.t.Helper()
	return runCmd(u.t, dir, u.env, "git", args...)
}

func runCmd(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// write puts files (path → content; "" content deletes) into the work tree.
func (u *upstream) write(files map[string]string) {
	u.t.Helper()
	for p, content := range files {
		full := filepath.Join(u.work, filepath.FromSlash(p))
		if content == "" {
			if err := os.Remove(full); err != nil {
				u.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
}

// commit writes files, commits them with extra `git commit` flags (-S…)
// and returns the new SHA. It does not push.
func (u *upstream) commit(msg string, files map[string]string, flags ...string) string {
	u.t.Helper()
	u.write(files)
	u.git(u.work, "add", "-A")
	u.git(u.work, append([]string{"commit", "-q", "--allow-empty", "-m", msg}, flags...)...)
	return u.git(u.work, "rev-parse", "HEAD")
}

// push pushes HEAD to branch on the bare repository, forcing.
func (u *upstream) push(branch string) {
	u.t.Helper()
	u.git(u.work, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
}

// commitPush commits to main and pushes.
func (u *upstream) commitPush(msg string, files map[string]string) string {
	u.t.Helper()
	sha := u.commit(msg, files)
	u.push("main")
	return sha
}

// gitServer serves root over smart HTTP with `git http-backend` run as a
// CGI program, optionally behind basic auth. down makes it drop every
// connection, as a crashed server behind a load balancer would.
type gitServer struct {
	*httptest.Server
	mu       sync.Mutex
	down     bool
	stall    chan struct{} // non-nil: requests wait for it to close
	requests int
}

func serveGit(t testing.TB, root, user, pass string) *gitServer {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	testenv.RequireFile(t, backend)
	cgiHandler := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	g := &gitServer{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests++
		down, stall := g.down, g.stall
		g.mu.Unlock()
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if stall != nil {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.setStall(false)
		g.Close()
	})
	return g
}

func (g *gitServer) setDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

func (g *gitServer) setStall(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on && g.stall == nil {
		g.stall = make(chan struct{})
	}
	if !on && g.stall != nil {
		close(g.stall)
		g.stall = nil
	}
}

// logBuffer collects slog output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many log lines contain every one of subs.
func (b *logBuffer) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// newTestSource makes a Source for url with a fresh Dir and a captured
// logger; edit changes the options before New.
func newTestSource(t testing.TB, url string, edit func(*Options)) (*Source, *logBuffer) {
	t.Helper()
	log, buf := testLogger(t)
	o := Options{URL: url, Dir: filepath.Join(t.TempDir(), "clone"), Logger: log, Timeout: 20 * time.Second}
	if edit != nil {
		edit(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, buf
}

// mustSync runs Sync and fails the test on an error.
func mustSync(t testing.TB, s *Source) *Snapshot {
	t.Helper()
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	snap := s.Current()
	if snap == nil {
		t.Fatal("Sync succeeded but there is no current snapshot")
	}
	return snap
}

// wantKind fails unless err wraps kind.
func wantKind(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v: want one wrapping %q", err, kind)
	}
}

// names lists "Kind ns/name" of each object, in order.
func names(s *Snapshot) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s.Objects))
	for i := range s.Objects {
		out[i] = s.Objects[i].Key().String()
	}
	return out
}

// pod is a minimal valid Pod manifest.
func pod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  containers:
    - name: app
      image: 127.0.0.1:5000/busybox:1
`, name)
}

// badPod has an unknown field at line 8, spec.containers[0].bogus.
func badPod(name string) string {
	return pod(name) + "      bogus: true\n"
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
