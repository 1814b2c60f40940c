package gitsource

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

func TestOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	key := newSSHKey(t, "k@example.com")
	known := writeFile(t, "known_hosts", "")
	pw := writeFile(t, "pw", "token\n")
	wd, _ := os.Getwd()

	tests := []struct {
		name     string
		opts     Options
		wantErr  []string // each must appear; nil means valid
		wantURL  string
		wantPath string
		wantUser string
	}{
		{name: "absolute path", opts: Options{URL: "/srv/git/repo.git", Dir: dir}, wantURL: "/srv/git/repo.git", wantPath: "."},
		{name: "relative path made absolute", opts: Options{URL: "repos/r.git", Dir: dir}, wantURL: filepath.Join(wd, "repos/r.git")},
		{name: "dot path", opts: Options{URL: "./r", Dir: dir}, wantURL: filepath.Join(wd, "r")},
		{name: "file URL", opts: Options{URL: "file:///srv/r.git", Dir: dir}, wantURL: "file:///srv/r.git"},
		{name: "https", opts: Options{URL: "https://example.com/r.git", Dir: dir}},
		{name: "https token", opts: Options{URL: "https://example.com/r.git", Dir: dir, Password: Secret{File: pw}}, wantUser: DefaultHTTPUsername},
		{name: "https user in URL", opts: Options{URL: "https://oauth2@example.com/r.git", Dir: dir, Password: Secret{File: pw}}, wantUser: "oauth2"},
		{name: "ssh URL", opts: Options{URL: "ssh://git@example.com:2222/r.git", Dir: dir, SSHKey: Secret{File: key.priv}, KnownHosts: known}},
		{name: "scp form", opts: Options{URL: "git@example.com:org/r.git", Dir: dir, SSHKey: Secret{File: key.priv}, KnownHosts: known}},
		{name: "subdirectory cleaned", opts: Options{URL: "/r", Dir: dir, Path: "/deploy//prod/"}, wantPath: "deploy/prod"},

		{name: "nothing", opts: Options{}, wantErr: []string{"URL: required", "Dir: required"}},
		{name: "password in URL", opts: Options{URL: "https://u:pa55word@example.com/r.git", Dir: dir},
			wantErr: []string{"holds a password", "https://u:xxxxx@example.com"}},
		{name: "git scheme", opts: Options{URL: "git://example.com/r.git", Dir: dir}, wantErr: []string{`scheme "git"`}},
		{name: "ssh without known_hosts", opts: Options{URL: "git@example.com:r.git", Dir: dir, SSHKey: Secret{File: key.priv}},
			wantErr: []string{"KnownHosts: required"}},
		{name: "ssh without key", opts: Options{URL: "git@example.com:r.git", Dir: dir, KnownHosts: known}, wantErr: []string{"SSHKey: required"}},
		{name: "ssh with password", opts: Options{URL: "git@example.com:r.git", Dir: dir, SSHKey: Secret{File: key.priv}, KnownHosts: known, Password: Secret{File: pw}},
			wantErr: []string{"only for HTTP(S)"}},
		{name: "http with ssh key", opts: Options{URL: "https://example.com/r", Dir: dir, SSHKey: Secret{File: key.priv}}, wantErr: []string{"only for SSH"}},
		{name: "password and token", opts: Options{URL: "https://example.com/r", Dir: dir, Password: Secret{File: pw}, BearerToken: Secret{File: pw}},
			wantErr: []string{"not both"}},
		{name: "missing secret file", opts: Options{URL: "https://example.com/r", Dir: dir, Password: Secret{File: "/nonexistent/pw"}},
			wantErr: []string{"Password", "/nonexistent/pw"}},
		{name: "unset secret variable", opts: Options{URL: "https://example.com/r", Dir: dir, BearerToken: Secret{Env: "GITSOURCE_TEST_NOT_SET"}},
			wantErr: []string{"$GITSOURCE_TEST_NOT_SET", "not set"}},
		{name: "local with credentials", opts: Options{URL: "/r", Dir: dir, Password: Secret{File: pw}}, wantErr: []string{"takes none"}},
		{name: "path escapes", opts: Options{URL: "/r", Dir: dir, Path: "../etc"}, wantErr: []string{"leaves the repository"}},
		{name: "bad ref", opts: Options{URL: "/r", Dir: dir, Ref: "a..b"}, wantErr: []string{"Ref:"}},
		{name: "negative interval", opts: Options{URL: "/r", Dir: dir, Interval: -time.Second}, wantErr: []string{"Interval"}},
		{name: "jitter above 1", opts: Options{URL: "/r", Dir: dir, Jitter: 2}, wantErr: []string{"Jitter"}},
		{name: "backoff upside down", opts: Options{URL: "/r", Dir: dir, MinBackoff: time.Minute, MaxBackoff: time.Second}, wantErr: []string{"MinBackoff"}},
		{name: "verify without keys", opts: Options{URL: "/r", Dir: dir, Verify: VerifyHead}, wantErr: []string{"needs OpenPGPKeyRing or SSHAllowedSigners"}},
		{name: "keys without verify", opts: Options{URL: "/r", Dir: dir, SSHAllowedSigners: known}, wantErr: []string{"Verify is"}},
		{name: "unknown verify mode", opts: Options{URL: "/r", Dir: dir, Verify: "tag"}, wantErr: []string{"unknown mode"}},
		{name: "unreadable keyring", opts: Options{URL: "/r", Dir: dir, Verify: VerifyHead, OpenPGPKeyRing: pw}, wantErr: []string{"OpenPGP keyring"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			err := o.Validate()
			if tt.wantErr != nil {
				if !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("error %v: want ErrInvalidOptions", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantURL != "" && o.URL != tt.wantURL {
				t.Fatalf("URL %q, want %q", o.URL, tt.wantURL)
			}
			if tt.wantPath != "" && o.Path != tt.wantPath {
				t.Fatalf("Path %q, want %q", o.Path, tt.wantPath)
			}
			if o.Username != tt.wantUser {
				t.Fatalf("Username %q, want %q", o.Username, tt.wantUser)
			}
			if o.Interval != DefaultInterval || o.Timeout != DefaultTimeout || o.Jitter != DefaultJitter ||
				o.MinBackoff != DefaultMinBackoff || o.MaxBackoff != DefaultMaxBackoff || o.Verify != VerifyNone ||
				o.Logger == nil || o.Clock == nil || !filepath.IsAbs(o.Dir) {
				t.Fatalf("defaults not filled: %+v", o)
			}
		})
	}
}

func TestSCPFormEndpoint(t *testing.T) {
	ep, err := transport.NewEndpoint("git@example.com:org/repo.git")
	if err != nil {
		t.Fatal(err)
	}
	if ep.Protocol != "ssh" || ep.User != "git" || hostPort(ep) != "example.com:22" || ep.Path != "org/repo.git" {
		t.Fatalf("%+v", ep)
	}
}

func TestParseRef(t *testing.T) {
	sha := strings.Repeat("0123456789", 4)
	tests := []struct {
		in       string
		wantKind refKind
		wantName string
		wantErr  bool
	}{
		{in: "", wantKind: refDefault},
		{in: "HEAD", wantKind: refDefault},
		{in: "main", wantKind: refShort, wantName: "main"},
		{in: "release/1.x", wantKind: refShort, wantName: "release/1.x"},
		{in: "refs/heads/main", wantKind: refBranch, wantName: "main"},
		{in: "refs/tags/v1.2.3", wantKind: refTag, wantName: "v1.2.3"},
		{in: sha, wantKind: refCommit, wantName: sha},
		{in: strings.ToUpper("abcdef" + sha[6:]), wantKind: refCommit, wantName: "abcdef" + sha[6:]},
		{in: strings.Repeat("a", 64), wantKind: refCommit, wantName: strings.Repeat("a", 64)},
		{in: sha[:12], wantKind: refShort, wantName: sha[:12]}, // a short SHA is only a name
		{in: "refs/remotes/origin/main", wantErr: true},
		{in: "refs/heads/", wantErr: true},
		{in: "a..b", wantErr: true},
		{in: "a b", wantErr: true},
		{in: "a~1", wantErr: true},
		{in: "a^", wantErr: true},
		{in: "a:b", wantErr: true},
		{in: "a@{1}", wantErr: true},
		{in: "@", wantErr: true},
		{in: ".hidden", wantErr: true},
		{in: "x/.y", wantErr: true},
		{in: "main.lock", wantErr: true},
		{in: "main.", wantErr: true},
		{in: "/main", wantErr: true},
		{in: "a//b", wantErr: true},
		{in: "a\\b", wantErr: true},
		{in: "a*", wantErr: true},
		{in: "tab\there", wantErr: true},
		{in: strings.Repeat("x", maxRefLen+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRef(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseRef(%q) = %+v, want an error", tt.in, r)
				}
				return
			}
			if err != nil || r.kind != tt.wantKind || r.name != tt.wantName {
				t.Fatalf("parseRef(%q) = %+v, %v", tt.in, r, err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{name: "URL password", in: `get "https://bob:pa55@example.com/r.git": 500`, want: `get "https://bob:xxxxx@example.com/r.git": 500`},
		{name: "URL user only kept", in: "https://bob@example.com/r.git", want: "https://bob@example.com/r.git"},
		{name: "secret value", in: "server said: token abcd1234 refused", secrets: []string{"abcd1234"}, want: "server said: token xxxxx refused"},
		{name: "very short secret left alone", in: "a b c", secrets: []string{"a"}, want: "a b c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sec [][]byte
			for _, s := range tt.secrets {
				sec = append(sec, []byte(s))
			}
			if got := redact(tt.in, sec); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := RedactURL("https://u:p@h/x"); got != "https://u:xxxxx@h/x" {
		t.Fatalf("RedactURL: %s", got)
	}
	if got := RedactURL("git@host:org/r.git"); got != "git@host:org/r.git" {
		t.Fatalf("RedactURL scp form: %s", got)
	}
}

func TestSecretRead(t *testing.T) {
	t.Setenv("GITSOURCE_TEST_SECRET_ENV", "from-env\n")
	empty := writeFile(t, "empty", "\n")
	tests := []struct {
		name    string
		s       Secret
		want    string
		wantErr string
	}{
		{name: "file, newline trimmed", s: Secret{File: writeFile(t, "f", "value\r\n")}, want: "value"},
		{name: "env", s: Secret{Env: "GITSOURCE_TEST_SECRET_ENV"}, want: "from-env"},
		{name: "both", s: Secret{File: empty, Env: "X"}, wantErr: "not both"},
		{name: "empty", s: Secret{File: empty}, wantErr: "is empty"},
		{name: "none", s: Secret{}, wantErr: "no source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.read(true)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
	if s := (Secret{Env: "TOKEN"}).String(); s != "env $TOKEN" {
		t.Fatal(s)
	}
}
