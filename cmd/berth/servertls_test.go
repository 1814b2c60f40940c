//go:build !berth_agent

package main

import (
	"strings"
	"testing"
)

func TestInsecureHTTPOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{listen: "127.0.0.1:7070", ok: true},
		{listen: "[::1]:7070", ok: true},
		{listen: "localhost:7070", ok: true},
		{listen: "0.0.0.0:7070"},
		{listen: ":7070"},
		{listen: "198.18.0.1:7070"},
	} {
		if err := checkInsecureHTTP(tc.listen); (err == nil) != tc.ok {
			t.Errorf("--insecure-http --listen %s: %v, want ok=%v", tc.listen, err, tc.ok)
		}
	}
}

func TestAgentHTTPClientNeedsTrust(t *testing.T) {
	for _, tc := range []struct {
		name, server, caFile, pin, wantErr string
	}{
		{name: "https without a CA", server: "https://10.0.0.1:7070", wantErr: "needs --ca-cert-hash"},
		{name: "malformed pin", server: "https://10.0.0.1:7070", pin: "md5:abc", wantErr: "want sha256:"},
		{name: "pin over http", server: "http://127.0.0.1:7070", pin: "sha256:" + strings.Repeat("0", 64), wantErr: "need an https://"},
		{name: "pin", server: "https://10.0.0.1:7070", pin: "sha256:" + strings.Repeat("0", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := agentHTTPClient(tc.server, tc.caFile, tc.pin)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
