package remote

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

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
	// caPEM is the CA as the server sent it, kept with the certificate.
	caPEM []byte
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
	id.cert, id.ca, id.caPEM = &cert, pool, []byte(resp.CA)
	return nil
}

// PEM block types of the identity file.
const (
	pemKey  = "EC PRIVATE KEY"
	pemCert = "CERTIFICATE"
)

// marshal is the identity as the credential file keeps it: the key, the
// node's certificate, then the CA.
func (id *nodeIdentity) marshal() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(id.key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: pemKey, Bytes: der})
	_ = pem.Encode(&b, &pem.Block{Type: pemCert, Bytes: id.cert.Leaf.Raw})
	b.Write(id.caPEM)
	return b.Bytes(), nil
}

// loadNodeIdentity reads an identity marshal wrote: the key (for the
// CSRs that renew it) and the certificate, checked against the CA.
func loadNodeIdentity(node string, b []byte) (*nodeIdentity, error) {
	var blocks []*pem.Block
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		blocks = append(blocks, blk)
	}
	if len(blocks) != 3 || blocks[0].Type != pemKey || blocks[1].Type != pemCert || blocks[2].Type != pemCert {
		return nil, errors.New("node identity: want a key, the node's certificate and the CA")
	}
	key, err := x509.ParseECPrivateKey(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("node identity: %w", err)
	}
	csr, err := pki.NodeCSRForKey(node, key)
	if err != nil {
		return nil, err
	}
	id := &nodeIdentity{key: key, csr: csr}
	err = id.accept(&api.RegisterResponse{Certificate: string(pem.EncodeToMemory(blocks[1])), CA: string(pem.EncodeToMemory(blocks[2]))})
	if err != nil {
		return nil, fmt.Errorf("node identity: %w", err)
	}
	if cn := id.cert.Leaf.Subject.CommonName; cn != pki.NodePrefix+node {
		return nil, fmt.Errorf("node identity: the certificate is for %q, not node %s", cn, node)
	}
	return id, nil
}

// clientCert is what the node presents when the server asks for a client
// certificate: its own once it has one, else none (the join token
// speaks).
func (l *Link) clientCert(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.certAuth || l.id.cert == nil {
		return &tls.Certificate{}, nil
	}
	return l.id.cert, nil
}

// withClientCert is hc with a transport that presents the node's
// certificate over TLS (GetClientCertificate on a clone of hc's
// transport). A transport of another type is used as it is.
func (l *Link) withClientCert(hc *http.Client) *http.Client {
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return hc
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.GetClientCertificate = l.clientCert
	out := *hc
	out.Transport = tr
	return &out
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
