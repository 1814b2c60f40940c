package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Provider names who sends a webhook, which fixes how it is authenticated
// and read.
type Provider string

const (
	// GitHub signs the body with HMAC-SHA256 in X-Hub-Signature-256.
	GitHub Provider = "github"
	// GitLab sends the secret itself in X-Gitlab-Token.
	GitLab Provider = "gitlab"
	// Gitea and Forgejo sign the body with HMAC-SHA256 in
	// X-Gitea-Signature (Forgejo also in X-Forgejo-Signature).
	Gitea Provider = "gitea"
	// Generic takes "Authorization: Bearer <secret>" and an optional JSON
	// body {"ref": "refs/heads/main"}; without a ref every call fetches.
	// For CI jobs and scripts.
	Generic Provider = "generic"
)

// DefaultWebhookBodyLimit is the largest body read when WebhookOptions
// sets none. Push payloads list commits and can be large; this fits
// hundreds of them and still bounds what a stranger can make us read.
const DefaultWebhookBodyLimit = 4 << 20

// WebhookOptions configures one webhook endpoint.
type WebhookOptions struct {
	// Provider is who sends it: GitHub, GitLab, Gitea or Generic.
	Provider Provider
	// Secret is the shared secret configured at the provider (the HMAC
	// key, the GitLab token or the bearer token). It is read on every
	// request, so rotating the file takes effect at once.
	Secret Secret
	// MaxBodyBytes bounds the body; larger ones get 413. Default
	// DefaultWebhookBodyLimit.
	MaxBodyBytes int64
	// ReadTimeout bounds the time to read the body (default
	// DefaultWebhookReadTimeout): a slow sender is cut off.
	ReadTimeout time.Duration
}

// Webhook returns an http.Handler that triggers a fetch when the provider
// reports a push to the ref this Source follows. A missing or wrong
// signature or token gets 401 and triggers nothing; a push to another ref
// gets 200 and is ignored; a push that matches gets 202. Any number of
// pushes before the fetch starts lead to one fetch. Mount it on its own
// path, one per provider.
func (s *Source) Webhook(o WebhookOptions) (http.Handler, error) {
	switch o.Provider {
	case GitHub, GitLab, Gitea, Generic:
	default:
		return nil, fmt.Errorf("%w: webhook provider %q (want github, gitlab, gitea or generic)", ErrInvalidOptions, o.Provider)
	}
	if !o.Secret.IsSet() {
		return nil, fmt.Errorf("%w: webhook %s: a secret is required", ErrInvalidOptions, o.Provider)
	}
	if _, err := o.Secret.read(true); err != nil {
		return nil, fmt.Errorf("%w: webhook %s: %w", ErrInvalidOptions, o.Provider, err)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultWebhookBodyLimit
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("%w: webhook %s: MaxBodyBytes must be positive", ErrInvalidOptions, o.Provider)
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultWebhookReadTimeout
	}
	s.guardOnce.Do(func() { s.guard = newHookGuard(s.clock) })
	return &hook{src: s, o: o}, nil
}

type hook struct {
	src *Source
	o   WebhookOptions
}

// event is what a webhook says happened.
type event struct {
	kind string // "push", "ping" or the provider's name for another event
	ref  string // full ref name, "" if the sender did not say
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	secret, err := h.o.Secret.read(true)
	if err != nil {
		h.src.log.Error("webhook secret unavailable", "provider", h.o.Provider, "err", err)
		http.Error(w, "webhook secret unavailable", http.StatusInternalServerError)
		return
	}
	// Tokens are checked before the body is read, so a stranger cannot
	// make us read megabytes.
	switch h.o.Provider {
	case GitLab:
		if !equalSecret(r.Header.Get("X-Gitlab-Token"), secret) {
			h.unauthorized(w, r)
			return
		}
	case Generic:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !equalSecret(strings.TrimSpace(tok), secret) {
			h.unauthorized(w, r)
			return
		}
	}
	// The body is bounded in size and in time before any signature is
	// checked on it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.o.ReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.o.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	switch h.o.Provider {
	case GitHub:
		if !validHMAC(r.Header.Get("X-Hub-Signature-256"), "sha256=", body, secret) {
			h.unauthorized(w, r)
			return
		}
	case Gitea:
		sig := r.Header.Get("X-Gitea-Signature")
		if sig == "" {
			sig = r.Header.Get("X-Forgejo-Signature")
		}
		if !validHMAC(sig, "", body, secret) {
			h.unauthorized(w, r)
			return
		}
	}

	if h.src.guard.replayed(deliveryID(r.Header)) {
		h.src.log.Debug("webhook delivery replayed; ignored", "provider", h.o.Provider)
		fmt.Fprintln(w, "ignored: this delivery was already received")
		return
	}
	ev, err := parseEvent(h.o.Provider, r.Header, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch ev.kind {
	case "ping":
		fmt.Fprintln(w, "pong")
		return
	case "push":
	default:
		fmt.Fprintf(w, "ignored: %q is not a push event\n", ev.kind)
		return
	}
	if ok, why := h.src.wants(ev.ref); !ok {
		h.src.log.Debug("webhook push ignored", "provider", h.o.Provider, "ref", ev.ref, "why", why)
		fmt.Fprintf(w, "ignored: %s\n", why)
		return
	}
	h.src.log.Info("webhook push; fetching", "provider", h.o.Provider, "ref", ev.ref)
	h.src.guard.trigger(h.src.Trigger)
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "fetch triggered")
}

func (h *hook) unauthorized(w http.ResponseWriter, r *http.Request) {
	// Debug: strangers must not be able to fill the log.
	h.src.log.Debug("webhook refused: bad or missing signature", "provider", h.o.Provider, "remote", r.RemoteAddr)
	http.Error(w, "bad or missing signature", http.StatusUnauthorized)
}

// equalSecret compares in constant time; hashing first hides the length
// of the secret too.
func equalSecret(got string, secret []byte) bool {
	if got == "" {
		return false
	}
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// validHMAC checks header (hex HMAC-SHA256 of body after prefix) in
// constant time.
func validHMAC(header, prefix string, body, secret []byte) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), prefix)
	if !ok || hexSig == "" {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// parseEvent reads the event kind and pushed ref from an authenticated
// request.
func parseEvent(p Provider, hdr http.Header, body []byte) (event, error) {
	var kind string
	switch p {
	case GitHub:
		kind = hdr.Get("X-GitHub-Event")
		if kind == "" {
			return event{}, errors.New("missing X-GitHub-Event")
		}
		if ct, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return event{}, fmt.Errorf("bad form body: %v", err)
			}
			body = []byte(form.Get("payload"))
		}
	case GitLab:
		switch hdr.Get("X-Gitlab-Event") {
		case "Push Hook", "Tag Push Hook":
			kind = "push"
		case "":
			return event{}, errors.New("missing X-Gitlab-Event")
		default:
			kind = hdr.Get("X-Gitlab-Event")
		}
	case Gitea:
		kind = hdr.Get("X-Gitea-Event")
		if kind == "" {
			kind = hdr.Get("X-Forgejo-Event")
		}
		if kind == "" {
			return event{}, errors.New("missing X-Gitea-Event")
		}
	case Generic:
		kind = "push"
		if len(strings.TrimSpace(string(body))) == 0 {
			return event{kind: kind}, nil
		}
	}
	if kind != "push" {
		return event{kind: kind}, nil
	}
	var payload struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return event{}, fmt.Errorf("bad JSON body: %v", err)
	}
	if p != Generic && payload.Ref == "" {
		return event{}, errors.New("push event without a ref")
	}
	if len(payload.Ref) > maxRefLen {
		return event{}, errors.New("ref too long")
	}
	return event{kind: kind, ref: payload.Ref}, nil
}

// wants reports whether a push to ref (a full ref name, "" if unknown)
// can change what this Source follows, and if not, why.
func (s *Source) wants(ref string) (bool, string) {
	if ref == "" {
		return true, ""
	}
	name := plumbing.ReferenceName(ref)
	switch s.ref.kind {
	case refCommit:
		return false, "the source is pinned to commit " + s.ref.name
	case refDefault:
		s.mu.Lock()
		head := s.headBranch
		s.mu.Unlock()
		// Before the first listing the default branch is unknown: fetch.
		if head == "" || name == head {
			return true, ""
		}
		return false, fmt.Sprintf("push to %s; following %s", ref, head)
	}
	for _, c := range s.ref.candidates() {
		if name == c {
			return true, ""
		}
	}
	return false, fmt.Sprintf("push to %s; following %s", ref, s.ref)
}
