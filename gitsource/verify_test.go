package gitsource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/internal/testenv"
)

// gpgHome is a throwaway GnuPG home with keys made by the real gpg.
type gpgHome struct {
	t    *testing.T
	home string
	env  []string
}

func newGPGHome(t *testing.T) *gpgHome {
	t.Helper()
	testenv.RequireBinary(t, "gpg")
	testenv.RequireBinary(t, "gpgconf")
	// The agent's socket lives in the home: keep the path short enough
	// for a unix socket name.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	g := &gpgHome{t: t, home: home, env: append(os.Environ(), "GNUPGHOME="+home)}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	return g
}

// newKey makes a signing key for uid that expires after expire ("never",
// "1d") and returns its fingerprint.
func (g *gpgHome) newKey(uid, expire string) string {
	g.t.Helper()
	runCmd(g.t, g.home, g.env, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", expire)
	out := runCmd(g.t, g.home, g.env, "gpg", "--batch", "--with-colons", "--list-keys", uid)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			return f[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s in\n%s", uid, out)
	return ""
}

// export writes the armored public keys of fprs to a new file.
func (g *gpgHome) export(fprs ...string) string {
	g.t.Helper()
	out := runCmd(g.t, g.home, g.env, "gpg", append([]string{"--batch", "--armor", "--export"}, fprs...)...)
	p := filepath.Join(g.t.TempDir(), "keyring.asc")
	if err := os.WriteFile(p, []byte(out+"\n"), 0o644); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// sshKey is a key pair made by ssh-keygen.
type sshKey struct {
	priv, pub string // paths
	line      string // the public key line
}

func newSSHKey(t *testing.T, comment string) sshKey {
	t.Helper()
	testenv.RequireBinary(t, "ssh-keygen")
	dir := t.TempDir()
	priv := filepath.Join(dir, "id_ed25519")
	runCmd(t, dir, os.Environ(), "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", priv)
	line, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{priv: priv, pub: priv + ".pub", line: strings.TrimSpace(string(line))}
}

func (k sshKey) fingerprint(t *testing.T) string {
	out := runCmd(t, filepath.Dir(k.pub), os.Environ(), "ssh-keygen", "-l", "-E", "sha256", "-f", k.pub)
	return strings.Fields(out)[1]
}

func writeFile(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignedCommits makes commits signed by the real git with gpg and with
// ssh-keygen, and checks which ones a verifying Source applies.
func TestSignedCommits(t *testing.T) {
	testenv.RequireBinary(t, "git")
	g := newGPGHome(t)
	trustedPGP := g.newKey("Trusted Signer <trusted@example.com>", "never")
	strangerPGP := g.newKey("Stranger <stranger@example.com>", "never")
	shortLived := g.newKey("Short Lived <short@example.com>", "1d")
	keyring := g.export(trustedPGP, shortLived)

	trustedSSH := newSSHKey(t, "trusted@example.com")
	strangerSSH := newSSHKey(t, "stranger@example.com")
	otherNS := newSSHKey(t, "files-only@example.com")
	expired := newSSHKey(t, "expired@example.com")
	allowed := writeFile(t, "allowed_signers", strings.Join([]string{
		"# who may sign",
		`trusted@example.com namespaces="git" ` + trustedSSH.line,
		`files@example.com namespaces="file" ` + otherNS.line,
		`old@example.com valid-before="20200101Z" ` + expired.line,
	}, "\n")+"\n")

	u := newUpstream(t)
	u.env = append(u.env, "GNUPGHOME="+g.home)
	u.commitPush("unsigned base", map[string]string{"a.yaml": pod("a")})
	n := 0
	// signed commits one file and signs with key (a gpg fingerprint or an
	// ssh private key path; "" for no signature).
	signed := func(format, key string) string {
		n++
		u.git(u.work, "config", "gpg.format", format)
		flags := []string{}
		if key != "" {
			u.git(u.work, "config", "user.signingkey", key)
			flags = append(flags, "-S")
		}
		sha := u.commit("change "+string(rune('a'+n)), map[string]string{"a.yaml": pod("a" + strings.Repeat("x", n))}, flags...)
		u.push("main")
		return sha
	}
	// tampered rewrites the message of a signed commit, keeping its
	// signature, as an attacker with push access but no key would.
	tampered := func(format, key string) string {
		sha := signed(format, key)
		raw := u.git(u.work, "cat-file", "commit", sha)
		raw = strings.Replace(raw, "change ", "chanGe ", 1) + "\n"
		cmd := exec.Command("git", "hash-object", "-t", "commit", "-w", "--stdin")
		cmd.Dir, cmd.Env, cmd.Stdin = u.work, u.env, strings.NewReader(raw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.TrimSpace(string(out))
		u.git(u.work, "update-ref", "refs/heads/main", forged)
		u.push("main")
		return forged
	}

	tests := []struct {
		name       string
		keyring    string
		allowed    string
		later      time.Duration // judge the signature this long from now
		commit     func() string
		wantSigner string   // Signer.Method + " " + Signer.Key
		wantErr    []string // substrings of the rejection
	}{
		{name: "openpgp trusted", keyring: keyring,
			commit: func() string { return signed("openpgp", trustedPGP) }, wantSigner: "openpgp " + trustedPGP},
		{name: "openpgp unknown signer", keyring: keyring,
			commit:  func() string { return signed("openpgp", strangerPGP) },
			wantErr: []string{"signed with OpenPGP key " + strangerPGP, "not in the trusted keyring"}},
		{name: "openpgp key valid today", keyring: keyring,
			commit: func() string { return signed("openpgp", shortLived) }, wantSigner: "openpgp " + shortLived},
		{name: "openpgp key expired since", keyring: keyring, later: 48 * time.Hour,
			commit: func() string { return signed("openpgp", shortLived) }, wantErr: []string{"bad OpenPGP signature by key " + shortLived, "expired"}},
		{name: "openpgp bad signature", keyring: keyring,
			commit: func() string { return tampered("openpgp", trustedPGP) }, wantErr: []string{"bad OpenPGP signature by key " + trustedPGP}},
		{name: "openpgp without a keyring", allowed: allowed,
			commit: func() string { return signed("openpgp", trustedPGP) }, wantErr: []string{"no OpenPGP keyring is configured"}},
		{name: "unsigned", keyring: keyring, allowed: allowed,
			commit: func() string { return signed("openpgp", "") }, wantErr: []string{"is not signed"}},
		{name: "ssh trusted", allowed: allowed,
			commit: func() string { return signed("ssh", trustedSSH.priv) }, wantSigner: "ssh " + trustedSSH.fingerprint(t)},
		{name: "ssh trusted, both kinds configured", keyring: keyring, allowed: allowed,
			commit: func() string { return signed("ssh", trustedSSH.priv) }, wantSigner: "ssh " + trustedSSH.fingerprint(t)},
		{name: "ssh unknown signer", allowed: allowed,
			commit:  func() string { return signed("ssh", strangerSSH.priv) },
			wantErr: []string{"signed with SSH key " + strangerSSH.fingerprint(t), "not in allowed signers"}},
		{name: "ssh key allowed for another namespace", allowed: allowed,
			commit: func() string { return signed("ssh", otherNS.priv) }, wantErr: []string{otherNS.fingerprint(t), "not in allowed signers"}},
		{name: "ssh key no longer valid", allowed: allowed,
			commit: func() string { return signed("ssh", expired.priv) }, wantErr: []string{expired.fingerprint(t), "not in allowed signers"}},
		{name: "ssh bad signature", allowed: allowed,
			commit: func() string { return tampered("ssh", trustedSSH.priv) }, wantErr: []string{"bad SSH signature by key " + trustedSSH.fingerprint(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sha := tt.commit()
			s, logs := newTestSource(t, u.bare, func(o *Options) {
				o.Clock = clocktesting.NewFakeClock(time.Now().Add(tt.later))
				o.Verify = VerifyHead
				o.OpenPGPKeyRing = tt.keyring
				o.SSHAllowedSigners = tt.allowed
			})
			err := s.Sync(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Sync: %v", err)
				}
				snap := s.Current()
				if snap.Revision != sha || snap.Signer == nil || snap.Signer.Method+" "+snap.Signer.Key != tt.wantSigner {
					t.Fatalf("applied %s signed by %v, want %s by %s", snap.Revision, snap.Signer, sha, tt.wantSigner)
				}
				return
			}
			wantKind(t, err, ErrUntrustedCommit)
			var rej *RejectedError
			if !errors.As(err, &rej) || rej.Revision != sha {
				t.Fatalf("error %v: want a rejection of %s", err, sha)
			}
			for _, want := range append(tt.wantErr, "commit "+sha) {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not say %q", err, want)
				}
			}
			if s.Current() != nil {
				t.Fatal("an untrusted commit became current")
			}
			if st := s.Status(); st.Rejected == nil || st.Rejected.Revision != sha {
				t.Fatalf("status %+v", st)
			}
			if logs.count("revision rejected", sha) != 1 {
				t.Fatal("rejection not logged once")
			}
		})
	}

	t.Run("untrusted head keeps the last trusted revision; a key added later lets it through", func(t *testing.T) {
		good := signed("openpgp", trustedPGP)
		ring := writeFile(t, "ring.asc", mustRead(t, keyring))
		s, _ := newTestSource(t, u.bare, func(o *Options) { o.Verify = VerifyHead; o.OpenPGPKeyRing = ring })
		mustSync(t, s)
		bad := signed("openpgp", strangerPGP)
		wantKind(t, s.Sync(context.Background()), ErrUntrustedCommit)
		if s.Current().Revision != good {
			t.Fatal("the trusted revision was replaced")
		}
		both := g.export(trustedPGP, strangerPGP)
		if err := os.WriteFile(ring, []byte(mustRead(t, both)), 0o644); err != nil {
			t.Fatal(err)
		}
		if snap := mustSync(t, s); snap.Revision != bad || snap.Signer.Identity != "Stranger <stranger@example.com>" {
			t.Fatalf("after trusting the key: %s by %v", snap.Revision, snap.Signer)
		}
	})
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseAllowedSigners(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNFbVbs5qLU3fwxwQFiWKBdAq7X7vnnwxb3Clq5r0E6"
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, a []allowedSigner)
	}{
		{name: "plain", in: "a@example.com " + key + " comment",
			check: func(t *testing.T, a []allowedSigner) {
				if len(a) != 1 || a[0].principals[0] != "a@example.com" || len(a[0].namespaces) != 0 {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "several principals and options", in: `a@x,b@x namespaces="git,file",valid-after="20240101",valid-before="202601021530Z" ` + key,
			check: func(t *testing.T, a []allowedSigner) {
				s := a[0]
				if len(s.principals) != 2 || len(s.namespaces) != 2 || s.validAfter.IsZero() ||
					!s.validBefore.Equal(time.Date(2026, 1, 2, 15, 30, 0, 0, time.UTC)) {
					t.Fatalf("%+v", s)
				}
				if !s.allows("git", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || s.allows("git", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) ||
					s.allows("mail", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Fatal("allows is wrong")
				}
			}},
		{name: "quoted principals", in: `"a@x,b@x" ` + key,
			check: func(t *testing.T, a []allowedSigner) {
				if len(a[0].principals) != 2 {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "comments and blank lines", in: "# c\n\n  a@x " + key + "\n",
			check: func(t *testing.T, a []allowedSigner) {
				if len(a) != 1 {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "cert-authority refused", in: "*@x cert-authority " + key, wantErr: "cert-authority"},
		{name: "unknown option", in: "a@x no-touch-required " + key, wantErr: "unknown option"},
		{name: "bad date", in: `a@x valid-after="yesterday" ` + key, wantErr: "valid-after"},
		{name: "no key", in: "a@x", wantErr: "line 1"},
		{name: "garbage key", in: "a@x ssh-ed25519 AAAA!!", wantErr: "line 1"},
		{name: "empty", in: "# nothing\n", wantErr: "no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseAllowedSigners([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, a)
		})
	}
}
