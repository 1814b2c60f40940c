package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Registry is Debian's docker-registry serving plain HTTP on a free
// 127.0.0.1 port with its storage in a temporary directory.
type Registry struct {
	// Host is "127.0.0.1:port", the registry part of image references.
	Host string
	// Dir holds the config and the storage.
	Dir string

	cmd  *exec.Cmd
	done chan error
}

// StartRegistry starts docker-registry with its storage under dir (created
// if missing) and returns once it answers /v2/. Its log goes to logw (may be
// nil).
func StartRegistry(ctx context.Context, dir string, logw io.Writer) (*Registry, error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	if logw == nil {
		logw = io.Discard
	}
	var errs []error
	// Another process may take the free port between our probe and the
	// registry's bind; try a few ports before giving up.
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, done: make(chan error, 1)}
		config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), r.Host)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		r.cmd = exec.Command(bin, "serve", cfgPath)
		r.cmd.Stdout = logw
		r.cmd.Stderr = logw
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := r.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		go func() { r.done <- r.cmd.Wait() }()
		if err := r.waitReady(ctx); err != nil {
			errs = append(errs, err, r.stopProcess())
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("start registry: %w", errors.Join(errs...))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago; a
// process given it may still lose it to another before it binds.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (r *Registry) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	// A deadline rather than a count of tries: a try that waits out the
	// client's timeout would stretch a count well past the 10 s reported.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("registry exited before answering: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("registry at %s did not answer within 10s", r.Host)
}

func (r *Registry) stopProcess() error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	return nil
}

// Stop ends the registry and removes its directory.
func (r *Registry) Stop() error {
	errs := []error{r.stopProcess()}
	if err := os.RemoveAll(r.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewRegistry starts a registry for the test, or skips (fails under CI)
// when docker-registry is missing; it is stopped when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	RequireBinary(t, "docker-registry")
	dir, err := os.MkdirTemp("", "berth-registry-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRegistry(context.Background(), dir, nil)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop registry: %v", err)
		}
	})
	return r
}
