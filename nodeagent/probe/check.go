package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// userAgent is what HTTP probes announce unless the probe sets its own,
// the kubelet's "kube-probe/<version>" for the API version berth follows.
const userAgent = "kube-probe/1.31"

// maxBody bounds how much of a response body a probe reads, as the
// kubelet does (10 KiB), so a chatty endpoint cannot hold the agent.
const maxBody = 10 << 10

// maxRedirects is how many same-host redirects an HTTP probe follows.
const maxRedirects = 10

func (p *Prober) handler(h *corev1.ProbeHandler, c *corev1.Container) (func(context.Context) (Result, string, error), error) {
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return nil, fmt.Errorf("%w: exec probe without a command", ErrUnsupported)
		}
		if p.exec == nil {
			return nil, fmt.Errorf("%w: exec probe but no Execer to run it", ErrUnsupported)
		}
		cmd := append([]string(nil), h.Exec.Command...)
		return func(ctx context.Context) (Result, string, error) { return execProbe(ctx, p.exec, cmd) }, nil
	case h.HTTPGet != nil:
		port, err := resolvePort(h.HTTPGet.Port, c)
		if err != nil {
			return nil, err
		}
		u, hdr, err := httpTarget(h.HTTPGet, p.podIP, port, userAgent)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (Result, string, error) { return httpProbe(ctx, p.client, u, hdr) }, nil
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return nil, err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = p.podIP
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		return func(ctx context.Context) (Result, string, error) { return tcpProbe(ctx, addr) }, nil
	case h.GRPC != nil:
		return nil, fmt.Errorf("%w: grpc probes are not supported by berth", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: no exec, httpGet or tcpSocket handler", ErrUnsupported)
}

// resolvePort turns a probe's port, a number or the name of one of the
// container's ports, into a number.
func resolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == port.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
		if n, err := strconv.Atoi(port.StrVal); err == nil && n > 0 && n < 65536 {
			return n, nil
		}
		return 0, fmt.Errorf("port %q is not a port the container names", port.StrVal)
	}
	if port.IntVal <= 0 || port.IntVal >= 65536 {
		return 0, fmt.Errorf("port %d out of range", port.IntVal)
	}
	return int(port.IntVal), nil
}

// httpTarget is the URL and headers of an httpGet action, probe or hook
// (the kubelet's NewRequestForHTTPGetAction); ua is the User-Agent unless
// the action sets one.
func httpTarget(a *corev1.HTTPGetAction, podIP string, port int, ua string) (*url.URL, http.Header, error) {
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return nil, nil, fmt.Errorf("%w: scheme %q", ErrUnsupported, a.Scheme)
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	path := a.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path))
	if err != nil {
		return nil, nil, fmt.Errorf("probe URL: %w", err)
	}
	hdr := http.Header{}
	for _, h := range a.HTTPHeaders {
		hdr.Add(h.Name, h.Value)
	}
	if hdr.Get("User-Agent") == "" {
		hdr.Set("User-Agent", ua)
	}
	if hdr.Get("Accept") == "" {
		hdr.Set("Accept", "*/*")
	}
	return u, hdr, nil
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DisableKeepAlives:  true,
			DisableCompression: true,
			// Probes check the endpoint, not its certificate, as the
			// kubelet does.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Hostname() != via[0].URL.Hostname() {
				// The kubelet does not follow a redirect off the host and
				// counts the redirect itself as success.
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// newGet is the GET request of an httpGet action; a Host header sets the
// request's host, as the kubelet does.
func newGet(ctx context.Context, u *url.URL, hdr http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	req.Header = hdr.Clone()
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	return req, nil
}

func httpProbe(ctx context.Context, client *http.Client, u *url.URL, hdr http.Header) (Result, string, error) {
	req, err := newGet(ctx, u, hdr)
	if err != nil {
		return Unknown, "", fmt.Errorf("probe %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// Refused, reset or timed out: a failed probe, not a prober error.
		return Failure, failureText(ctx, err), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return Success, "", nil
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode) + trimBody(body), nil
}

func trimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return ": " + s
}

func failureText(ctx context.Context, err error) string {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return err.Error() + " (probe timed out)"
	}
	return err.Error()
}

func tcpProbe(ctx context.Context, addr string) (Result, string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Failure, failureText(ctx, err), nil
	}
	_ = conn.Close()
	return Success, "", nil
}

func execProbe(ctx context.Context, e Execer, cmd []string) (Result, string, error) {
	_, code, err := e.Exec(ctx, cmd)
	if err != nil && errors.Is(context.Cause(ctx), errTimeout) {
		// The kubelet counts a command that outlives its timeout as a
		// failure (ExecProbeTimeout).
		return Failure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
	}
	if err != nil {
		return Unknown, "", fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	if code != 0 {
		return Failure, fmt.Sprintf("command %q exited with %d", strings.Join(cmd, " "), code), nil
	}
	return Success, "", nil
}
