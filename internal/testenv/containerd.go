package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"golang.org/x/sys/unix"
)

// Containerd is a private containerd daemon: its own config, root, state and
// socket in one directory, so tests and demos never touch the machine's own
// containerd (if any) and several can run side by side.
type Containerd struct {
	// Address is the path of the daemon's gRPC socket.
	Address string
	// Dir holds the config, root, state and socket.
	Dir string
	// RuncRoot is a directory for runc's state; pass it to the agent so the
	// runc state of this daemon's containers stays inside Dir too.
	RuncRoot string

	cmd  *exec.Cmd
	done chan error
}

// StartContainerd starts containerd with a config that keeps everything
// under dir (created if missing; its path must be short, because the socket
// path is limited to 107 bytes) and disables the CRI plugin, which berth
// does not use. Its log goes to logw (may be nil). It returns once the daemon
// answers, or an error if it does not within a timeout.
//
// An optional CRI turns containerd's CRI plugin on instead (see cri.go),
// for benchmarks that compare berth with the kubelet's path.
func StartContainerd(ctx context.Context, dir string, logw io.Writer, cri ...CRI) (*Containerd, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	c := &Containerd{
		Address:  filepath.Join(dir, "containerd.sock"),
		Dir:      dir,
		RuncRoot: filepath.Join(dir, "runc"),
		done:     make(chan error, 1),
	}
	if len(c.Address) > 100 {
		return nil, fmt.Errorf("start containerd: socket path %s is too long for a unix socket", c.Address)
	}
	for _, d := range []string{dir, c.RuncRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("start containerd: %w", err)
		}
	}
	plugins := `disabled_plugins = ["io.containerd.grpc.v1.cri"]`
	if len(cri) > 0 {
		plugins = cri[0].config(c.RuncRoot)
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
%s

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  level = "warn"
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), plugins, c.Address, c.Address+".ttrpc")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	if logw == nil {
		logw = io.Discard
	}
	c.cmd = exec.Command(bin, "--config", cfgPath)
	c.cmd.Stdout = logw
	c.cmd.Stderr = logw
	// Its own process group, so a Ctrl-C meant for the test binary reaches
	// containerd only through Stop, which then cleans up in order.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	if err := c.waitReady(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Containerd) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("containerd exited before answering: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if _, err := os.Stat(c.Address); err == nil {
			cl, err := containerd.New(c.Address, containerd.WithTimeout(2*time.Second))
			if err == nil {
				_, err = cl.Version(ctx)
				cl.Close()
				if err == nil {
					return nil
				}
			}
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("containerd at %s did not answer within 30s: %v", c.Address, last)
}

// Stop ends the daemon and the shims it started, unmounts whatever is still
// mounted under its directory and removes the directory.
func (c *Containerd) Stop() error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	errs = append(errs, c.killShims())
	errs = append(errs, UnmountUnder(c.Dir))
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
	}
	return errors.Join(errs...)
}

// killShims ends the runc shims this daemon started (found by the daemon
// address on their command line) and the containers they still run, so
// nothing outlives a test.
func (c *Containerd) killShims() error {
	pids, err := ShimPIDs(c.Address)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		// The shim's process group holds its containers' init processes
		// only when they were not given their own; kill the shim itself and
		// let the kernel reparent and reap the rest when their pid
		// namespaces lose their init.
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) > 0 {
		for i := 0; i < 100 && anyAlive(pids); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// ShimPIDs lists the containerd-shim-runc-v2 processes whose command line
// names the daemon at address.
func ShimPIDs(address string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "containerd-shim-runc-v2") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == address {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}

func anyAlive(pids []int) bool {
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			return true
		}
	}
	return false
}

// UnmountUnder lazily unmounts every mount point below dir, deepest first:
// what a test leaves mounted (netns pins, tmpfs volumes) when it cleans up.
func UnmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], prefix) {
			points = append(points, f[4])
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := unix.Unmount(points[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", points[i], err))
		}
	}
	return errors.Join(errs...)
}

// NewContainerd starts a private containerd for the test, or skips (fails
// under CI) when root or the containerd/runc programs are missing. It is
// stopped and its directory removed when the test ends; its log is written
// to the test log if the test fails.
func NewContainerd(t testing.TB) *Containerd {
	t.Helper()
	RequireRoot(t)
	RequireBinary(t, "containerd")
	RequireBinary(t, "containerd-shim-runc-v2")
	RequireBinary(t, "runc")
	dir, err := os.MkdirTemp("", "berth-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(os.TempDir(), filepath.Base(dir)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartContainerd(context.Background(), dir, logf)
	if err != nil {
		logf.Close()
		t.Fatalf("%v (log in %s)", err, logPath)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				t.Logf("containerd log:\n%s", tail(b, 4000))
			}
		}
		os.Remove(logPath)
	})
	return c
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
