package reconciler

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := EnsureTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Agent) != 64 || len(first.Admin) != 64 || first.Agent == first.Admin {
		t.Fatalf("tokens %+v", first)
	}
	for _, f := range []string{AgentTokenFile, AdminTokenFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", f, fi.Mode().Perm())
		}
	}
	again, err := EnsureTokens(dir)
	if err != nil || again != first {
		t.Fatalf("second start: %+v, %v; want the same tokens", again, err)
	}
	if err := os.WriteFile(filepath.Join(dir, AdminTokenFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureTokens(dir); err == nil {
		t.Fatal("a too short token was accepted")
	}
}

func TestMembershipConfig(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/16", "198.18.0.0/25", "198.16.0.0/14", "fd00::/64", "junk"} {
		if _, err := NewMembership(MembershipConfig{Store: &BoltStore{}, ClusterCIDR: cidr}); err == nil {
			t.Errorf("cluster CIDR %s accepted", cidr)
		}
	}
	// Heartbeats follow a short node timeout: several reach the store
	// within it.
	m, err := NewMembership(MembershipConfig{Store: &BoltStore{}, NodeTimeout: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.HeartbeatInterval != 2*time.Second || m.cfg.HeartbeatFlush != time.Second {
		t.Fatalf("interval %v flush %v, want 2s and 1s", m.cfg.HeartbeatInterval, m.cfg.HeartbeatFlush)
	}
}
