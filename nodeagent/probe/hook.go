package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Lifecycle hooks (postStart, preStop) run through the same code as
// probes, as the kubelet's handler runner (pkg/kubelet/lifecycle) builds
// its requests with the prober's NewRequestForHTTPGetAction: exec through
// the runtime's Execer, httpGet with the probes' request and client.

// hookUserAgent is what httpGet hooks announce unless they set their own,
// the kubelet's "kube-lifecycle/<version>".
const hookUserAgent = "kube-lifecycle/1.31"

// ErrHook marks a lifecycle hook that failed, timed out or could not run.
var ErrHook = errors.New("lifecycle hook failed")

// HookError is a hook that failed. Its Error is the kubelet's message,
// with what an exec handler printed; Brief is the same without that
// output, for logs (it may hold anything the command saw).
type HookError struct {
	Brief  string
	Output []byte
	exec   bool
}

func (e *HookError) Error() string {
	if e.exec {
		return fmt.Sprintf("%s, message: %q", e.Brief, e.Output)
	}
	return e.Brief
}

func (e *HookError) Unwrap() error { return ErrHook }

// BriefError is err without a hook's output: HookError's Brief, or err's
// own text.
func BriefError(err error) string {
	var he *HookError
	if errors.As(err, &he) {
		return he.Brief
	}
	return err.Error()
}

// Hook is what a container's lifecycle handlers run against.
type Hook struct {
	// Container owns the hook; its ports resolve a named httpGet port.
	Container *corev1.Container
	// Pod names the pod in messages as the kubelet's format.Pod does:
	// name_namespace(uid).
	Pod string
	// PodIP is the host of an httpGet handler that names none.
	PodIP string
	// Exec runs exec handlers in the container.
	Exec Execer
	// Clock times sleep handlers (nil: the real clock).
	Clock clock.Clock
	// Client sends httpGet requests (nil: the probes' client: no proxy, no
	// keep-alive, TLS unverified, redirects only to the same host).
	Client *http.Client
}

var (
	defaultClientOnce sync.Once
	defaultClient     *http.Client
)

// Run runs handler h and returns nil when it succeeded. Otherwise the
// error is a *HookError (errors.Is ErrHook) and reads as the kubelet's
// message ("Exec lifecycle
// hook ([cmd]) for Container "c" in Pod "p_ns(uid)" failed - error: …,
// message: "…""). As the kubelet: an exec handler fails when the command
// exits non-zero or cannot run; an httpGet handler only when no response
// comes back (any status code counts as done), an HTTPS request answered
// in plain HTTP being retried over HTTP without its Authorization header;
// a sleep handler when ctx ends first. A hook ends when ctx does.
func (k Hook) Run(ctx context.Context, h *corev1.LifecycleHandler) error {
	name := ""
	if k.Container != nil {
		name = k.Container.Name
	}
	switch {
	case h == nil:
		return &HookError{Brief: "Cannot run handler: invalid handler: none set"}
	case h.Exec != nil:
		return k.runExec(ctx, h.Exec.Command, name)
	case h.HTTPGet != nil:
		if err := k.runHTTP(ctx, h.HTTPGet); err != nil {
			return &HookError{Brief: fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v", h.HTTPGet.Path, name, k.Pod, err)}
		}
		return nil
	case h.Sleep != nil:
		if err := k.runSleep(ctx, h.Sleep.Seconds); err != nil {
			return &HookError{Brief: fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v", h.Sleep.Seconds, name, k.Pod, err)}
		}
		return nil
	}
	// tcpSocket: kept in the API for compatibility, and a run-time failure
	// in the kubelet; berth's validation refuses it before it gets here.
	return &HookError{Brief: "Cannot run handler: invalid handler: tcpSocket is not supported as a lifecycle handler"}
}

func (k Hook) runExec(ctx context.Context, cmd []string, name string) error {
	fail := func(inner string, output []byte) error {
		return &HookError{Brief: fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %s", cmd, name, k.Pod, inner), Output: output, exec: true}
	}
	if len(cmd) == 0 {
		return fail("no command", nil)
	}
	if k.Exec == nil {
		return fail("no Execer to run it", nil)
	}
	output, code, err := k.Exec.Exec(ctx, cmd)
	switch {
	case err != nil && ctx.Err() != nil:
		return fail(fmt.Sprintf("command '%s' did not finish in time: %v", strings.Join(cmd, " "), context.Cause(ctx)), output)
	case err != nil:
		return fail(err.Error(), output)
	case code != 0:
		return fail(fmt.Sprintf("command '%s' exited with %d", strings.Join(cmd, " "), code), output)
	}
	return nil
}

func (k Hook) runHTTP(ctx context.Context, a *corev1.HTTPGetAction) error {
	c := k.Container
	if c == nil {
		c = &corev1.Container{}
	}
	port, err := resolvePort(a.Port, c)
	if err != nil {
		return err
	}
	u, hdr, err := httpTarget(a, k.PodIP, port, hookUserAgent)
	if err != nil {
		return err
	}
	client := k.Client
	if client == nil {
		defaultClientOnce.Do(func() { defaultClient = newHTTPClient() })
		client = defaultClient
	}
	err = get(ctx, client, u, hdr)
	if isHTTPResponseToHTTPS(err) {
		// The kubelet's fallback for a server that speaks plain HTTP on
		// a port the hook calls HTTPS, without the credentials.
		plain := *u
		plain.Scheme = "http"
		h := hdr.Clone()
		h.Del("Authorization")
		err = get(ctx, client, &plain, h)
	}
	return err
}

// get sends one request and reads at most maxBody of the answer, whatever
// its status.
func get(ctx context.Context, client *http.Client, u *url.URL, hdr http.Header) error {
	req, err := newGet(ctx, u, hdr)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return nil
}

func isHTTPResponseToHTTPS(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "server gave HTTP response to HTTPS client")
}

func (k Hook) runSleep(ctx context.Context, seconds int64) error {
	clk := k.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	t := clk.NewTimer(time.Duration(seconds) * time.Second)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return errors.New("container terminated before sleep hook finished")
	}
}

// BoundedBuffer keeps the first MaxExecOutput bytes written to it and
// drops the rest, always reporting the whole write as done so the writer
// (an exec's output stream) never blocks or fails.
type BoundedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *BoundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := MaxExecOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (b *BoundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
