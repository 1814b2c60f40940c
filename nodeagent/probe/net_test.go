package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

func intPort(n int) intstr.IntOrString      { return intstr.FromInt32(int32(n)) }
func namedPort(s string) intstr.IntOrString { return intstr.FromString(s) }

func tcpSpec(port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
}

func httpSpec(a corev1.HTTPGetAction) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &a}}
}

func serverPort(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// probeOnce runs container c's readiness probe once against the real
// network and returns the result and its output.
func probeOnce(t *testing.T, c corev1.Container, podIP string) (Result, string) {
	t.Helper()
	p, err := New(&c, podIP, nil, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	p.ContainerStarted(time.Now())
	p.Step(context.Background())
	return p.Last(Readiness)
}

func TestHTTPProbe(t *testing.T) {
	var seen http.Header
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		seen.Set("Host", r.Host)
		fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/hop-bad", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fail", http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		// localhost is another host name than 127.0.0.1: not followed.
		http.Redirect(w, r, "http://localhost:1/never", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port := serverPort(t, srv.URL)
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()

	tests := []struct {
		name       string
		action     corev1.HTTPGetAction
		ports      []corev1.ContainerPort
		want       Result
		wantOutput string
	}{
		{name: "200 is success", action: corev1.HTTPGetAction{Path: "/ok", Port: intPort(port)}, want: Success},
		{name: "path without a slash", action: corev1.HTTPGetAction{Path: "ok", Port: intPort(port)}, want: Success},
		{name: "500 is failure", action: corev1.HTTPGetAction{Path: "/fail", Port: intPort(port)}, want: Failure, wantOutput: "HTTP probe failed with statuscode: 500: database down"},
		{name: "404 is failure", action: corev1.HTTPGetAction{Path: "/missing", Port: intPort(port)}, want: Failure, wantOutput: "statuscode: 404"},
		{name: "same-host redirect is followed", action: corev1.HTTPGetAction{Path: "/hop", Port: intPort(port)}, want: Success},
		{name: "followed redirect to a failure fails", action: corev1.HTTPGetAction{Path: "/hop-bad", Port: intPort(port)}, want: Failure, wantOutput: "statuscode: 500"},
		{name: "redirect off the host counts as success", action: corev1.HTTPGetAction{Path: "/away", Port: intPort(port)}, want: Success},
		{
			name:   "named port",
			action: corev1.HTTPGetAction{Path: "/ok", Port: namedPort("http")},
			ports:  []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}},
			want:   Success,
		},
		{name: "https without verifying the certificate", action: corev1.HTTPGetAction{Path: "/ok", Port: intPort(serverPort(t, tlsSrv.URL)), Scheme: corev1.URISchemeHTTPS}, want: Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "web", Ports: tt.ports, ReadinessProbe: httpSpec(tt.action)}
			got, out := probeOnce(t, c, "127.0.0.1")
			if got != tt.want || !strings.Contains(out, tt.wantOutput) {
				t.Fatalf("result = %v %q, want %v containing %q", got, out, tt.want, tt.wantOutput)
			}
		})
	}

	t.Run("headers", func(t *testing.T) {
		c := corev1.Container{Name: "web", ReadinessProbe: httpSpec(corev1.HTTPGetAction{
			Path: "/ok", Port: intPort(port),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "web.example"}},
		})}
		if got, out := probeOnce(t, c, "127.0.0.1"); got != Success {
			t.Fatalf("result = %v %q", got, out)
		}
		tests := []struct{ header, want string }{
			{header: "User-Agent", want: userAgent},
			{header: "Accept", want: "*/*"},
			{header: "X-Probe", want: "yes"},
			{header: "Host", want: "web.example"},
		}
		for _, h := range tests {
			if got := seen.Get(h.header); got != h.want {
				t.Errorf("%s = %q, want %q", h.header, got, h.want)
			}
		}
	})
}

// closedPort returns a port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().(*net.TCPAddr).Port
	closed := closedPort(t)

	tests := []struct {
		name       string
		probe      *corev1.Probe
		want       Result
		wantOutput string
	}{
		{name: "listening port", probe: tcpSpec(intPort(open)), want: Success},
		{name: "closed port", probe: tcpSpec(intPort(closed)), want: Failure, wantOutput: "connection refused"},
		{name: "explicit host", probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "127.0.0.1", Port: intPort(open)}}}, want: Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "db", ReadinessProbe: tt.probe}
			got, out := probeOnce(t, c, "127.0.0.1")
			if got != tt.want || !strings.Contains(out, tt.wantOutput) {
				t.Fatalf("result = %v %q, want %v containing %q", got, out, tt.want, tt.wantOutput)
			}
		})
	}

	t.Run("closed port on the pod IP given", func(t *testing.T) {
		c := corev1.Container{Name: "db", ReadinessProbe: tcpSpec(intPort(closed))}
		if got, _ := probeOnce(t, c, "127.0.0.1"); got != Failure {
			t.Fatalf("result = %v", got)
		}
	})
}

// HTTP probe against a server that never answers: the fake clock decides
// the timeout.
func TestHTTPProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)

	clk := clocktesting.NewFakeClock(t0)
	c := corev1.Container{Name: "web", LivenessProbe: httpSpec(corev1.HTTPGetAction{Port: intPort(serverPort(t, srv.URL))})}
	c.LivenessProbe.FailureThreshold = 1
	c.LivenessProbe.TimeoutSeconds = 5
	p, err := New(&c, "127.0.0.1", nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	p.ContainerStarted(t0)
	done := make(chan struct{})
	go func() {
		p.Step(context.Background())
		close(done)
	}()
	waitForWaiters(t, clk, 1)
	clk.Step(5 * time.Second)
	<-done
	if healthy, msg := p.Healthy(); healthy || !strings.Contains(msg, "probe timed out") {
		t.Fatalf("Healthy = %v, %q", healthy, msg)
	}
}

// hostExec is a real Execer: it runs the command as a process on this
// machine. The runtime's Execer runs it in the container instead; the
// contract (exit code, stop when ctx ends) is the same.
type hostExec struct{}

func (hostExec) Exec(ctx context.Context, cmd []string) ([]byte, int, error) {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	var out, errOut BoundedBuffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	if ctx.Err() != nil {
		return nil, -1, context.Cause(ctx)
	}
	output := append(out.Bytes(), errOut.Bytes()...)
	if ee, ok := err.(*exec.ExitError); ok {
		return output, ee.ExitCode(), nil
	}
	if err != nil {
		return nil, -1, err
	}
	return output, 0, nil
}

func TestExecProbeWithRealProcesses(t *testing.T) {
	sh := testenv.RequireBinary(t, "sh")
	tests := []struct {
		name       string
		cmd        []string
		timeout    int32
		clockStep  time.Duration
		want       Result
		wantOutput string
	}{
		{name: "exit 0", cmd: []string{sh, "-c", "exit 0"}, want: Success},
		{name: "exit 3", cmd: []string{sh, "-c", "exit 3"}, want: Failure, wantOutput: "exited with 3"},
		{name: "outlives its timeout", cmd: []string{sh, "-c", "sleep 60"}, timeout: 2, clockStep: 2 * time.Second, want: Failure, wantOutput: "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			c := corev1.Container{Name: "c", ReadinessProbe: &corev1.Probe{
				ProbeHandler:   corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: tt.cmd}},
				TimeoutSeconds: tt.timeout,
			}}
			p, err := New(&c, "", hostExec{}, clk)
			if err != nil {
				t.Fatal(err)
			}
			p.ContainerStarted(t0)
			done := make(chan struct{})
			go func() {
				p.Step(context.Background())
				close(done)
			}()
			if tt.clockStep > 0 {
				waitForWaiters(t, clk, 1)
				clk.Step(tt.clockStep)
			}
			<-done
			if r, out := p.Last(Readiness); r != tt.want || !strings.Contains(out, tt.wantOutput) {
				t.Fatalf("result = %v %q, want %v containing %q", r, out, tt.want, tt.wantOutput)
			}
		})
	}
}
