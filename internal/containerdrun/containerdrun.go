// Package containerdrun starts and stops a private containerd daemon whose
// config, state, socket and runc root all live in one directory: what
// `berth agent containerd` runs for demos, and what integration tests run so
// they never touch the machine's own containerd.
package containerdrun

import (
	"bytes"
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
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"

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

// Stop ends the daemon and everything it started, so no process of it
// outlives a test: first every task in every namespace, killed and deleted
// through the daemon while it answers; then the daemon; then any shim
// still running, with its containers (a daemon that no longer answered
// left them); then any container still in RuncRoot whose shim died
// before it. It unmounts whatever is still mounted under the daemon's
// directory and removes the directory. Each step is bounded in time; an
// error names what is left.
func (c *Daemon) Stop() error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case err := <-c.done:
			c.done <- err // not running: only shims and containers are left
		default:
			// A daemon that does not answer leaves its tasks to the
			// steps below, which do not need it.
			_ = c.deleteTasks()
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	errs = append(errs, c.killShims(), c.deleteRuncContainers())
	errs = append(errs, unmount.Under(c.Dir))
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
	}
	return errors.Join(errs...)
}

// deleteTasks kills (SIGKILL, every process of the task) and deletes
// every task of every namespace through the daemon, within 30s in all.
// Its shims exit once their last task is deleted.
func (c *Daemon) deleteTasks() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := containerd.New(c.Address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("delete tasks: %w", err)
	}
	defer cl.Close()
	nss, err := cl.NamespaceService().List(ctx)
	if err != nil {
		return fmt.Errorf("delete tasks: %w", err)
	}
	var errs []error
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := cl.Containers(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete tasks of namespace %s: %w", ns, err))
			continue
		}
		for _, ctr := range ctrs {
			task, err := ctr.Task(nctx, nil)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err == nil {
				_, err = task.Delete(nctx, containerd.WithProcessKill)
			}
			if err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete task %s/%s: %w", ns, ctr.ID(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// killShims ends the runc shims this daemon started (found by the daemon
// address on their command line) with every process under them: a
// container's init is the shim's child (the shim is its subreaper), and
// killing the shim alone would leave it running, reparented to PID 1.
// Children go first, so none is reparented away from the tree.
func (c *Daemon) killShims() error {
	shims, err := ShimPIDs(c.Address)
	if err != nil || len(shims) == 0 {
		return err
	}
	tree, err := descendants(shims)
	if err != nil {
		return err
	}
	for i := len(tree) - 1; i >= 0; i-- { // leaves first, shims last
		_ = syscall.Kill(tree[i], syscall.SIGKILL)
	}
	if !waitGone(tree, 5*time.Second) {
		return fmt.Errorf("stop containerd: processes of its shims still run after SIGKILL: %v", alive(tree))
	}
	return nil
}

// deleteRuncContainers force-deletes, with runc, every container left in
// RuncRoot (one directory per namespace): those whose shim died before
// them keep running with nobody to stop them. runc delete --force kills
// every process of the container's cgroup.
func (c *Daemon) deleteRuncContainers() error {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil // no runc: nothing could have run a container
	}
	nss, err := os.ReadDir(c.RuncRoot)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("stop containerd: %w", err)
	}
	var errs []error
	for _, ns := range nss {
		root := filepath.Join(c.RuncRoot, ns.Name())
		ctrs, err := os.ReadDir(root)
		if err != nil || !ns.IsDir() {
			continue
		}
		for _, ctr := range ctrs {
			if _, err := os.Stat(filepath.Join(root, ctr.Name(), "state.json")); err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, runc, "--root", root, "delete", "--force", ctr.Name()).CombinedOutput()
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("stop containerd: runc delete --force %s/%s: %w: %s", ns.Name(), ctr.Name(), err, bytes.TrimSpace(out)))
			}
		}
	}
	return errors.Join(errs...)
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

// descendants lists roots and every process under them, parents before
// their children.
func descendants(roots []int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(pid)
		if err != nil {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := append([]int{}, roots...)
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// waitGone waits up to d for every process of pids to be gone.
func waitGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for len(alive(pids)) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// alive lists the processes of pids that still exist, zombies aside (a
// zombie runs nothing; init reaps it).
func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if f, err := procStat(pid); err == nil && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// procStat is /proc/pid/stat from the state field on (state, ppid, …):
// the command name before it may hold spaces and parentheses.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return nil, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return f, nil
}
