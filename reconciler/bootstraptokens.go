package reconciler

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
)

// BootstrapTokenFile keeps the bootstrap tokens in the server's data dir
// (mode 0600): their IDs, usages and expiry, and the SHA-256 of each
// secret, never the secret.
const BootstrapTokenFile = "tokens.json"

// Bootstrap token limits.
const (
	// DefaultTokenTTL is a token's life when the request names none, as
	// kubeadm's.
	DefaultTokenTTL = 24 * time.Hour
	// MaxTokenTTL bounds a token's life: a bootstrap secret is not a
	// standing credential.
	MaxTokenTTL = 365 * 24 * time.Hour
	// maxTokens bounds how many live tokens the file holds.
	maxTokens = 1000
)

// BootstrapTokens are the admin's short-lived tokens, kubeadm's shape
// "[a-z0-9]{6}.[a-z0-9]{16}": a join token registers one new node name, a
// plan token reads and plans. A presented token is looked up by its ID
// and its secret compared by hash in constant time, so a wrong token
// costs one map lookup whatever the number of tokens; an expired one is
// refused (and dropped at the next write).
type BootstrapTokens struct {
	path  string
	clock clock.Clock

	mu   sync.RWMutex
	byID map[string]bootstrapToken
}

// bootstrapToken is a token as the file keeps it: what the admin sees
// (Token empty) and the SHA-256 of its secret.
type bootstrapToken struct {
	api.Token
	SecretHash string `json:"secretHash"`
}

// OpenBootstrapTokens reads the tokens kept in dataDir (none yet is an
// empty set).
func OpenBootstrapTokens(dataDir string, clk clock.Clock) (*BootstrapTokens, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	t := &BootstrapTokens{path: filepath.Join(dataDir, BootstrapTokenFile), clock: clk, byID: map[string]bootstrapToken{}}
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bootstrap tokens: %w", err)
	}
	var list []bootstrapToken
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("bootstrap tokens %s: %w", t.path, err)
	}
	for _, tok := range list {
		t.byID[tok.ID] = tok
	}
	return t, nil
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomTokenPart(n int) (string, error) {
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a token: %w", err)
	}
	// 256 is not a multiple of 36: drop the biased top bytes.
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, c := range raw {
			if c < 252 && len(out) < n {
				out = append(out, tokenAlphabet[int(c)%36])
			}
		}
		if _, err := rand.Read(raw); err != nil {
			return "", fmt.Errorf("make a token: %w", err)
		}
	}
	return string(out), nil
}

// Lookup returns the usages of token when it is a live bootstrap token.
func (t *BootstrapTokens) Lookup(token string) ([]string, bool) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || len(id) != 6 || len(secret) != 16 {
		return nil, false
	}
	t.mu.RLock()
	rec, ok := t.byID[id]
	t.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(credentialHash(secret)), []byte(rec.SecretHash)) != 1 {
		return nil, false
	}
	if !t.clock.Now().Before(rec.Expires) {
		return nil, false
	}
	return rec.Usages, true
}

func badToken(msg string) error {
	return &api.Error{Code: http.StatusBadRequest, Reason: "BadRequest", Message: msg}
}

// Create makes a token; the answer holds its secret, which is kept
// nowhere else.
func (t *BootstrapTokens) Create(req api.TokenCreateRequest) (*api.Token, error) {
	ttl := req.TTL.Duration
	switch {
	case ttl == 0:
		ttl = DefaultTokenTTL
	case ttl < time.Minute || ttl > MaxTokenTTL:
		return nil, badToken(fmt.Sprintf("ttl %v: must be between 1m and %v", ttl, MaxTokenTTL))
	}
	usages := slices.Clone(req.Usages)
	if len(usages) == 0 {
		usages = []string{api.TokenUsageJoin}
	}
	slices.Sort(usages)
	usages = slices.Compact(usages)
	for _, u := range usages {
		if u != api.TokenUsageJoin && u != api.TokenUsagePlan {
			return nil, badToken(fmt.Sprintf("usage %q: want %s or %s", u, api.TokenUsageJoin, api.TokenUsagePlan))
		}
	}
	if len(req.Description) > 256 {
		return nil, badToken("description: longer than 256 bytes")
	}
	id, err := randomTokenPart(6)
	if err != nil {
		return nil, err
	}
	secret, err := randomTokenPart(16)
	if err != nil {
		return nil, err
	}
	now := t.clock.Now().UTC()
	rec := bootstrapToken{Token: api.Token{ID: id, Usages: usages, Created: now, Expires: now.Add(ttl), Description: req.Description},
		SecretHash: credentialHash(secret)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	if _, taken := t.byID[id]; taken {
		return nil, fmt.Errorf("bootstrap token ID %s drawn twice; try again", id)
	}
	if len(t.byID) >= maxTokens {
		return nil, &api.Error{Code: http.StatusConflict, Reason: "Conflict", Message: fmt.Sprintf("%d live tokens already; delete some first", maxTokens)}
	}
	t.byID[id] = rec
	if err := t.save(); err != nil {
		delete(t.byID, id)
		return nil, err
	}
	out := rec.Token
	out.Token = id + "." + secret
	return &out, nil
}

// List returns the live tokens, oldest first, without their secrets.
func (t *BootstrapTokens) List() ([]api.Token, error) {
	now := t.clock.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := []api.Token{}
	for _, r := range t.byID {
		if now.Before(r.Expires) {
			out = append(out, r.Token)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Delete removes a token by ID (or by the whole token); an unknown one
// is a 404 *api.Error.
func (t *BootstrapTokens) Delete(id string) error {
	id, _, _ = strings.Cut(id, ".")
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, ok := t.byID[id]
	if !ok {
		return notFound("token", "", id)
	}
	delete(t.byID, id)
	if err := t.save(); err != nil {
		t.byID[id] = rec
		return err
	}
	return nil
}

func (t *BootstrapTokens) dropExpired(now time.Time) {
	for id, r := range t.byID {
		if !now.Before(r.Expires) {
			delete(t.byID, id)
		}
	}
}

// save writes the file whole (a temporary file renamed over it), 0600.
// The caller holds mu.
func (t *BootstrapTokens) save() error {
	list := make([]bootstrapToken, 0, len(t.byID))
	for _, r := range t.byID {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("bootstrap tokens: %w", err)
	}
	tmp := t.path + ".tmp"
	_ = os.Remove(tmp) // a leftover keeps its mode under WriteFile
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("bootstrap tokens: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("bootstrap tokens: %w", err)
	}
	return nil
}
