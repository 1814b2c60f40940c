package reconciler

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Tokens are the bearer tokens of the two powers.
type Tokens struct {
	// Agent is the join token: agents register and speak for their node.
	Agent string
	// Admin reads everything (the CLI).
	Admin string
	// Bootstrap are the admin's short-lived join and plan tokens
	// (`berth token create`); nil: none.
	Bootstrap *BootstrapTokens
}

// Token file names in the server's data dir.
const (
	AgentTokenFile = "agent.token"
	AdminTokenFile = "admin.token"
)

// EnsureTokens returns the tokens kept in dataDir, creating each missing
// one (32 random bytes, hex, mode 0600) on first start.
func EnsureTokens(dataDir string) (Tokens, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	var t Tokens
	for _, f := range []struct {
		name string
		dst  *string
	}{{AgentTokenFile, &t.Agent}, {AdminTokenFile, &t.Admin}} {
		tok, err := ensureTokenFile(filepath.Join(dataDir, f.name))
		if err != nil {
			return Tokens{}, err
		}
		*f.dst = tok
	}
	if t.Agent == t.Admin {
		return Tokens{}, fmt.Errorf("tokens in %s: the agent and admin tokens are equal; remove one to make a new one", dataDir)
	}
	var err error
	if t.Bootstrap, err = OpenBootstrapTokens(dataDir, nil); err != nil {
		return Tokens{}, err
	}
	return t, nil
}

func ensureTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", fmt.Errorf("token %s: too short; remove it to make a new one", path)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	tok, err := newToken()
	if err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	// O_EXCL: two servers starting at once on one data dir cannot both
	// write a token and hand out different ones.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return ensureTokenFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("token %s: %w", path, err)
	}
	return tok, nil
}

func newToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a token: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

func credentialHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
