//go:build !berth_agent

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
)

func TestLogs(t *testing.T) {
	s := newCLIServer(t)
	// The node's log server, as nodeagent/remote serves it.
	agent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		container := strings.TrimPrefix(r.URL.Path, api.AgentLogPath("uid-two", ""))
		if r.Header.Get("Authorization") != "" || container == r.URL.Path {
			http.Error(w, `{"code":404,"reason":"NotFound","message":"no logs"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%s: follow=%s previous=%s tail=%s\n", container, r.URL.Query().Get("follow"), r.URL.Query().Get("previous"), r.URL.Query().Get("tailLines"))
	}))
	defer agent.Close()
	c, err := client.New(s.url, s.tokens.Agent, client.WithNode("node-1"))
	if err != nil {
		t.Fatal(err)
	}
	key, csr, err := pki.NodeCSR("node-1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Register(context.Background(), api.RegisterRequest{Name: "node-1", Address: agent.Listener.Addr().String(), CSR: string(csr)})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pki.PoolFromPEM([]byte(resp.CA))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.NodeKeyPair(key, []byte(resp.Certificate), pool)
	if err != nil {
		t.Fatal(err)
	}
	agent.TLS = pki.NodeServing(cert, pool)
	agent.StartTLS()
	s.update(func(tx reconciler.Tx) error {
		return tx.PutPod(podRec("default", "two", "node-1", t0, corev1.PodStatus{}, func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side"})
		}))
	})
	tests := []struct {
		name          string
		args          []string
		want, wantErr string
		stderr        string
	}{
		{name: "named container", args: []string{"logs", "two", "-c", "side"}, want: "side: follow= previous= tail=\n"},
		{name: "all options", args: []string{"logs", "two", "-c", "side", "-f", "--previous", "--tail", "3"}, want: "side: follow=true previous=true tail=3\n"},
		{name: "first container by default", args: []string{"logs", "two"}, want: "main: follow= previous= tail=\n",
			stderr: "Defaulted container \"main\" out of: main, side\n"},
		{name: "no such container", args: []string{"logs", "two", "-c", "nope"}, wantErr: "Error from server (BadRequest): container nope is not valid for pod two"},
		{name: "missing pod", args: []string{"logs", "nope"}, wantErr: `pod "nope" not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := s.run(tc.args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out != tc.want || stderr != tc.stderr {
				t.Fatalf("out %q, stderr %q, %v; want %q, %q", out, stderr, err, tc.want, tc.stderr)
			}
		})
	}
}
