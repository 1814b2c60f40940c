package reconciler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/api"
)

// TestBootstrapTokensPersist: a token survives a restart, its file (0600)
// never holds the secret, an expired token is refused and dropped at the
// next write, and tokens of the wrong shape or secret are not found.
func TestBootstrapTokensPersist(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	toks, err := OpenBootstrapTokens(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	short, err := toks.Create(api.TokenCreateRequest{TTL: api.Duration{Duration: time.Hour}, Usages: []string{api.TokenUsagePlan, api.TokenUsagePlan}})
	if err != nil {
		t.Fatal(err)
	}
	long, err := toks.Create(api.TokenCreateRequest{TTL: api.Duration{Duration: 48 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if len(short.Usages) != 1 || long.Usages[0] != api.TokenUsageJoin {
		t.Fatalf("usages %v and %v; want [plan] and the default [join]", short.Usages, long.Usages)
	}
	path := filepath.Join(dir, BootstrapTokenFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	for _, tok := range []*api.Token{short, long} {
		if _, secret, _ := strings.Cut(tok.Token, "."); strings.Contains(string(b), secret) {
			t.Fatal("the token file holds a secret")
		}
	}
	again, err := OpenBootstrapTokens(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := again.Lookup(short.Token); !ok || u[0] != api.TokenUsagePlan {
		t.Fatalf("after a restart: %v %v", u, ok)
	}
	for _, bad := range []string{"", "nodot", short.ID + ".0000000000000000", short.Token + "x", strings.ToUpper(short.Token)} {
		if _, ok := again.Lookup(bad); ok {
			t.Fatalf("%q was accepted", bad)
		}
	}
	clk.Step(time.Hour)
	if _, ok := again.Lookup(short.Token); ok {
		t.Fatal("an expired token was accepted")
	}
	if l, _ := again.List(); len(l) != 1 || l[0].ID != long.ID || l[0].Token != "" {
		t.Fatalf("list %+v; want the live token only, without its secret", l)
	}
	if _, err := again.Create(api.TokenCreateRequest{}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), short.ID) {
		t.Fatal("the expired token was kept at the next write")
	}
}

// FuzzBootstrapTokenLookup: whatever a stranger presents, Lookup does not
// panic and finds only the token that was made.
func FuzzBootstrapTokenLookup(f *testing.F) {
	toks, err := OpenBootstrapTokens(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	made, err := toks.Create(api.TokenCreateRequest{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{made.Token, made.ID + ".", "abcdef.0123456789abcdef", "", ".", "\x00.\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if _, ok := toks.Lookup(tok); ok != (tok == made.Token) {
			t.Fatalf("Lookup(%q) = %v", tok, ok)
		}
	})
}
