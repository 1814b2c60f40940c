//go:build !berth_agent

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/apiserver"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/reconciler"
)

// gitRepo commits each of revisions (file → content) in turn in a new
// repository, with the git command as users have it.
func gitRepo(t *testing.T, revisions ...map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	for i, files := range revisions {
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		git("add", "-A")
		git("commit", "-q", "--allow-empty", "-m", "revision "+string(rune('0'+i)))
	}
	return dir
}

func webDeployment(replicas, memory string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ` + replicas + `
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1
        resources:
          requests:
            memory: ` + memory + `
`
}

func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestPlanCommand runs berth plan as users do: against a server's
// snapshot read over HTTP and against the file `berth get snapshot`
// writes, with the exit codes CI branches on.
func TestPlanCommand(t *testing.T) {
	s := newCLIServer(t)
	s.register("node-1", "4", "8Gi")
	s.register("node-2", "2", "4Gi")
	conn := []string{"--server", s.url, "--token", s.tokens.Admin}
	repo := gitRepo(t,
		map[string]string{"README.md": "cluster\n"},
		map[string]string{"apps/web.yaml": webDeployment("2", "1Gi")},
		map[string]string{"apps/web.yaml": webDeployment("2", "20Gi")},
	)
	out, err := run(append([]string{"get", "snapshot", "-o", "json"}, conn...)...)
	if err != nil {
		t.Fatalf("get snapshot: %v\n%s", err, out)
	}
	snapFile := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(snapFile, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "no change", args: []string{"plan", "--repo", repo, "--base", "HEAD~2", "--head", "HEAD~2", "--snapshot", snapFile}, wantCode: 0, want: []string{"➖ no change"}},
		{name: "fits (file)", args: []string{"plan", "--repo", repo, "--base", "HEAD~2", "--head", "HEAD~1", "--snapshot", snapFile}, wantCode: 1,
			want: []string{"+ deployment default/web (apps/web.yaml:1)", "deployment created → 2 pod(s)", "2 pod(s) of deployment web → node-1 ×1, node-2 ×1"}},
		{name: "does not fit (server)", args: append([]string{"plan", "--repo", repo, "--base", "HEAD~1", "--head", "HEAD"}, conn...), wantCode: 2,
			want: []string{"2 pods of deployment web (default): 0/2 nodes are available: 2 Insufficient memory; each asks memory 20Gi", "node-1 has memory 8Gi free", "node-2 has memory 4Gi free"}},
		{name: "annotations", args: []string{"plan", "--repo", repo, "--base", "HEAD~1", "--snapshot", snapFile, "--annotations", "github", "-o", "json"}, wantCode: 2,
			want: []string{"::error file=apps/web.yaml,line=17,title=berth%3A does not fit::", `"verdict": "refused"`}},
		{name: "bad output", args: []string{"plan", "--repo", repo, "-o", "yaml"}, wantCode: 3, want: []string{"--output must be text, markdown or json"}},
		{name: "no repository", args: []string{"plan", "--repo", t.TempDir()}, wantCode: 3, want: []string{"open repository"}},
		{name: "unknown revision", args: []string{"plan", "--repo", repo, "--base", "nosuchbranch"}, wantCode: 3, want: []string{"resolve \"nosuchbranch\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.args...)
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code %d (%v), want %d\n%s", got, err, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestPlanOnServer: `berth plan --server --ref` has the server fetch a
// pull request's ref into its own clone and plan it against its cluster,
// with the same exit codes.
func TestPlanOnServer(t *testing.T) {
	upstream := gitRepo(t,
		map[string]string{"README.md": "cluster\n"},
	)
	pushRef := func(ref string, files map[string]string) {
		t.Helper()
		work := gitRepo(t, map[string]string{"README.md": "cluster\n"}, files)
		cmd := exec.Command("git", "push", "-q", "-f", upstream, "HEAD:"+ref)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("push %s: %v\n%s", ref, err, out)
		}
	}
	pushRef("refs/pull/1/head", map[string]string{"apps/web.yaml": webDeployment("2", "1Gi")})
	pushRef("refs/pull/2/head", map[string]string{"apps/web.yaml": webDeployment("2", "20Gi")})
	src, err := gitsource.New(gitsource.Options{URL: upstream, Ref: "main", Dir: filepath.Join(t.TempDir(), "clone"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := src.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := newCLIServerWith(t, func(st reconciler.Store, objects func() []manifest.Object) apiserver.Planner {
		return &serverPlanner{src: src, applied: objects, reads: reconciler.NewReads(st, objects), clock: clocktesting.NewFakeClock(t0)}
	})
	s.register("node-1", "4", "8Gi")
	s.register("node-2", "2", "4Gi")
	conn := []string{"--server", s.url, "--token", s.tokens.Admin}
	tests := []struct {
		name     string
		ref      string
		wantCode int
		want     []string
	}{
		{name: "fits", ref: "refs/pull/1/head", wantCode: 1, want: []string{"deployment created → 2 pod(s)", "2 pod(s) of deployment web → node-1 ×1, node-2 ×1"}},
		{name: "does not fit", ref: "refs/pull/2/head", wantCode: 2, want: []string{"node-1 has memory 8Gi free", "❌ refused: 2 pod(s) of deployment web do not fit"}},
		{name: "no such ref", ref: "refs/pull/3/head", wantCode: 3, want: []string{"ref not found", "refs/pull/3/head"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(append([]string{"plan", "--ref", tc.ref}, conn...)...)
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code %d (%v), want %d\n%s", got, err, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if got := src.Current().Subject; got != "revision 0" {
		t.Errorf("the server follows %q after planning pull requests, want the main branch's \"revision 0\"", got)
	}
}
