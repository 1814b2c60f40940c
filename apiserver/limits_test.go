package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

// TestHTTPLimits: issue 17 found only ReadHeaderTimeout set: a trickled
// body and idle keep-alive connections (even after a 401) were never cut
// off. With short limits: both are cut, a header over MaxHeaderBytes is
// refused, and a pod watch outlives the write timeout by design.
func TestHTTPLimits(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.register("n1")
	limits := Limits{ReadHeader: 300 * time.Millisecond, Read: 300 * time.Millisecond, Write: 300 * time.Millisecond,
		Idle: 300 * time.Millisecond, MaxHeaderBytes: 64 << 10}
	srv := httptest.NewUnstartedServer(h.srv)
	srv.Config = limits.Server(h.srv)
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	// ended reports whether the server closed c (or answered an error)
	// on its own; the 30s guard only keeps a broken build from hanging.
	ended := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the connection was never cut off")
				}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusBadRequest {
				return
			}
		}
	}
	t.Run("idle after a 401", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n", api.PathPods)
		ended(t, c, bufio.NewReader(c))
	})
	t.Run("trickled body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s: n2\r\nContent-Length: 1000\r\n\r\n{", api.PathRegister, testTokens.Agent, api.HeaderNodeName)
		ended(t, c, bufio.NewReader(c))
		if _, err := h.nodes.Node("n2"); err == nil {
			t.Fatal("a cut-off body registered a node")
		}
	})
	t.Run("header over 64 KiB", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+api.PathPods, nil)
		req.Header.Set("X-Big", strings.Repeat("x", 80<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("code %d, want 431", resp.StatusCode)
		}
	})
	t.Run("a watch outlives the write timeout", func(t *testing.T) {
		// A fresh connection per call: a reused one would hide a cut
		// answer behind the transport's retry.
		c, err := client.New(srv.URL, h.nodeTokens["n1"], client.WithNode("n1"),
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
		if err != nil {
			t.Fatal(err)
		}
		first, err := c.WatchPods(context.Background(), 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			_, err := c.WatchPods(context.Background(), first.ResourceVersion, time.Minute)
			got <- err
		}()
		waitForWaiter(t, h.clock)
		// Real time past Write and Read, then the change the watch waits
		// for.
		time.Sleep(3 * limits.Write)
		h.putPod("default", "late", "n1", nil)
		if err := <-got; err != nil {
			t.Fatalf("watch answered after the write timeout: %v", err)
		}
	})
}
