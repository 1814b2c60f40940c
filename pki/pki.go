// Package pki is berth's cluster certificate authority: the CA the server
// creates in its data dir on first start (ECDSA P-256, files 0600 in a
// 0700 dir), the certificates it issues (the API's serving certificate,
// the server's client certificate for calls to agents, node certificates
// signed from a CSR with the node's name in them), and the pin agents use
// to trust the CA before they send anything: "sha256:" and the hex SHA-256
// of the CA's public key (SubjectPublicKeyInfo), as kubeadm's
// --discovery-token-ca-cert-hash.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names in the server's data dir.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Names in the certificates berth issues.
const (
	// ServerClientName is the common name of the server's client
	// certificate: the only one an agent's log server accepts.
	ServerClientName = "berth:server"
	// NodePrefix starts the common name of a node's certificate; the node
	// name follows (as the kubelet's system:node:NAME).
	NodePrefix = "system:node:"
	// NodesGroup is the organization of node certificates.
	NodesGroup = "system:nodes"
)

// Validities.
const (
	caValidity = 10 * 365 * 24 * time.Hour
	// NodeValidity is how long a node certificate lasts; agents renew at
	// two thirds of it.
	NodeValidity = 30 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
)

// ErrLooseMode is returned when the data dir or a key file is readable by
// others than its owner.
var ErrLooseMode = errors.New("mode too open")

// CA is the cluster's certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// EnsureCA returns the CA kept in dir, creating it on first start. dir
// must be mode 0700 and the files 0600 (or stricter): a looser existing
// mode is refused, since the key signs every identity in the cluster.
func EnsureCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	if err := checkMode(dir, 0o700); err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		if err := createCA(certPath, keyPath); err != nil {
			return nil, err
		}
		certPEM, err = os.ReadFile(certPath)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	for _, p := range []string{certPath, keyPath} {
		if err := checkMode(p, 0o600); err != nil {
			return nil, err
		}
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: %w", certPath, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: %w", keyPath, err)
	}
	if !cert.IsCA || !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("cluster CA in %s: %s is not a CA certificate for %s", dir, CACertFile, CAKeyFile)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// checkMode refuses a path whose permission bits allow more than max.
func checkMode(path string, max os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&^max != 0 {
		return fmt.Errorf("cluster CA: %s has mode %#o, want %#o or stricter (chmod %o %s): %w", path, perm, max, max, path, ErrLooseMode)
	}
	return nil
}

func createCA(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "berth-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	// The key first, O_EXCL: two servers starting on one dir cannot mix
	// keys and certificates.
	if err := writeExcl(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return err
	}
	return writeExcl(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func writeExcl(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("cluster CA: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic("crypto/rand: " + err.Error()) // rand.Reader does not fail on Linux
	}
	return n
}

// Hash is the CA's pin: "sha256:" and the hex SHA-256 of its public key.
func (ca *CA) Hash() string { return Hash(ca.Cert) }

// Hash is a certificate's pin: "sha256:" and the hex SHA-256 of its
// SubjectPublicKeyInfo.
func Hash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Pool is a pool holding the CA only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServingCert issues the API's serving certificate for hosts (IP
// addresses or DNS names), with a fresh key kept in memory only.
func (ca *CA) ServingCert(hosts []string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "berth-server"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	addHosts(tmpl, hosts)
	return ca.issueKeyPair(tmpl)
}

// ServerClientCert issues the server's client certificate for its calls
// to agents (common name ServerClientName).
func (ca *CA) ServerClientCert() (tls.Certificate, error) {
	return ca.issueKeyPair(&x509.Certificate{Subject: pkix.Name{CommonName: ServerClientName}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

func (ca *CA) issueKeyPair(tmpl *x509.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue %s: %w", tmpl.Subject.CommonName, err)
	}
	der, err := ca.sign(tmpl, &key.PublicKey, leafValidity)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// sign issues tmpl for pub. The certificate is valid from the CA's own
// NotBefore, as kubeadm's NewSignedCert does, not from now: a certificate
// issued while this machine's clock ran ahead (a wall clock jumped forward,
// then set right) stays valid, as does one checked on a peer whose clock is
// behind. Trust is unchanged: the CA could have signed it at any time since
// it exists.
func (ca *CA) sign(tmpl *x509.Certificate, pub any, validity time.Duration) ([]byte, error) {
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = ca.Cert.NotBefore, now.Add(validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}

func addHosts(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
}

// SignNodeCSR signs a node's CSR (PEM): the certificate names the node
// (common name NodePrefix+node, organization NodesGroup), whatever the
// CSR asked, and is valid for serving at host only (the host of the
// address the node registered) and as a client. It returns the
// certificate as PEM.
func (ca *CA) SignNodeCSR(csrPEM []byte, node, host string) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("csr: want a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("csr: want an ECDSA P-256 key")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: NodePrefix + node, Organization: []string{NodesGroup}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	addHosts(tmpl, []string{host})
	der, err := ca.sign(tmpl, csr.PublicKey, NodeValidity)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NodeCSR makes a node's key and a CSR (PEM) for it.
func NodeCSR(node string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("node key: %w", err)
	}
	csr, err := NodeCSRForKey(node, key)
	return key, csr, err
}

// NodeCSRForKey makes a CSR (PEM) for a node's existing key.
func NodeCSRForKey(node string, key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: NodePrefix + node}}, key)
	if err != nil {
		return nil, fmt.Errorf("node CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCertPEM parses the first certificate in b.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("want a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return nil, errors.New("want a PEM private key")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	return s, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// VerifyNodePeer checks a verified TLS peer chain names node: the leaf's
// common name is NodePrefix+node. Use it in tls.Config.VerifyConnection
// after the chain was verified against the CA.
func VerifyNodePeer(cs tls.ConnectionState, node string) error {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return errors.New("the peer's certificate is not verified by the cluster CA")
	}
	if cn := cs.PeerCertificates[0].Subject.CommonName; cn != NodePrefix+node {
		return fmt.Errorf("the peer's certificate is for %q, not node %s", cn, node)
	}
	return nil
}

// VerifyServerClient checks a verified TLS client chain is the server's
// client certificate (common name ServerClientName).
func VerifyServerClient(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return errors.New("a client certificate of the cluster CA is required")
	}
	if cn := cs.PeerCertificates[0].Subject.CommonName; cn != ServerClientName {
		return fmt.Errorf("client certificate %q is not the server's", cn)
	}
	return nil
}

// PinnedRoots returns a tls.Config verifier that trusts the CA the server
// presents in its chain only if that CA's public key hashes to pin, and
// then verifies the leaf against it for serverName. It runs inside the
// handshake, so nothing is sent to a server that fails it.
func PinnedRoots(pin, serverName string) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		certs := make([]*x509.Certificate, 0, len(rawCerts))
		for _, raw := range rawCerts {
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			certs = append(certs, c)
		}
		for _, c := range certs[min(1, len(certs)):] {
			if !c.IsCA || Hash(c) != pin {
				continue
			}
			roots := x509.NewCertPool()
			roots.AddCert(c)
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: serverName})
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			return nil
		}
		return fmt.Errorf("the server's CA does not match %s: refusing to send anything to it", pin)
	}
}

// NodeServing is the TLS of a node's server side (its log server): its
// certificate, and only the server's client certificate of ca accepted.
func NodeServing(cert tls.Certificate, ca *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        ca,
		VerifyConnection: VerifyServerClient,
	}
}

// NodeKeyPair joins a node's key and the certificate (PEM) the CA signed
// for it, after checking the certificate chains to ca and is for the key.
func NodeKeyPair(key *ecdsa.PrivateKey, certPEM []byte, ca *x509.CertPool) (tls.Certificate, error) {
	leaf, err := ParseCertPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		return tls.Certificate{}, errors.New("node certificate: not for this node's key")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// PoolFromPEM is a pool of the CA certificate in caPEM.
func PoolFromPEM(caPEM []byte) (*x509.CertPool, error) {
	c, err := ParseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	p := x509.NewCertPool()
	p.AddCert(c)
	return p, nil
}

// NodeFromPeer returns the node a verified client certificate names and
// the pin (Hash) of its key: the leaf chains to the CA the TLS config
// trusts for clients, its common name is NodePrefix+node and its
// organization NodesGroup. Any other peer (none, the server's own client
// certificate, a certificate of another CA) is not a node.
func NodeFromPeer(cs *tls.ConnectionState) (node, keyHash string, ok bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return "", "", false
	}
	leaf := cs.PeerCertificates[0]
	node, ok = strings.CutPrefix(leaf.Subject.CommonName, NodePrefix)
	if !ok || node == "" || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != NodesGroup {
		return "", "", false
	}
	return node, Hash(leaf), true
}

// ClientAuthTLS makes a serving config ask for client certificates of
// ca: a client that presents one must present a valid one; one that
// presents none goes on to bearer-token authentication.
func ClientAuthTLS(cfg *tls.Config, ca *x509.CertPool) *tls.Config {
	cfg = cfg.Clone()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = ca
	return cfg
}
