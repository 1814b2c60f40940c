package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berth-dev/berth/manifest"
)

// Errors callers branch on. Every error the Source returns wraps exactly
// one of them; match with errors.Is.
var (
	// ErrInvalidOptions: the Options cannot work (see Validate).
	ErrInvalidOptions = errors.New("invalid gitsource options")
	// ErrRepositoryNotFound: the server has no repository at the URL.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrAuth: the credentials were missing, wrong or not allowed to read.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey: the SSH server's host key is not in KnownHosts, or differs.
	ErrHostKey = errors.New("ssh host key not trusted")
	// ErrRefNotFound: the branch, tag or commit does not exist on the
	// remote (or the remote is empty).
	ErrRefNotFound = errors.New("ref not found")
	// ErrUnavailable: the server could not be reached, failed, or did not
	// answer within Timeout. Fetching is retried with backoff.
	ErrUnavailable = errors.New("git server unavailable")
	// ErrFetch: any other failure to list or fetch.
	ErrFetch = errors.New("fetch failed")
	// ErrUntrustedCommit: verification is on and the commit is unsigned,
	// signed by a key that is not trusted, or its signature is bad.
	ErrUntrustedCommit = errors.New("untrusted commit")
	// ErrInvalidManifests: the revision's manifests have errors.
	ErrInvalidManifests = errors.New("invalid manifests")
	// ErrClosed: the Source was closed.
	ErrClosed = errors.New("source closed")
)

// FetchError is a failure to list or fetch from the remote. Its text is
// redacted: it names the URL without credentials and never holds a secret.
type FetchError struct {
	// Op is "list" (reading the remote's refs) or "fetch".
	Op string
	// URL is the remote, with any userinfo password removed.
	URL string
	// Kind is one of ErrRepositoryNotFound, ErrAuth, ErrHostKey,
	// ErrRefNotFound, ErrUnavailable and ErrFetch.
	Kind error
	// Detail is the underlying message, redacted.
	Detail string
}

func (e *FetchError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s %s: %v", e.Op, e.URL, e.Kind)
	}
	return fmt.Sprintf("%s %s: %v: %s", e.Op, e.URL, e.Kind, e.Detail)
}

// Unwrap returns Kind only: the library's error is not kept, because its
// text or fields could carry a credential.
func (e *FetchError) Unwrap() error { return e.Kind }

// RejectedError says why a fetched revision is not applied. The last good
// snapshot stays current.
type RejectedError struct {
	// Revision is the commit SHA that was refused, Subject the first line
	// of its message.
	Revision string
	Subject  string
	// Err wraps ErrInvalidManifests or ErrUntrustedCommit and says why.
	Err error
	// Errors lists every manifest problem (file, line, field), sorted;
	// nil when the commit was refused for its signature.
	Errors manifest.ErrorList
}

func (e *RejectedError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("revision %s rejected: %v", e.Revision, e.Err)
	}
	return fmt.Sprintf("revision %s rejected: %v:\n%v", e.Revision, e.Err, e.Errors)
}

// Unwrap lets errors.Is find ErrInvalidManifests or ErrUntrustedCommit and
// errors.As find the manifest.ErrorList.
func (e *RejectedError) Unwrap() []error {
	if len(e.Errors) == 0 {
		return []error{e.Err}
	}
	return []error{e.Err, e.Errors}
}

// classify maps an error from go-git or the network to one of ours. It
// decides on types and sentinels first and falls back to the texts that
// golang.org/x/crypto/ssh produces, which it exposes no type for.
func classify(err error) error {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	var netErr net.Error
	var httpErr *githttp.Err
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return ErrRepositoryNotFound
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return ErrAuth
	case errors.Is(err, transport.ErrEmptyRemoteRepository),
		errors.As(err, new(git.NoMatchingRefSpecError)):
		return ErrRefNotFound
	case errors.As(err, &keyErr), errors.As(err, &revoked),
		strings.Contains(msg, "knownhosts:"):
		return ErrHostKey
	case strings.Contains(msg, "ssh: unable to authenticate"),
		strings.Contains(msg, "ssh: handshake failed: ssh: no auth"):
		return ErrAuth
	case errors.As(err, new(*fs.PathError)):
		// A file of the local clone could not be written or read (a full
		// disk, a read-only mount): not the server's fault. Checked before
		// net.Error, which every syscall.Errno inside it also satisfies.
		return ErrFetch
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.As(err, &netErr):
		return ErrUnavailable
	case errors.As(err, &httpErr) && httpErr.StatusCode() >= 500:
		return ErrUnavailable
	case strings.Contains(msg, "repository not found"),
		strings.Contains(msg, "does not appear to be a git repository"):
		return ErrRepositoryNotFound
	}
	return ErrFetch
}

// userinfoRE matches the userinfo of a URL inside free text.
var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// RedactURL returns raw with any userinfo password replaced, for logs and
// status. A string that is not a URL is returned with anything that looks
// like userinfo in it masked.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.User == nil {
		return userinfoRE.ReplaceAllString(raw, "${1}xxxxx@")
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// redact removes every known secret value and URL password from s.
func redact(s string, secrets [][]byte) string {
	for _, v := range secrets {
		if len(v) >= 4 { // shorter values would mangle ordinary words
			s = strings.ReplaceAll(s, string(v), "xxxxx")
		}
	}
	return userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		scheme, rest, _ := strings.Cut(m, "://")
		user, _, hasPass := strings.Cut(strings.TrimSuffix(rest, "@"), ":")
		if !hasPass {
			return m
		}
		return scheme + "://" + user + ":xxxxx@"
	})
}
