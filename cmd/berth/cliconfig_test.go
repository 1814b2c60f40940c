//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/apiserver"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

// cliServer is a real API server (in process, real bbolt) for the CLI's
// tests; they fill its store and Git objects directly.
type cliServer struct {
	t       *testing.T
	store   *reconciler.BoltStore
	url     string
	tokens  reconciler.Tokens
	clock   *clocktesting.FakeClock
	mu      sync.Mutex
	objects []manifest.Object
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newCLIServer(t *testing.T) *cliServer { return newCLIServerWith(t, nil) }

// newCLIServerWith serves the API with the planner planner makes over
// the server's store and applied objects (nil: none).
func newCLIServerWith(t *testing.T, planner func(reconciler.Store, func() []manifest.Object) apiserver.Planner) *cliServer {
	t.Helper()
	dir := t.TempDir()
	tokens, err := reconciler.EnsureTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := reconciler.OpenBolt(filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.EnsureCA(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	s := &cliServer{t: t, store: st, tokens: tokens, clock: clocktesting.NewFakeClock(t0)}
	objects := func() []manifest.Object { s.mu.Lock(); defer s.mu.Unlock(); return s.objects }
	var pl apiserver.Planner
	if planner != nil {
		pl = planner(st, objects)
	}
	parts, err := newAPI(st, reconciler.NewReads(st, objects), nil, tokens,
		reconciler.MembershipConfig{CA: ca}, nil, nil, reconciler.Operations{Store: st}, pl, s.clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(parts.api)
	s.url = h.URL
	t.Cleanup(func() {
		h.Close()
		st.Close()
	})
	return s
}

func (s *cliServer) admin() *client.Client {
	c, err := client.New(s.url, s.tokens.Admin)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *cliServer) update(fn func(reconciler.Tx) error) {
	s.t.Helper()
	if err := s.store.Update(fn); err != nil {
		s.t.Fatal(err)
	}
}

// load puts manifests in the server's applied objects.
func (s *cliServer) load(yaml string) {
	s.t.Helper()
	objs, errs := manifest.DecodeFile("test.yaml", []byte(yaml))
	if len(errs) > 0 {
		s.t.Fatalf("manifests: %v", errs)
	}
	s.mu.Lock()
	s.objects = append(s.objects, objs...)
	s.mu.Unlock()
}

func (s *cliServer) register(name, cpu, mem string) {
	s.t.Helper()
	c, err := client.New(s.url, s.tokens.Agent, client.WithNode(name))
	if err != nil {
		s.t.Fatal(err)
	}
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	if _, err := c.Register(context.Background(), api.RegisterRequest{Name: name, Capacity: rl, Allocatable: rl, Address: "127.0.0.1:1", Build: api.BuildInfo{Version: "v0.3.0", Protocol: api.ProtocolVersion}}); err != nil {
		s.t.Fatal(err)
	}
}

// run runs the berth command line against the server.
func (s *cliServer) run(args ...string) (string, string, error) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--server", s.url, "--token", s.tokens.Admin))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestCLIConfigResolution(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "berth", "config.json")
	t.Setenv(envConfig, cfgPath)
	if p, err := writeLocalCLIConfig(cliConfig{Server: "http://from-file:1", Token: "file-token"}); err != nil || p != cfgPath {
		t.Fatalf("writeLocalCLIConfig = %s, %v", p, err)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v", fi, err)
	}
	tests := []struct {
		name                   string
		flags                  connFlags
		envServer, envToken    string
		wantServer, wantToken  string
		wantErr                string
		removeFile, configFlag bool
	}{
		{name: "file", wantServer: "http://from-file:1", wantToken: "file-token"},
		{name: "env over file", envServer: "http://from-env:2", envToken: "env-token", wantServer: "http://from-env:2", wantToken: "env-token"},
		{name: "flags over env", flags: connFlags{server: "http://flag:3", token: "flag-token"}, envServer: "http://from-env:2", envToken: "env-token",
			wantServer: "http://flag:3", wantToken: "flag-token"},
		{name: "mixed: server flag, token from file", flags: connFlags{server: "http://flag:3"}, wantServer: "http://flag:3", wantToken: "file-token"},
		{name: "nothing anywhere", removeFile: true, wantErr: "no server given"},
		{name: "named config missing", flags: connFlags{config: filepath.Join(dir, "nope.json")}, wantErr: "read CLI config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envServer, tc.envServer)
			t.Setenv(envToken, tc.envToken)
			if tc.removeFile {
				t.Setenv(envConfig, filepath.Join(dir, "absent.json"))
			}
			server, token, err := tc.flags.resolve()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || server != tc.wantServer || token != tc.wantToken {
				t.Fatalf("resolve = %s, %s, %v", server, token, err)
			}
		})
	}
}

func TestCLIRefusedToken(t *testing.T) {
	s := newCLIServer(t)
	cmd := newRootCmd()
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"get", "pods", "--server", s.url, "--token", s.tokens.Agent})
	err := cmd.ExecuteContext(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != 403 {
		t.Fatalf("err = %v, want 403", err)
	}
}

func TestSudoUser(t *testing.T) {
	tests := []struct {
		name, sudoUser string
		want           bool
	}{
		{name: "not under sudo", sudoUser: ""},
		{name: "sudo to root from root", sudoUser: "root"},
		{name: "unknown user", sudoUser: "no-such-user-here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SUDO_USER", tc.sudoUser)
			if _, _, _, ok := sudoUser(); ok != tc.want {
				t.Fatalf("ok = %v", ok)
			}
		})
	}
}
