// Package containerdrun starts and stops a private containerd daemon whose
// config, state, socket and runc root all live in one directory: what
// `berth agent containerd` runs for demos, and what integration tests run so
// they never touch the machine's own containerd.
package containerdrun

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
	"time"

	"github.com/containerd/containerd"

	"github.com/berth-dev/berth/internal/unmount"
)

// Daemon is a private containerd daemon: its own config, root, state and
// socket in one directory, so tests and demos never touch the machine's own
// containerd (if any) and several can run side by side.
type Daemon struct {
	// Address is the path of the daemon's gRPC socket.
	Address string
	// Dir holds the config, root, state and socket.
	Dir string
	// RuncRoot is a directory for runc's state; pass it to the agent so the
	// runc state of this daemon's containers stays inside Dir too.
	RuncRoot string

	cmd     *exec.Cmd
	done    chan error
	bin     string
	cfgPath string
	logw    io.Writer
}

// Start starts containerd with a config that keeps everything
// under dir (created if missing; its path must be short, because the socket
// path is limited to 107 bytes) and disables the CRI plugin, which berth
// does not use. Its log goes to logw (may be nil). It returns once the daemon
// answers, or an error if it does not within a timeout.
//
// An optional CRI turns containerd's CRI plugin on instead (see cri.go),
// for benchmarks that compare berth with the kubelet's path.
func Start(ctx context.Context, dir string, logw io.Writer, cri ...CRI) (*Daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	c := &Daemon{
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
	c.bin, c.cfgPath, c.logw = bin, cfgPath, logw
	if err := c.launch(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Daemon) launch(ctx context.Context) error {
	c.cmd = exec.Command(c.bin, "--config", c.cfgPath)
	c.cmd.Stdout = c.logw
	c.cmd.Stderr = c.logw
	// Its own process group, so a Ctrl-C meant for the test binary reaches
	// containerd only through Stop, which then cleans up in order.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	c.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(c.cmd, c.done)
	return c.waitReady(ctx)
}

// Crash SIGKILLs the daemon as a crash would (its shims and their
// containers live on) and starts it again on the same directory; it
// returns once the new daemon answers. Chaos and restart tests use it.
func (c *Daemon) Crash(ctx context.Context) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return fmt.Errorf("crash containerd: not started")
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	if err := c.launch(ctx); err != nil {
		return fmt.Errorf("restart containerd: %w", err)
	}
	return nil
}

func (c *Daemon) waitReady(ctx context.Context) error {
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
func (c *Daemon) Stop() error {
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
	errs = append(errs, unmount.Under(c.Dir))
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
	}
	return errors.Join(errs...)
}

// killShims ends the runc shims this daemon started (found by the daemon
// address on their command line) and the containers they still run, so
// nothing outlives a test.
func (c *Daemon) killShims() error {
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
