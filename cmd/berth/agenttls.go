package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/berth-dev/berth/pki"
)

// caClient is an HTTP client that trusts the cluster CA only. It speaks
// HTTP/1.1: a call the agent abandons (a heartbeat stuck on a connection
// that lost packets) then closes its own connection, and the next call
// dials a new one; over HTTP/2 every call would wait on the one stuck
// connection.
func caClient(pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

// pinnedClient is an HTTP client for a server not yet trusted: the
// handshake succeeds only if the CA the server presents hashes to pin and
// signed its certificate for the host, so the join token is sent to no
// one else.
func pinnedClient(server, pin string) (*http.Client, error) {
	if !strings.HasPrefix(pin, "sha256:") || len(pin) != len("sha256:")+64 {
		return nil, fmt.Errorf("--ca-cert-hash %q: want sha256: and 64 hex digits, as `berth server` prints", pin)
	}
	host := server
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host = strings.TrimSuffix(host, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false // HTTP/1.1, as caClient says why
	tr.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified by VerifyPeerCertificate against the
		// pinned CA instead of the system's roots.
		InsecureSkipVerify:    true, //nolint:gosec // verified below
		VerifyPeerCertificate: pki.PinnedRoots(strings.ToLower(pin), strings.Trim(host, "[]")),
	}
	return &http.Client{Transport: tr}, nil
}

// agentHTTPClient is how `berth agent` reaches the server: plain HTTP
// (loopback only), a CA file, or a CA pin.
func agentHTTPClient(server, caFile, pin string) (*http.Client, error) {
	switch {
	case strings.HasPrefix(server, "http://"):
		if caFile != "" || pin != "" {
			return nil, errors.New("--ca-file and --ca-cert-hash need an https:// server")
		}
		return &http.Client{}, nil
	case caFile != "":
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := pki.PoolFromPEM(b)
		if err != nil {
			return nil, fmt.Errorf("--ca-file %s: %w", caFile, err)
		}
		return caClient(pool), nil
	case pin != "":
		return pinnedClient(server, pin)
	}
	return nil, errors.New("an https:// server needs --ca-cert-hash (printed by `berth server`) or --ca-file")
}
