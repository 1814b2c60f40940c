//go:build !berth_agent

package main

import (
	"fmt"
	"net"
	"os"
)

// servingHosts are the names the API's certificate is valid for: the
// listen host (every address of this machine when it listens on all),
// the advertised address, and loopback.
func servingHosts(listen, advertise string) ([]string, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", listen, err)
	}
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("interface addresses: %w", err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				hosts = append(hosts, ipn.IP.String())
			}
		}
		if hn, err := os.Hostname(); err == nil {
			hosts = append(hosts, hn)
		}
	} else {
		hosts = append(hosts, host)
	}
	if advertise != "" {
		if h, _, err := net.SplitHostPort(advertise); err == nil {
			advertise = h
		}
		hosts = append(hosts, advertise)
	}
	return hosts, nil
}

// checkInsecureHTTP allows plain HTTP only on a loopback listen address.
func checkInsecureHTTP(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--insecure-http: the server listens on %s; plain HTTP is allowed on loopback only, since tokens and logs would cross the network in clear text", listen)
	}
	return nil
}

// joinURL is the server's address as other machines reach it.
func joinURL(scheme, listenAddr, advertise string) string {
	if advertise == "" {
		return scheme + "://" + listenAddr
	}
	if _, _, err := net.SplitHostPort(advertise); err != nil {
		_, port, _ := net.SplitHostPort(listenAddr)
		advertise = net.JoinHostPort(advertise, port)
	}
	return scheme + "://" + advertise
}
