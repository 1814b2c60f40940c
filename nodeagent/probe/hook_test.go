package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

const hookPod = "web-0_default(0b1c)"

func TestExecHook(t *testing.T) {
	testenv.RequireBinary(t, "sh")
	tests := []struct {
		name    string
		cmd     []string
		wantErr string // "" for success; else the whole message's prefix
		maxLen  int    // when > 0, the message is at most this long
	}{
		{name: "exit 0 is done", cmd: []string{"sh", "-c", "exit 0"}},
		{name: "a non-zero exit fails with the kubelet's message and the output",
			cmd:     []string{"sh", "-c", "echo draining; echo broken >&2; exit 3"},
			wantErr: `Exec lifecycle hook ([sh -c echo draining; echo broken >&2; exit 3]) for Container "app" in Pod "web-0_default(0b1c)" failed - error: command 'sh -c echo draining; echo broken >&2; exit 3' exited with 3, message: "draining\nbroken\n"`},
		{name: "a command that cannot run fails",
			cmd:     []string{"/nonexistent/drain"},
			wantErr: `Exec lifecycle hook ([/nonexistent/drain]) for Container "app" in Pod "web-0_default(0b1c)" failed - error: `},
		{name: "output past the bound is dropped, the command still finishes",
			cmd:     []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; exit 1"},
			wantErr: `Exec lifecycle hook (`,
			maxLen:  MaxExecOutput + 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &corev1.Container{Name: "app"}
			h := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: tt.cmd}}
			err := Hook{Container: c, Pod: hookPod, Exec: hostExec{}}.Run(context.Background(), h)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run = %v, want success", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrHook) || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v\nwant an ErrHook starting %s", err, tt.wantErr)
			}
			if strings.Contains(BriefError(err), "message:") {
				t.Fatalf("the brief text, for logs, holds the command's output: %s", BriefError(err))
			}
			if tt.maxLen > 0 && len(err.Error()) > tt.maxLen {
				t.Fatalf("message of %d bytes, want at most %d", len(err.Error()), tt.maxLen)
			}
		})
	}
}

// hookServer records the requests a hook makes.
type hookServer struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(strings.Repeat("z", 64<<10))) // more than is read
}

func (s *hookServer) last(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the hook sent no request")
	}
	return s.reqs[len(s.reqs)-1]
}

func TestHTTPGetHook(t *testing.T) {
	srv := &hookServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	// A port nothing listens on, for the failure.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()

	tests := []struct {
		name       string
		action     corev1.HTTPGetAction
		wantErr    string
		wantPath   string
		wantHeader map[string]string
	}{
		{name: "named port, pod IP, the kubelet's lifecycle user agent",
			action:     corev1.HTTPGetAction{Path: "/drain", Port: namedPort("web")},
			wantPath:   "/drain",
			wantHeader: map[string]string{"User-Agent": "kube-lifecycle/1.31", "Accept": "*/*"}},
		{name: "headers of the hook's own, path without a slash",
			action:     corev1.HTTPGetAction{Path: "warm?x=1", Port: intPort(port), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Hook", Value: "start"}, {Name: "User-Agent", Value: "mine"}}},
			wantPath:   "/warm",
			wantHeader: map[string]string{"X-Hook": "start", "User-Agent": "mine"}},
		{name: "a 500 answer counts as done, as the kubelet counts it",
			action:   corev1.HTTPGetAction{Path: "/x?code=500", Port: intPort(port)},
			wantPath: "/x"},
		{name: "no answer fails with the kubelet's message",
			action:  corev1.HTTPGetAction{Path: "/drain", Port: intPort(closed)},
			wantErr: `HTTP lifecycle hook (/drain) for Container "app" in Pod "web-0_default(0b1c)" failed - error: Get "http://127.0.0.1:`},
		{name: "a port name the container does not declare fails",
			action:  corev1.HTTPGetAction{Path: "/", Port: namedPort("admin")},
			wantErr: `HTTP lifecycle hook (/) for Container "app" in Pod "web-0_default(0b1c)" failed - error: port "admin" is not a port the container names`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.action
			err := Hook{Container: c, Pod: hookPod, PodIP: "127.0.0.1"}.Run(context.Background(), &corev1.LifecycleHandler{HTTPGet: &a})
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrHook) || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Run = %v\nwant an ErrHook starting %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			r := srv.last(t)
			if r.URL.Path != tt.wantPath {
				t.Errorf("path %q, want %q", r.URL.Path, tt.wantPath)
			}
			for k, v := range tt.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestHTTPSHookFallsBackToHTTP(t *testing.T) {
	srv := &hookServer{}
	ts := httptest.NewServer(srv) // plain HTTP
	defer ts.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	a := &corev1.HTTPGetAction{Path: "/hook", Port: intPort(port), Scheme: corev1.URISchemeHTTPS,
		HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: "Bearer s3cret"}, {Name: "X-Keep", Value: "1"}}}
	err := Hook{Container: &corev1.Container{Name: "app"}, Pod: hookPod, PodIP: "127.0.0.1"}.Run(context.Background(), &corev1.LifecycleHandler{HTTPGet: a})
	if err != nil {
		t.Fatalf("Run = %v; want the HTTP retry to succeed", err)
	}
	r := srv.last(t)
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Keep") != "1" {
		t.Fatalf("the plain-HTTP retry carried Authorization %q, X-Keep %q; want none and 1", r.Header.Get("Authorization"), r.Header.Get("X-Keep"))
	}
}

func TestSleepHook(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	h := &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}
	hook := Hook{Container: &corev1.Container{Name: "app"}, Pod: hookPod, Clock: clk}

	done := make(chan error, 1)
	go func() { done <- hook.Run(context.Background(), h) }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(4 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("sleep 5 returned after 4s on the clock: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Step(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("sleep 5 after 5s: %v", err)
	}

	// Cut short: the kubelet's "container terminated before sleep hook
	// finished".
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- hook.Run(ctx, h) }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	want := `Sleep lifecycle hook (5) for Container "app" in Pod "web-0_default(0b1c)" failed - error: container terminated before sleep hook finished`
	if err == nil || err.Error() != want {
		t.Fatalf("Run = %v\nwant %s", err, want)
	}
}

func TestHookWithoutARunnableHandler(t *testing.T) {
	for _, h := range []*corev1.LifecycleHandler{nil, {TCPSocket: &corev1.TCPSocketAction{Port: intPort(80)}}} {
		err := Hook{Container: &corev1.Container{Name: "app"}, Pod: hookPod}.Run(context.Background(), h)
		if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "Cannot run handler") {
			t.Errorf("Run(%v) = %v; want the kubelet's Cannot run handler", h, err)
		}
	}
}
