package gitsource

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// GitHub's documented example of X-Hub-Signature-256
// (docs.github.com, "Validating webhook deliveries").
func TestGitHubDocumentedExample(t *testing.T) {
	const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	secret := []byte("It's a Secret to Everybody")
	body := []byte("Hello, World!")
	if !validHMAC(sig, "sha256=", body, secret) {
		t.Fatal("GitHub's documented signature does not verify")
	}
	if validHMAC(sig, "sha256=", []byte("Hello, World?"), secret) {
		t.Fatal("a changed body verified")
	}
}

func hmacHex(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// hookSource is a Source following branch main of an unreachable URL:
// webhooks never fetch themselves, they only trigger.
func hookSource(t *testing.T, ref string) *Source {
	s, _ := newTestSource(t, filepath.Join(t.TempDir(), "none.git"), func(o *Options) { o.Ref = ref })
	return s
}

func secretFile(t *testing.T, value string) Secret {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Secret{File: p}
}

// triggered reports (and clears) a pending fetch request.
func triggered(s *Source) bool {
	select {
	case <-s.trigger:
		return true
	default:
		return false
	}
}

func TestWebhooks(t *testing.T) {
	const secret = "s3cret-hook-key"
	push := func(ref string) string { return `{"ref":"` + ref + `","after":"abc"}` }
	main := push("refs/heads/main")
	other := push("refs/heads/feature")
	sign := func(body string) string { return hmacHex(secret, body) }

	tests := []struct {
		name      string
		provider  Provider
		headers   map[string]string
		body      string
		form      bool // GitHub's application/x-www-form-urlencoded delivery
		wantCode  int
		wantFetch bool
	}{
		{name: "github good", provider: GitHub, body: main, wantCode: 202, wantFetch: true,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(main)}},
		{name: "github form body", provider: GitHub, body: "payload=" + url.QueryEscape(main), form: true, wantCode: 202, wantFetch: true,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("payload="+url.QueryEscape(main))}},
		{name: "github bad signature", provider: GitHub, body: main, wantCode: 401,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(main+" ")}},
		{name: "github signature without prefix", provider: GitHub, body: main, wantCode: 401,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(main)}},
		{name: "github missing signature", provider: GitHub, body: main, wantCode: 401,
			headers: map[string]string{"X-GitHub-Event": "push"}},
		{name: "github other branch", provider: GitHub, body: other, wantCode: 200,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(other)}},
		{name: "github ping", provider: GitHub, body: `{"zen":"x"}`, wantCode: 200,
			headers: map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(`{"zen":"x"}`)}},
		{name: "github issue event", provider: GitHub, body: `{}`, wantCode: 200,
			headers: map[string]string{"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + sign(`{}`)}},
		{name: "github malformed body", provider: GitHub, body: `{"ref":`, wantCode: 400,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(`{"ref":`)}},

		{name: "gitlab good", provider: GitLab, body: main, wantCode: 202, wantFetch: true,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}},
		{name: "gitlab bad token", provider: GitLab, body: main, wantCode: 401,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret + "x"}},
		{name: "gitlab missing token", provider: GitLab, body: main, wantCode: 401,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook"}},
		{name: "gitlab other branch", provider: GitLab, body: other, wantCode: 200,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}},
		{name: "gitlab tag push of another ref", provider: GitLab, body: push("refs/tags/v2"), wantCode: 200,
			headers: map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": secret}},
		{name: "gitlab merge request", provider: GitLab, body: `{}`, wantCode: 200,
			headers: map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": secret}},

		{name: "gitea good", provider: Gitea, body: main, wantCode: 202, wantFetch: true,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(main)}},
		{name: "forgejo good", provider: Gitea, body: main, wantCode: 202, wantFetch: true,
			headers: map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": sign(main)}},
		{name: "gitea bad signature", provider: Gitea, body: main, wantCode: 401,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": hmacHex("other", main)}},
		{name: "gitea missing signature", provider: Gitea, body: main, wantCode: 401,
			headers: map[string]string{"X-Gitea-Event": "push"}},
		{name: "gitea other branch", provider: Gitea, body: other, wantCode: 200,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(other)}},

		{name: "generic good, no body", provider: Generic, wantCode: 202, wantFetch: true,
			headers: map[string]string{"Authorization": "Bearer " + secret}},
		{name: "generic good, with ref", provider: Generic, body: main, wantCode: 202, wantFetch: true,
			headers: map[string]string{"Authorization": "Bearer " + secret}},
		{name: "generic other branch", provider: Generic, body: other, wantCode: 200,
			headers: map[string]string{"Authorization": "Bearer " + secret}},
		{name: "generic bad token", provider: Generic, wantCode: 401,
			headers: map[string]string{"Authorization": "Bearer nope"}},
		{name: "generic missing token", provider: Generic, wantCode: 401},
		{name: "generic basic instead of bearer", provider: Generic, wantCode: 401,
			headers: map[string]string{"Authorization": "Basic " + secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := hookSource(t, "main")
			h, err := s.Webhook(WebhookOptions{Provider: tt.provider, Secret: secretFile(t, secret)})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(tt.body))
			if tt.form {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tt.wantCode)
			}
			if got := triggered(s); got != tt.wantFetch {
				t.Fatalf("fetch triggered = %v, want %v", got, tt.wantFetch)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Fatal("the response holds the secret")
			}
		})
	}
}

func TestWebhookLimitsAndRefs(t *testing.T) {
	const secret = "s3cret-hook-key"
	t.Run("body over the limit", func(t *testing.T) {
		s := hookSource(t, "main")
		h, err := s.Webhook(WebhookOptions{Provider: GitHub, Secret: secretFile(t, secret), MaxBodyBytes: 64})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 100) + `"}`
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || triggered(s) {
			t.Fatalf("code %d, triggered %v", rec.Code, triggered(s))
		}
	})
	t.Run("GET refused", func(t *testing.T) {
		s := hookSource(t, "main")
		h, _ := s.Webhook(WebhookOptions{Provider: Generic, Secret: secretFile(t, secret)})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hook", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("code %d", rec.Code)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		s := hookSource(t, "main")
		for _, o := range []WebhookOptions{
			{Provider: "bitbucket", Secret: secretFile(t, secret)},
			{Provider: GitHub},
			{Provider: GitHub, Secret: Secret{Env: "GITSOURCE_TEST_UNSET_VARIABLE"}},
			{Provider: GitHub, Secret: secretFile(t, secret), MaxBodyBytes: -1},
		} {
			if _, err := s.Webhook(o); err == nil {
				t.Fatalf("Webhook(%+v) accepted", o)
			}
		}
	})

	tests := []struct {
		name   string
		follow string
		push   string
		want   bool
	}{
		{name: "branch, same", follow: "main", push: "refs/heads/main", want: true},
		{name: "branch, other", follow: "main", push: "refs/heads/dev", want: false},
		{name: "short name, tag pushed", follow: "v1", push: "refs/tags/v1", want: true},
		{name: "full branch name, tag of same name", follow: "refs/heads/v1", push: "refs/tags/v1", want: false},
		{name: "tag, same", follow: "refs/tags/v1", push: "refs/tags/v1", want: true},
		{name: "pinned commit", follow: strings.Repeat("a", 40), push: "refs/heads/main", want: false},
		{name: "remote HEAD not yet known", follow: "", push: "refs/heads/anything", want: true},
	}
	for _, tt := range tests {
		t.Run("wants/"+tt.name, func(t *testing.T) {
			if got, why := hookSource(t, tt.follow).wants(tt.push); got != tt.want {
				t.Fatalf("wants(%s) = %v (%s), want %v", tt.push, got, why, tt.want)
			}
		})
	}
}

// TestWebhookBurstCoalesces: a burst of pushes before the fetch starts is
// one fetch, and a push on the branch HEAD names is recognised once the
// remote has been listed.
func TestWebhookBurstCoalesces(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newTestSource(t, u.bare, func(o *Options) { o.Clock = fc })
	h, err := s.Webhook(WebhookOptions{Provider: Generic, Secret: secretFile(t, "tok-123456")})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok-123456")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 10 {
		if code := post(""); code != http.StatusAccepted {
			t.Fatalf("code %d", code)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, "the first snapshot", func() bool { return s.Current() != nil })
	waitFor(t, "Run to wait on its timer", fc.HasWaiters)
	if n := s.Status().Attempts; n != 1 {
		t.Fatalf("10 webhooks before the first fetch led to %d fetches, want 1", n)
	}
	if code := post(`{"ref":"refs/heads/other"}`); code != http.StatusOK {
		t.Fatalf("push to another branch than HEAD's: code %d", code)
	}
	sha := u.commitPush("two", map[string]string{"b.yaml": pod("b")})
	if code := post(`{"ref":"refs/heads/main"}`); code != http.StatusAccepted {
		t.Fatalf("push to HEAD's branch: code %d", code)
	}
	// Within WebhookMinInterval of the first fetch the push waits for
	// the interval's end; it is not lost.
	fc.Step(WebhookMinInterval)
	waitFor(t, "the pushed revision", func() bool { return s.Current().Revision == sha })
}

// waitFor polls cond for up to a minute of real time: it waits for another
// goroutine to act, never for a timer.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
