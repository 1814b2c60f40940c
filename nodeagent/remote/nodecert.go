package remote

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/pki"
)

// nodeIdentity is the node's key, the CSR for it sent at every register,
// and the certificate and CA the server answered with.
type nodeIdentity struct {
	key  *ecdsa.PrivateKey
	csr  []byte
	cert *tls.Certificate
	ca   *x509.CertPool
}

func newNodeIdentity(node string) (*nodeIdentity, error) {
	key, csr, err := pki.NodeCSR(node)
	if err != nil {
		return nil, err
	}
	return &nodeIdentity{key: key, csr: csr}, nil
}

// accept takes the certificate and CA of a register answer.
func (id *nodeIdentity) accept(resp *api.RegisterResponse) error {
	if resp.Certificate == "" || resp.CA == "" {
		return errors.New("the server issued no node certificate: the log server refuses every call")
	}
	pool, err := pki.PoolFromPEM([]byte(resp.CA))
	if err != nil {
		return err
	}
	cert, err := pki.NodeKeyPair(id.key, []byte(resp.Certificate), pool)
	if err != nil {
		return err
	}
	id.cert, id.ca = &cert, pool
	return nil
}

// logTLS is the log server's TLS: the node's current certificate, and
// only the server's client certificate (of the cluster CA) is accepted.
// Before the first register answer every handshake fails.
func (l *Link) logTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			l.mu.Lock()
			cert, ca := l.id.cert, l.id.ca
			l.mu.Unlock()
			if cert == nil {
				return nil, errors.New("this node has no certificate yet")
			}
			return pki.NodeServing(*cert, ca), nil
		},
	}
}

// certDue reports whether the node's certificate is missing or in the
// last third of its validity: time to renew it (by registering again).
func (l *Link) certDue() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.id.cert == nil {
		return false // the server issues none; asking again will not help
	}
	leaf := l.id.cert.Leaf
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return l.cfg.Clock.Now().After(leaf.NotAfter.Add(-life / 3))
}
