// Package gitserve is a Git host for tests: a bare repository that git's
// own smart-HTTP backend (git http-backend) serves on loopback, and a work
// tree that commits and pushes to it, both made with the real git command.
// The e2e suite and the chaos harness follow it as berth server follows a
// user's repository.
package gitserve

import (
	"bytes"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Backend is where Debian's git package puts the smart-HTTP backend.
const Backend = "/usr/lib/git-core/git-http-backend"

// Repo is the served repository and its work tree.
type Repo struct {
	t   testing.TB
	env []string
	// Work is the work tree; commits go to its main branch.
	Work string
	// URL is the repository's smart-HTTP address.
	URL string
}

// New makes the repository under dir, with author as the name on its
// commits, and serves it until the test ends.
func New(t testing.TB, dir, author string) *Repo {
	t.Helper()
	root := filepath.Join(dir, "srv")
	bare := filepath.Join(root, "repo.git")
	r := &Repo{t: t, Work: filepath.Join(dir, "work")}
	home := filepath.Join(dir, "githome")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	email := strings.ToLower(author) + "@example.com"
	r.env = append(os.Environ(),
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(home, "gitconfig"),
		"GIT_AUTHOR_NAME="+author, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+author, "GIT_COMMITTER_EMAIL="+email, "GIT_TERMINAL_PROMPT=0")
	r.Git(dir, "init", "-q", "--bare", "-b", "main", bare)
	r.Git(dir, "init", "-q", "-b", "main", r.Work)
	r.Git(r.Work, "remote", "add", "origin", bare)
	srv := httptest.NewServer(&cgi.Handler{
		Path: Backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + home},
	})
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/repo.git"
	return r
}

// Git runs git with args in dir and returns its trimmed output; a failure
// fails the test with git's stderr.
func (r *Repo) Git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// Commit writes files (path → content, "" deletes the file) and commits
// them without pushing; it returns the new SHA.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	for p, content := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(p))
		if content == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.Git(r.Work, "add", "-A")
	r.Git(r.Work, "commit", "-q", "--allow-empty", "-m", msg)
	return r.Git(r.Work, "rev-parse", "HEAD")
}

// Push pushes the work tree's HEAD to main.
func (r *Repo) Push() { r.t.Helper(); r.Git(r.Work, "push", "-q", "origin", "HEAD:refs/heads/main") }
