package apiserver

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/berth-dev/berth/pki"
)

// agentTransport is a one-call transport to node's agent: mTLS with the
// server's client certificate, the agent's certificate verified against
// the cluster CA for the dialled host (its SANs are the address the node
// registered) and required to name node. A node that registered another
// node's address cannot receive that node's calls, and nothing secret is
// sent either way.
func agentTransport(base *tls.Config, node string) *http.Transport {
	cfg := base.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return pki.VerifyNodePeer(cs, node) }
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableKeepAlives:     true,
	}
}

// AgentTLS is the client side of server → agent calls: the server's
// client certificate and the CA as the only root.
func AgentTLS(ca *pki.CA) (*tls.Config, error) {
	cert, err := ca.ServerClientCert()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}, nil
}
