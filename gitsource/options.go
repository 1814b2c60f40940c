package gitsource

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/manifest"
)

// Defaults that Validate fills in.
const (
	DefaultInterval   = 15 * time.Second
	DefaultJitter     = 0.1
	DefaultTimeout    = 60 * time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultHTTPUsername is sent with a Password when Username is empty;
	// hosts that take a token as the password accept any user name.
	DefaultHTTPUsername = "git"
	// DefaultSSHUser is the SSH login when the URL names none.
	DefaultSSHUser = "git"
)

// VerifyMode says which commits must carry a trusted signature.
type VerifyMode string

const (
	// VerifyNone applies commits whether signed or not.
	VerifyNone VerifyMode = "none"
	// VerifyHead applies a revision only if the commit the ref points at is
	// signed by a trusted key. Only that commit is checked: its signer vouches
	// for the whole tree it names, which is exactly what is applied.
	VerifyHead VerifyMode = "head"
)

// Options configures a Source. The zero value of every optional field means
// "the default"; Validate fills defaults in and rejects what cannot work, so
// a bad configuration fails when the server starts, not at the first poll.
type Options struct {
	// URL of the repository, in one of the forms git accepts:
	// a local path (absolute or relative to the working directory),
	// file:///path, http(s)://host/path, ssh://[user@]host[:port]/path or
	// the scp form [user@]host:path. A password in an http(s) URL is
	// refused: put it in Password instead, so it stays out of
	// configuration, logs and status.
	URL string

	// Ref is what to follow: a branch or tag by short name ("main",
	// "v1.2.0"; a tag wins over a branch of the same name, as in git), a
	// full ref name ("refs/heads/main", "refs/tags/v1.2.0"), or a full
	// commit SHA (pinned: nothing is fetched once the commit is present).
	// Empty follows the branch the remote's HEAD names.
	Ref string

	// Path is the directory inside the repository whose manifests are
	// read, slash-separated and relative to the root ("" or "." for the
	// whole tree). It may not leave the tree.
	Path string

	// Dir is where the Source keeps its own bare clone; it is created if
	// missing. It must belong to this Source alone: never a user's
	// checkout, never shared by two Sources.
	Dir string

	// Username is the HTTP basic-auth user sent with Password; default
	// DefaultHTTPUsername. For an SSH URL the user comes from the URL
	// (default DefaultSSHUser) and this field must be empty.
	Username string
	// Password is the HTTP basic-auth password or access token (GitHub:
	// a token with any Username; GitLab: Username "oauth2"). HTTP(S) only.
	Password Secret
	// BearerToken is sent as "Authorization: Bearer <token>" (Bitbucket
	// and Azure DevOps access tokens). HTTP(S) only; exclusive with
	// Password.
	BearerToken Secret

	// SSHKey is the private key (PEM or OpenSSH format) for SSH URLs.
	SSHKey Secret
	// SSHKeyPassphrase decrypts SSHKey, if it is encrypted.
	SSHKeyPassphrase Secret
	// KnownHosts is the path of a known_hosts file holding the server's
	// host key. Required for SSH: an unknown or changed host key is an
	// error (ErrHostKey), never a prompt.
	KnownHosts string

	// Interval between polls; default DefaultInterval. Each wait is
	// stretched by a random part of up to Jitter×Interval, so many servers
	// polling one Git host do not fall into step.
	Interval time.Duration
	// Jitter is the fraction of Interval added at random, 0 to 1; default
	// DefaultJitter.
	Jitter float64
	// Timeout bounds every network call (listing refs, fetching objects)
	// on its own; default DefaultTimeout.
	Timeout time.Duration
	// MinBackoff is the wait after the first failed fetch; it doubles
	// with every further failure up to MaxBackoff. A webhook still
	// triggers a fetch at once. Defaults DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Verify says which commits must be signed by a trusted key; default
	// VerifyNone. VerifyHead needs at least one of OpenPGPKeyRing and
	// SSHAllowedSigners.
	Verify VerifyMode
	// OpenPGPKeyRing is the path of a file of trusted OpenPGP public keys,
	// armored or binary (as `gpg --export [--armor]` writes it).
	OpenPGPKeyRing string
	// SSHAllowedSigners is the path of an allowed_signers file in the
	// format of git's gpg.ssh.allowedSignersFile (ssh-keygen(1) "ALLOWED
	// SIGNERS"). Both trust files are re-read on every poll, so a key added
	// later lets a refused revision through without a restart.
	SSHAllowedSigners string

	// Identities are the age identities that decrypt SOPS-encrypted
	// Secrets, in memory, each time a revision is read (the server keeps
	// them in its data dir). Nil: a revision holding an encrypted Secret is
	// refused, naming it.
	Identities manifest.IdentitySource

	// Logger receives the Source's logs; default slog.Default().
	Logger *slog.Logger
	// Clock drives polling and backoff; default the real clock. Tests
	// pass a k8s.io/utils/clock/testing FakeClock.
	Clock clock.Clock
}

// Validate fills in defaults and checks that the options can work. It
// returns an error wrapping ErrInvalidOptions that names every problem.
func (o *Options) Validate() error {
	_, err := o.validate()
	return err
}

// validate is Validate that also returns the parsed remote endpoint, with
// the SSH user defaulted, so New need not parse the URL again.
func (o *Options) validate() (*transport.Endpoint, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	ep, err := o.normalizeURL()
	if err != nil {
		bad("URL: %w", err)
	}

	if _, err := parseRef(o.Ref); err != nil {
		bad("Ref: %w", err)
	}

	p, err := cleanPath(o.Path)
	if err != nil {
		bad("Path: %w", err)
	}
	o.Path = p

	if o.Dir == "" {
		bad("Dir: required: the Source keeps its own clone there")
	} else if abs, err := filepath.Abs(o.Dir); err != nil {
		bad("Dir: %w", err)
	} else {
		o.Dir = abs
	}

	if ep != nil {
		o.validateCredentials(ep, bad)
	}

	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Interval < 0 {
		bad("Interval: must be positive, got %s", o.Interval)
	}
	if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	if o.Jitter < 0 || o.Jitter > 1 {
		bad("Jitter: must be between 0 and 1, got %g", o.Jitter)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		bad("Timeout: must be positive, got %s", o.Timeout)
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff {
		bad("MinBackoff, MaxBackoff: need 0 < MinBackoff <= MaxBackoff, got %s and %s", o.MinBackoff, o.MaxBackoff)
	}

	switch o.Verify {
	case "":
		o.Verify = VerifyNone
	case VerifyNone, VerifyHead:
	default:
		bad("Verify: unknown mode %q (want %q or %q)", o.Verify, VerifyNone, VerifyHead)
	}
	if o.Verify == VerifyHead {
		if o.OpenPGPKeyRing == "" && o.SSHAllowedSigners == "" {
			bad("Verify: mode %q needs OpenPGPKeyRing or SSHAllowedSigners", VerifyHead)
		} else if _, err := loadTrust(o); err != nil {
			bad("Verify: %w", err)
		}
	} else if o.OpenPGPKeyRing != "" || o.SSHAllowedSigners != "" {
		bad("Verify: trust files are set but Verify is %q; set it to %q", o.Verify, VerifyHead)
	}

	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return ep, nil
}

func (o *Options) validateCredentials(ep *transport.Endpoint, bad func(string, ...any)) {
	switch ep.Protocol {
	case "http", "https":
		if o.Password.IsSet() && o.BearerToken.IsSet() {
			bad("Password, BearerToken: set one, not both")
		}
		if o.Username != "" && !o.Password.IsSet() {
			bad("Username: set without Password")
		}
		if o.Password.IsSet() && o.Username == "" {
			o.Username = ep.User
			if o.Username == "" {
				o.Username = DefaultHTTPUsername
			}
		}
		if o.SSHKey.IsSet() || o.SSHKeyPassphrase.IsSet() || o.KnownHosts != "" {
			bad("SSHKey, SSHKeyPassphrase, KnownHosts: only for SSH URLs")
		}
		for _, s := range []struct {
			name string
			s    Secret
		}{{"Password", o.Password}, {"BearerToken", o.BearerToken}} {
			if s.s.IsSet() {
				if _, err := s.s.read(true); err != nil {
					bad("%s: %w", s.name, err)
				}
			}
		}
	case "ssh":
		if o.Username != "" || o.Password.IsSet() || o.BearerToken.IsSet() {
			bad("Username, Password, BearerToken: only for HTTP(S) URLs; an SSH user goes in the URL")
		}
		if !o.SSHKey.IsSet() {
			bad("SSHKey: required for an SSH URL")
		} else if _, err := sshAuthFor(o, ep); err != nil {
			bad("SSHKey: %w", err)
		}
		if o.KnownHosts == "" {
			bad("KnownHosts: required for an SSH URL: an unknown host is an error, not a prompt")
		} else if _, err := os.Stat(o.KnownHosts); err != nil {
			bad("KnownHosts: %w", err)
		}
	case "file":
		if o.Username != "" || o.Password.IsSet() || o.BearerToken.IsSet() || o.SSHKey.IsSet() ||
			o.SSHKeyPassphrase.IsSet() || o.KnownHosts != "" {
			bad("credentials: a local repository takes none")
		}
	}
}

// normalizeURL checks URL, makes a local path absolute (go-git's file
// transport needs that) and returns the parsed endpoint.
func (o *Options) normalizeURL() (*transport.Endpoint, error) {
	raw := strings.TrimSpace(o.URL)
	if raw == "" {
		return nil, errors.New("required")
	}
	if strings.ContainsAny(raw, "\x00\n\r") {
		return nil, errors.New("contains a control character")
	}
	if isLocalPath(raw) {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return nil, err
		}
		raw = abs
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.User != nil {
		if _, has := u.User.Password(); has {
			return nil, fmt.Errorf("%s holds a password: put it in Password (a file or an environment variable) instead", RedactURL(raw))
		}
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s", RedactURL(raw))
	}
	switch ep.Protocol {
	case "file", "http", "https", "ssh":
	default:
		return nil, fmt.Errorf("scheme %q is not supported (want a path, file, http, https or ssh)", ep.Protocol)
	}
	if ep.Protocol != "file" && ep.Host == "" {
		return nil, fmt.Errorf("%s names no host", RedactURL(raw))
	}
	if ep.Protocol == "ssh" && ep.User == "" {
		ep.User = DefaultSSHUser
	}
	o.URL = raw
	return ep, nil
}

// isLocalPath reports whether s is a path rather than a URL or the scp
// form: no scheme, and no "host:" before the first slash.
func isLocalPath(s string) bool {
	if strings.Contains(s, "://") {
		return false
	}
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return true
	}
	slash := strings.IndexByte(s, '/')
	return slash >= 0 && slash < colon
}

// cleanPath turns the user's subdirectory into the fs.FS form: "." or a
// slash-separated relative path without "..".
func cleanPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" || p == "." || p == "/" {
		return ".", nil
	}
	if strings.ContainsRune(p, '\\') || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q: use forward slashes and printable characters", p)
	}
	c := path.Clean(strings.TrimPrefix(p, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q leaves the repository", p)
	}
	return c, nil
}

// hostPort is the "host:port" go-git dials for an SSH endpoint, which is
// also the key known_hosts is consulted with.
func hostPort(ep *transport.Endpoint) string {
	port := ep.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(ep.Host, fmt.Sprint(port))
}

// Secret says where a secret value is read from: a file (the form
// Kubernetes and systemd credentials take) or an environment variable.
// The value is read when it is needed, so a rotated file takes effect at
// the next fetch, and it is never printed: String names only its source.
type Secret struct {
	// File is the path of a file holding the value.
	File string
	// Env is the name of an environment variable holding the value.
	Env string
}

// IsSet reports whether the secret has a source.
func (s Secret) IsSet() bool { return s.File != "" || s.Env != "" }

// String names where the value comes from, never the value.
func (s Secret) String() string {
	switch {
	case s.File != "":
		return "file " + s.File
	case s.Env != "":
		return "env $" + s.Env
	}
	return "unset"
}

// read returns the value; trim drops the trailing newlines (and carriage
// returns) that editors and `echo` add to a token file. Errors never hold
// the value.
func (s Secret) read(trim bool) ([]byte, error) {
	if s.File != "" && s.Env != "" {
		return nil, errors.New("set File or Env, not both")
	}
	var v []byte
	switch {
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("read secret %s: %w", s, err)
		}
		v = b
	case s.Env != "":
		e, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("read secret %s: not set", s)
		}
		v = []byte(e)
	default:
		return nil, errors.New("no source set")
	}
	if trim {
		v = []byte(strings.TrimRight(string(v), "\r\n"))
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("secret %s is empty", s)
	}
	return v, nil
}
