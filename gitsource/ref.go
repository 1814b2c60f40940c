package gitsource

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// refKind says how a configured Ref is resolved on the remote.
type refKind int

const (
	refDefault refKind = iota // the branch the remote's HEAD names
	refBranch                 // refs/heads/<name>
	refTag                    // refs/tags/<name>
	refShort                  // <name>: a tag if one exists, else a branch
	refCommit                 // a full commit SHA
)

// ref is a parsed Options.Ref.
type ref struct {
	kind refKind
	// name is the short branch or tag name, or the SHA for refCommit.
	name string
}

func (r ref) String() string {
	switch r.kind {
	case refDefault:
		return "HEAD"
	case refBranch:
		return "refs/heads/" + r.name
	case refTag:
		return "refs/tags/" + r.name
	}
	return r.name
}

// candidates are the full ref names to look for on the remote, in the
// order git's rev-parse prefers them.
func (r ref) candidates() []plumbing.ReferenceName {
	switch r.kind {
	case refBranch:
		return []plumbing.ReferenceName{plumbing.NewBranchReferenceName(r.name)}
	case refTag:
		return []plumbing.ReferenceName{plumbing.NewTagReferenceName(r.name)}
	case refShort:
		return []plumbing.ReferenceName{plumbing.NewTagReferenceName(r.name), plumbing.NewBranchReferenceName(r.name)}
	}
	return nil
}

// maxRefLen bounds a ref name; git has no limit, but no real ref is this
// long and a bound keeps hostile configuration and webhook input cheap.
const maxRefLen = 1024

// parseRef parses Options.Ref. It accepts what `git check-ref-format`
// accepts for branch and tag names, and a full SHA-1 or SHA-256 hex
// commit id; an abbreviated SHA is refused, because it could later
// become ambiguous and silently move.
func parseRef(s string) (ref, error) {
	if s == "" {
		return ref{kind: refDefault}, nil
	}
	if len(s) > maxRefLen {
		return ref{}, fmt.Errorf("longer than %d bytes", maxRefLen)
	}
	if s == "HEAD" {
		return ref{kind: refDefault}, nil
	}
	if isFullSHA(s) {
		return ref{kind: refCommit, name: strings.ToLower(s)}, nil
	}
	var r ref
	switch {
	case strings.HasPrefix(s, "refs/heads/"):
		r = ref{kind: refBranch, name: strings.TrimPrefix(s, "refs/heads/")}
	case strings.HasPrefix(s, "refs/tags/"):
		r = ref{kind: refTag, name: strings.TrimPrefix(s, "refs/tags/")}
	case strings.HasPrefix(s, "refs/"):
		return ref{}, fmt.Errorf("%q: only refs/heads/ and refs/tags/ can be followed", s)
	default:
		r = ref{kind: refShort, name: s}
	}
	if err := checkRefName(r.name); err != nil {
		return ref{}, fmt.Errorf("%q: %w", s, err)
	}
	return r, nil
}

// isFullSHA reports whether s is 40 (SHA-1) or 64 (SHA-256) hex digits.
func isFullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkRefName applies the rules of git-check-ref-format(1) to a branch or
// tag name (the part after refs/heads/ or refs/tags/).
func checkRefName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if name == "@" {
		return errors.New(`"@" is not a valid name`)
	}
	if strings.HasPrefix(name, "-") {
		return errors.New(`may not begin with "-" (git would read it as an option)`)
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, "/") || strings.HasPrefix(name, "/") {
		return errors.New("may not begin or end with a slash or end with a dot")
	}
	if strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.Contains(name, "//") {
		return errors.New(`may not contain "..", "@{" or "//"`)
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return errors.New(`no component may begin with "." or end with ".lock"`)
		}
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return fmt.Errorf("may not contain %q", c)
		}
	}
	return nil
}
