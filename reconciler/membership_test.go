package reconciler

import (
	"fmt"

	"github.com/berth-dev/berth/api"
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
	if err != nil || again.Agent != first.Agent || again.Admin != first.Admin {
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
	st, _ := openTestStore(t)
	m, err := NewMembership(MembershipConfig{Store: st, NodeTimeout: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.HeartbeatInterval != 2*time.Second || m.cfg.HeartbeatFlush != time.Second {
		t.Fatalf("interval %v flush %v, want 2s and 1s", m.cfg.HeartbeatInterval, m.cfg.HeartbeatFlush)
	}
}

// TestIsNodeTokenByHash: a refused token is looked up by its hash, not
// compared with every node record, so its cost does not grow with the
// cluster (issue 17: it decoded every node). The store is counted: the
// lookup must not read it at all.
func TestIsNodeTokenByHash(t *testing.T) {
	st, _ := openTestStore(t)
	counting := &viewCounter{Store: st}
	m, err := NewMembership(MembershipConfig{Store: counting})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for i := range 20 {
		name := fmt.Sprintf("n%d", i)
		resp, err := m.Register(&api.RegisterRequest{Name: name, Address: "127.0.0.1:1"}, false, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = resp.NodeToken
	}
	before := counting.views
	if m.IsNodeToken("wrong") || !m.IsNodeToken(tokens["n7"]) {
		t.Fatal("IsNodeToken: wrong token known or right token unknown")
	}
	if counting.views != before {
		t.Fatalf("IsNodeToken read the store %d times; want a lookup by hash", counting.views-before)
	}
	// Re-registering with the join token replaces the credential: the
	// old one is forgotten. A restarted server loads the index.
	m2, err := NewMembership(MembershipConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if !m2.IsNodeToken(tokens["n3"]) {
		t.Fatal("a restarted membership does not know a stored credential")
	}
}

type viewCounter struct {
	Store
	views int
}

func (v *viewCounter) View(f func(ReadTx) error) error { v.views++; return v.Store.View(f) }
