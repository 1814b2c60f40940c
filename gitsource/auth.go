package gitsource

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// authFor reads the credentials (fresh on every call, so rotated files
// take effect) and returns the go-git auth method together with the secret
// values, which error texts are scrubbed of.
func authFor(o *Options, ep *transport.Endpoint) (transport.AuthMethod, [][]byte, error) {
	switch ep.Protocol {
	case "http", "https":
		switch {
		case o.Password.IsSet():
			pw, err := o.Password.read(true)
			if err != nil {
				return nil, nil, fmt.Errorf("password: %w", err)
			}
			return &githttp.BasicAuth{Username: o.Username, Password: string(pw)}, [][]byte{pw}, nil
		case o.BearerToken.IsSet():
			tok, err := o.BearerToken.read(true)
			if err != nil {
				return nil, nil, fmt.Errorf("bearer token: %w", err)
			}
			return &githttp.TokenAuth{Token: string(tok)}, [][]byte{tok}, nil
		}
		return nil, nil, nil
	case "ssh":
		a, err := sshAuthFor(o, ep)
		if err != nil {
			return nil, nil, err
		}
		return a, nil, nil
	}
	return nil, nil, nil
}

// sshAuth is go-git's public-key auth with a dial timeout: go-git's own
// leaves ssh.ClientConfig.Timeout unset, so a host that drops SYNs would
// hang the TCP connect for minutes.
type sshAuth struct {
	*gitssh.PublicKeys
	timeout time.Duration
}

func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	c, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	c.Timeout = a.timeout
	return c, nil
}

// sshAuthFor builds the key auth and pins host keys to KnownHosts: the
// host key algorithms offered are the ones known_hosts holds for this host,
// so a server with several host keys is not refused for showing one we do
// not list. ep is the endpoint Validate returned, its user defaulted.
func sshAuthFor(o *Options, ep *transport.Endpoint) (*sshAuth, error) {
	key, err := o.SSHKey.read(false)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	var pass []byte
	if o.SSHKeyPassphrase.IsSet() {
		if pass, err = o.SSHKeyPassphrase.read(true); err != nil {
			return nil, fmt.Errorf("ssh key passphrase: %w", err)
		}
	}
	signer, err := parseSSHKey(key, pass)
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", o.SSHKey, err)
	}
	pk := &gitssh.PublicKeys{User: ep.User, Signer: signer}
	if o.KnownHosts != "" {
		db, err := gitssh.NewKnownHostsDb(o.KnownHosts)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", o.KnownHosts, err)
		}
		pk.HostKeyCallback = db.HostKeyCallback()
		pk.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort(ep))
	}
	return &sshAuth{PublicKeys: pk, timeout: o.Timeout}, nil
}

// parseSSHKey parses a private key; its errors never quote key material.
func parseSSHKey(key, pass []byte) (ssh.Signer, error) {
	if len(pass) > 0 {
		s, err := ssh.ParsePrivateKeyWithPassphrase(key, pass)
		if err != nil {
			return nil, errors.New("cannot decrypt or parse the private key")
		}
		return s, nil
	}
	s, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("the private key is encrypted: set SSHKeyPassphrase")
	}
	if err != nil {
		return nil, errors.New("cannot parse the private key")
	}
	return s, nil
}
