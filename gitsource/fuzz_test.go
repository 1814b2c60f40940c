package gitsource

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseRef: parsing never panics, and what it accepts is a ref git
// itself would accept and that survives a round trip.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"", "main", "refs/heads/main", "refs/tags/v1", "a..b", "@{", strings.Repeat("ab", 20), "x/.y", "é/ü", "refs/tags/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRef(s)
		if err != nil {
			return
		}
		switch r.kind {
		case refBranch, refTag, refShort:
			if checkRefName(r.name) != nil {
				t.Fatalf("accepted %q with a bad name %q", s, r.name)
			}
			for _, c := range r.candidates() {
				if err := c.Validate(); err != nil {
					t.Fatalf("accepted %q, but go-git rejects %s: %v", s, c, err)
				}
			}
			again, err := parseRef(r.String())
			if err != nil || again.name != r.name {
				t.Fatalf("%q → %q does not parse back: %+v %v", s, r.String(), again, err)
			}
		case refCommit:
			if !isFullSHA(r.name) || r.name != strings.ToLower(r.name) {
				t.Fatalf("accepted %q as commit %q", s, r.name)
			}
		}
	})
}

// FuzzWebhook sends arbitrary bodies and headers to each provider's hook:
// it never panics, only answers with the documented codes, and triggers a
// fetch only for a request carrying the right secret.
func FuzzWebhook(f *testing.F) {
	const secret = "fuzz-secret"
	f.Add(0, `{"ref":"refs/heads/main"}`, "push", "sha256="+hmacHex(secret, `{"ref":"refs/heads/main"}`))
	f.Add(1, `{"ref":"refs/heads/main"}`, "Push Hook", secret)
	f.Add(2, `{"ref":"refs/tags/v1"}`, "push", hmacHex(secret, `{"ref":"refs/tags/v1"}`))
	f.Add(3, ``, "", "Bearer "+secret)
	f.Add(0, `{"ref":`, "push", "sha256=00")
	f.Add(3, `[1,2,3]`, "", "Bearer "+secret)
	f.Add(0, "payload=%7B%7D", "ping", "sha256=zz")
	providers := []Provider{GitHub, GitLab, Gitea, Generic}
	dir := f.TempDir()
	sf := filepath.Join(dir, "secret")
	if err := os.WriteFile(sf, []byte(secret), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which int, body, event, auth string) {
		p := providers[uint(which)%uint(len(providers))]
		s, err := New(Options{URL: "/nonexistent/repo.git", Dir: filepath.Join(dir, "clone"), Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Webhook(WebhookOptions{Provider: p, Secret: Secret{File: sf}, MaxBodyBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		switch p {
		case GitHub:
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-Hub-Signature-256", auth)
		case GitLab:
			req.Header.Set("X-Gitlab-Event", event)
			req.Header.Set("X-Gitlab-Token", auth)
		case Gitea:
			req.Header.Set("X-Gitea-Event", event)
			req.Header.Set("X-Gitea-Signature", auth)
		case Generic:
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("code %d", rec.Code)
		}
		fetched := triggered(s)
		if fetched != (rec.Code == http.StatusAccepted) {
			t.Fatalf("code %d but triggered=%v", rec.Code, fetched)
		}
		if fetched {
			var ok bool
			switch p {
			case GitHub:
				ok = validHMAC(auth, "sha256=", []byte(body), []byte(secret))
			case Gitea:
				ok = validHMAC(auth, "", []byte(body), []byte(secret))
			case GitLab:
				ok = auth == secret
			case Generic:
				ok = strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")) == secret && strings.HasPrefix(auth, "Bearer ")
			}
			if !ok {
				t.Fatalf("%s hook triggered without the secret (auth %q)", p, auth)
			}
		}
	})
}

// FuzzAllowedSigners: the allowed_signers parser never panics on any file.
func FuzzAllowedSigners(f *testing.F) {
	f.Add("a@x namespaces=\"git\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNFbVbs5qLU3fwxwQFiWKBdAq7X7vnnwxb3Clq5r0E6\n")
	f.Add("\"a,b\" valid-after=\"20200101Z\" ssh-rsa AAAA")
	f.Add("# only a comment")
	f.Fuzz(func(t *testing.T, in string) {
		signers, err := parseAllowedSigners([]byte(in))
		if err == nil && len(signers) == 0 {
			t.Fatal("no error and no signers")
		}
	})
}
