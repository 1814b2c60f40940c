package gitsource

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestWebhookReplayAndPace: issue 17 replayed one signed GitHub payload
// 500 times and got 391 fetches. A delivery ID is acted on once within
// the replay window, and distinct deliveries trigger at most one fetch
// per WebhookMinInterval, the later ones at its end.
func TestWebhookReplayAndPace(t *testing.T) {
	const secret = "s3cret-hook-key"
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, _ := newTestSource(t, "/nonexistent/repo.git", func(o *Options) { o.Ref = "main"; o.Clock = fc })
	h, err := s.Webhook(WebhookOptions{Provider: GitHub, Secret: secretFile(t, secret)})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"ref":"refs/heads/main"}`
	post := func(delivery string) int {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post("d-1"); code != http.StatusAccepted || !triggered(s) {
		t.Fatalf("first delivery: code %d", code)
	}
	fc.Step(WebhookMinInterval)
	for range 500 {
		if code := post("d-1"); code != http.StatusOK {
			t.Fatalf("replay: code %d", code)
		}
	}
	if triggered(s) {
		t.Fatal("a replayed delivery triggered a fetch")
	}
	// Two new deliveries at once: the first fetches now, the second at
	// the end of the interval.
	if post("d-2") != http.StatusAccepted || post("d-3") != http.StatusAccepted {
		t.Fatal("new deliveries refused")
	}
	if !triggered(s) || triggered(s) {
		t.Fatal("want exactly one fetch now")
	}
	waitFor(t, "the paced fetch's timer", fc.HasWaiters)
	fc.Step(WebhookMinInterval)
	waitFor(t, "the paced fetch", func() bool { return triggered(s) })
	// Past the window, the same ID is a new delivery.
	fc.Step(WebhookReplayWindow + time.Second)
	if code := post("d-1"); code != http.StatusAccepted {
		t.Fatalf("after the window: code %d", code)
	}
}

// TestWebhookSlowBody: a body trickled in (issue 17: 0.5 byte/s kept a
// connection 30 s+) is cut off at ReadTimeout, before any signature check.
func TestWebhookSlowBody(t *testing.T) {
	s := hookSource(t, "main")
	h, err := s.Webhook(WebhookOptions{Provider: GitHub, Secret: secretFile(t, "k"), ReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: 1000\r\n\r\n{")
	// The server answers (or closes) on its own; the guard only keeps a
	// broken build from hanging the test.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("code %d", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the slow body was never cut off")
	}
	if triggered(s) {
		t.Fatal("a cut-off body triggered a fetch")
	}
}
