package gitsource

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer is an SSH server on loopback that runs the real
// `git upload-pack` for the repositories under root, as a Git host does,
// for clients holding the authorized key.
type sshServer struct {
	addr    string
	hostKey ssh.PublicKey
}

func serveSSH(t *testing.T, root string, authorized ssh.PublicKey) *sshServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	host, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	cfg.AddHostKey(host)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSHConn(c, cfg, root)
			}()
		}
	}()
	return &sshServer{addr: l.Addr().String(), hostKey: host.PublicKey()}
}

func serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, root string) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go serveSession(ch, chReqs, root)
	}
}

// serveSession runs one `git-upload-pack '<path>'` exec request.
func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, root string) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				return
			}
			prog, arg, _ := strings.Cut(p.Command, " ")
			if prog != "git-upload-pack" {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			repo := filepath.Join(root, path.Clean("/"+strings.Trim(arg, "'")))
			cmd := exec.Command("git", "upload-pack", repo)
			cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
			stdin, _ := cmd.StdinPipe()
			cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
			status := uint32(1)
			if err := cmd.Start(); err == nil {
				go func() { io.Copy(stdin, ch); stdin.Close() }()
				if cmd.Wait() == nil {
					status = 0
				}
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			return
		default:
			req.Reply(false, nil)
		}
	}
}

// TestSSH fetches over SSH from a server on loopback: host keys are checked
// against known_hosts, and the client key must be the authorized one.
func TestSSH(t *testing.T) {
	u := newUpstream(t)
	want := u.commitPush("one", map[string]string{"a.yaml": pod("a")})
	client := newSSHKey(t, "berth@example.com")
	stranger := newSSHKey(t, "stranger@example.com")
	encDir := t.TempDir()
	encrypted := filepath.Join(encDir, "id_enc")
	runCmd(t, encDir, os.Environ(), "ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", encrypted)
	t.Setenv("GITSOURCE_TEST_PASSPHRASE", "open sesame")

	authorized, _, _, _, err := ssh.ParseAuthorizedKey([]byte(client.line))
	if err != nil {
		t.Fatal(err)
	}
	srv := serveSSH(t, u.root, authorized)
	encSrv := serveSSH(t, u.root, mustPub(t, encrypted+".pub"))
	hostLine := func(s *sshServer, key ssh.PublicKey) string {
		return knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, key) + "\n"
	}
	otherHost, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewPublicKey(otherHost)
	known := writeFile(t, "known_hosts", hostLine(srv, srv.hostKey)+hostLine(encSrv, encSrv.hostKey))
	wrongKey := writeFile(t, "known_hosts_changed", hostLine(srv, otherKey))
	otherHostOnly := writeFile(t, "known_hosts_other", knownhosts.Line([]string{"[127.0.0.2]:22"}, otherKey)+"\n")

	tests := []struct {
		name    string
		srv     *sshServer
		key     string
		pass    Secret
		known   string
		wantErr error
	}{
		{name: "authorized key, known host", srv: srv, key: client.priv, known: known},
		{name: "encrypted key with passphrase", srv: encSrv, key: encrypted, pass: Secret{Env: "GITSOURCE_TEST_PASSPHRASE"}, known: known},
		{name: "host key changed", srv: srv, key: client.priv, known: wrongKey, wantErr: ErrHostKey},
		{name: "host unknown", srv: srv, key: client.priv, known: otherHostOnly, wantErr: ErrHostKey},
		{name: "client key not authorized", srv: srv, key: stranger.priv, known: known, wantErr: ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fmt.Sprintf("ssh://git@%s/repo.git", tt.srv.addr)
			s, _ := newTestSource(t, url, func(o *Options) {
				o.SSHKey = Secret{File: tt.key}
				o.SSHKeyPassphrase = tt.pass
				o.KnownHosts = tt.known
			})
			err := s.Sync(context.Background())
			if tt.wantErr != nil {
				wantKind(t, err, tt.wantErr)
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if got := s.Current().Revision; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}

	t.Run("encrypted key without passphrase is refused up front", func(t *testing.T) {
		_, err := New(Options{URL: "ssh://git@" + encSrv.addr + "/repo.git", Dir: t.TempDir(), SSHKey: Secret{File: encrypted}, KnownHosts: known})
		wantKind(t, err, ErrInvalidOptions)
		if !strings.Contains(err.Error(), "SSHKeyPassphrase") {
			t.Fatalf("error %v does not say what to set", err)
		}
	})
}

func mustPub(t *testing.T, p string) ssh.PublicKey {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(mustRead(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
