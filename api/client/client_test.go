package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
)

// The client against the real server is tested in package apiserver
// (apiserver_test.go); these tests pin what the client itself decides.

func TestNew(t *testing.T) {
	tests := []struct {
		name, server, want string
		wantErr            bool
	}{
		{name: "host:port", server: "127.0.0.1:7443", want: "http://127.0.0.1:7443"},
		{name: "url", server: "https://berth.example:7443/", want: "https://berth.example:7443"},
		{name: "other scheme", server: "ftp://x", wantErr: true},
		{name: "no host", server: "http://", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.server, "t")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && c.Server() != tc.want {
				t.Fatalf("server %s, want %s", c.Server(), tc.want)
			}
		})
	}
}

func TestRequestsAndErrors(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		switch r.URL.Path {
		case "/api/v1/namespaces/ops/pods/p1":
			w.Write([]byte(`{"metadata":{"name":"p1"}}`))
		case "/api/v1/namespaces/ops/pods/p1/log":
			w.Write([]byte("line\n"))
		case api.PathStatus:
			http.Error(w, "proxy says no", http.StatusBadGateway)
		case api.PathAgentPods:
			w.Write([]byte(`{"resourceVersion":7,"items":[]}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":403,"reason":"Forbidden","message":"use the admin token"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL, "tok", WithNode("n1"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("headers and path", func(t *testing.T) {
		p, err := c.Pod(ctx, "ops", "p1")
		if err != nil || p.Name != "p1" {
			t.Fatalf("pod %v, %v", p, err)
		}
		if got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get(api.HeaderNodeName) != "n1" {
			t.Fatalf("headers %v", got.Header)
		}
	})
	t.Run("watch query", func(t *testing.T) {
		l, err := c.WatchPods(ctx, 5, 2*time.Second)
		if err != nil || l.ResourceVersion != 7 {
			t.Fatalf("list %v, %v", l, err)
		}
		if q := got.URL.Query(); q.Get(api.ParamResourceVersion) != "5" || q.Get(api.ParamTimeoutSeconds) != "2" {
			t.Fatalf("query %v", q)
		}
	})
	t.Run("log options", func(t *testing.T) {
		rc, err := c.Logs(ctx, "ops", "p1", api.LogOptions{Container: "c", Previous: true, TailLines: 3})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "line\n" || got.URL.RawQuery != "container=c&previous=true&tailLines=3" {
			t.Fatalf("log %q query %q", b, got.URL.RawQuery)
		}
	})
	t.Run("api error", func(t *testing.T) {
		_, err := c.Nodes(ctx)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != 403 || ae.Reason != "Forbidden" || !IsUnauthorized(err) {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("plain error body", func(t *testing.T) {
		_, err := c.Status(ctx)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != 502 || ae.Reason != "BadGateway" || !strings.Contains(ae.Message, "proxy says no") {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(srv.URL, "t", WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}
