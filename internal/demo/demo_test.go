package demo

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent/pause"
)

var all = flag.Bool("demo.all", false, "stop the demo every way a user does, each with its pods running (just test-demo-stop)")

const registry = "127.0.0.1:5000"

// demoRun is one run of the demo.
type demoRun struct {
	t      *testing.T
	repo   string
	bin    string
	dir    string // BERTH_DEMO_DIR
	ns     string // containerd namespace, cgroup parent, CNI network
	bridge string
	listen string
	tmux   string // private tmux socket (-S), "" when not in tmux
	log    string // the demo's output (tee or redirect)
	teeLog string // tee's file when the demo runs in the test's terminal
	// justPID is what the shell started: the just binary, or the npm
	// wrapper (node) around it (npmWrapper).
	justPID    int
	npmWrapper bool
	tmuxPID    int       // the tmux server, to tell its death from the demo's
	cmd        *exec.Cmd // when started as a child in its own process group
	term       *terminal // when started in the test's own terminal
}

func (d *demoRun) env() []string {
	return append(os.Environ(),
		"BERTH_DEMO_BIN="+d.bin, "BERTH_DEMO_DIR="+d.dir, "BERTH_DEMO_LISTEN="+d.listen,
		"BERTH_DEMO_NAMESPACE="+d.ns, "BERTH_DEMO_NETWORK="+d.ns, "BERTH_DEMO_BRIDGE="+d.bridge,
		"BERTH_DEMO_CIDR=198.19.192.0/18", "BERTH_DEMO_SERVICE_CIDR=198.19.160.0/20")
}

// A stopWay starts the demo one way and stops it one way.
type stopWay struct {
	name string
	// inTmux runs `just` in a tmux window, inPTY in a terminal of the
	// test's own; otherwise it is a child of the test in its own process
	// group, as a shell's background job.
	inTmux, inPTY bool
	// tee pipes the output through tee in the window.
	tee bool
	// closes: the terminal goes away, so only tee's file can show the
	// cleanup's last words.
	closes bool
	// toWrapper: the signal goes to the process the shell started. When
	// that is the npm build of just (a node wrapper around the just
	// binary), node exits on it at once, whatever the recipe does, so the
	// test cannot ask `just` to wait for the cleanup, only that the
	// cleanup ends.
	toWrapper bool
	// quick: one of the ways the plain `go test` (so `just test`) runs.
	quick bool
	// stop stops it.
	stop func(d *demoRun) error
}

func ctrlC(d *demoRun) error { return d.tmuxCmd("send-keys", "-t", "demo", "C-c") }

var ways = []stopWay{
	{name: "Ctrl-C in a terminal", inPTY: true, stop: ptyCtrlC},
	{name: "Ctrl-C in a terminal piped through tee", inPTY: true, tee: true, stop: ptyCtrlC},
	{name: "Ctrl-C twice then the terminal closes, piped through tee", inPTY: true, tee: true, closes: true, quick: true, stop: ptyTwiceThenClose},
	// `pkill just` and `killall just` pick the just binary (the npm
	// wrapper's process is named node): it forwards SIGTERM to the recipe
	// and waits.
	{name: "kill of just", quick: true, stop: func(d *demoRun) error {
		pid, err := d.justBinary()
		if err != nil {
			return err
		}
		return syscall.Kill(pid, syscall.SIGTERM)
	}},
	{name: "kill of the process the shell started", toWrapper: true, stop: func(d *demoRun) error {
		return syscall.Kill(d.justPID, syscall.SIGTERM)
	}},
	{name: "SIGINT to the process group of a background job", toWrapper: true, stop: func(d *demoRun) error {
		return syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT)
	}},
	{name: "Ctrl-C in tmux", inTmux: true, stop: ctrlC},
	{name: "Ctrl-C in tmux piped through tee", inTmux: true, tee: true, stop: ctrlC},
	{name: "Ctrl-C twice then the window closes, piped through tee", inTmux: true, tee: true, closes: true, stop: twiceThenClose},
	{name: "the tmux session is killed", inTmux: true, closes: true, stop: func(d *demoRun) error {
		return d.tmuxCmd("kill-session", "-t", "demo")
	}},
}

// twiceThenClose is the worst case: Ctrl-C, Ctrl-C again during the
// cleanup, then the window and the tmux server go away (SIGHUP).
func twiceThenClose(d *demoRun) error {
	if err := ctrlC(d); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if err := ctrlC(d); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return d.tmuxCmd("kill-server")
}

func TestDemoStops(t *testing.T) {
	testenv.RequireRoot(t)
	for _, p := range []string{"just", "tmux", "containerd", "runc", "docker-registry", "go", "ip"} {
		testenv.RequireBinary(t, p)
	}
	testenv.RequireFile(t, "/bin/busybox")
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinaries(t, repo)
	var run []stopWay
	for _, w := range ways {
		if w.quick || *all {
			run = append(run, w)
		}
	}
	for i, w := range run {
		t.Run(w.name, func(t *testing.T) {
			suffix := fmt.Sprintf("%d%d", os.Getpid()%10000, i)
			d := &demoRun{
				t: t, repo: repo, bin: bin,
				dir:    "/tmp/bd" + suffix,
				ns:     "bdemo" + suffix,
				bridge: "bd" + suffix,
				listen: "127.0.0.1:" + strconv.Itoa(freePort(t)),
				log:    filepath.Join(t.TempDir(), "demo.log"),
			}
			if w.inTmux {
				// A short path: a unix socket's is at most 108 bytes, and
				// t.TempDir's names carry the subtest's.
				sock, err := os.MkdirTemp("", "bdt")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(sock) })
				d.tmux = filepath.Join(sock, "tmux.sock")
			}
			requireFree(t, registry)
			d.start(w)
			// With -demo.all every way stops a demo whose pods run; the
			// quick run stops it while its pods are being created.
			if *all {
				d.waitFor("Running pods", 3*time.Minute, d.podsRunning)
			} else {
				d.waitFor("the server's API", 2*time.Minute, d.apiUp)
				time.Sleep(2 * time.Second)
			}
			if d.tmux != "" && !alive(d.tmuxPID) {
				t.Fatalf("the tmux server (pid %d) died before the demo was stopped: something outside the test killed it", d.tmuxPID)
			}
			comm, _, err := procStat(d.justPID)
			if err != nil {
				t.Fatalf("just (pid %d): %v", d.justPID, err)
			}
			d.npmWrapper = comm != "just"
			if err := w.stop(d); err != nil {
				out, _ := os.ReadFile(d.log)
				t.Fatalf("stop: %v; demo output:\n%s", err, tail(out, 40))
			}
			start := time.Now()
			d.waitFor("just to exit", 3*time.Minute, func() bool { return !alive(d.justPID) })
			justDone := time.Since(start)
			// just returns once the cleanup is over: what is left the
			// moment it returns, the user's prompt would not show.
			waits := !(w.toWrapper && d.npmWrapper)
			leftAtReturn := d.leftovers()
			if waits && len(leftAtReturn) > 0 {
				t.Errorf("just returned %v after the stop, before the cleanup ended; left then:\n  %s", justDone.Round(100*time.Millisecond), strings.Join(leftAtReturn, "\n  "))
			}
			// Either way the cleanup must finish on its own, surviving
			// just's exit, the terminal closing and a dead pipe.
			var left []string
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
				if left = d.leftovers(); len(left) == 0 || time.Now().After(deadline) {
					break
				}
			}
			t.Logf("just (%s) exited %v after the stop; the cleanup ended %v after it", d.justKind(), justDone.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
			if len(left) > 0 {
				out, _ := os.ReadFile(d.log)
				t.Errorf("left behind 2 minutes after the stop:\n  %s\ndemo output:\n%s", strings.Join(left, "\n  "), tail(out, 40))
			}
			// The cleanup's last words reach the user: tee keeps running
			// (Ctrl-C reaches the script alone), and so does the terminal
			// unless it was closed.
			said := d.log
			if d.teeLog != "" {
				said = d.teeLog
			}
			if w.tee || !w.closes {
				// tmux's pipe-pane and the terminal's copy lag a little
				lastLine := []byte("stopped; nothing left running.")
				var out []byte
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if out, _ = os.ReadFile(said); bytes.Contains(out, lastLine) {
						break
					}
				}
				if !bytes.Contains(out, lastLine) {
					t.Errorf("the output (%s) does not end with the cleanup's last line:\n%s", filepath.Base(said), tail(out, 20))
				}
			}
		})
	}
}

func buildBinaries(t *testing.T, repo string) string {
	t.Helper()
	bin := t.TempDir()
	builds := [][]string{
		{"build", "-o", filepath.Join(bin, "berth"), "./cmd/berth"},
		{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(bin, "berth-logger"), "./nodeagent/containerlog/logger"},
	}
	for _, args := range builds {
		cmd := exec.Command("go", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := pause.Build(filepath.Join(bin, "berth-pause")); err != nil {
		t.Fatalf("berth-pause: %v", err)
	}
	return bin
}

func (d *demoRun) tmuxCmd(args ...string) error {
	out, err := exec.Command("tmux", append([]string{"-S", d.tmux}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (d *demoRun) start(w stopWay) {
	t := d.t
	if w.inPTY {
		d.term = d.startInTerminal(w.tee)
		return
	}
	if !w.inTmux {
		log, err := os.Create(d.log)
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		d.cmd = exec.Command("just", "demo-prebuilt")
		d.cmd.Dir, d.cmd.Env, d.cmd.Stdout, d.cmd.Stderr = d.repo, d.env(), log, log
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		d.justPID = d.cmd.Process.Pid
		reaped := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(reaped) }()
		t.Cleanup(func() {
			if alive(d.justPID) {
				_ = syscall.Kill(d.justPID, syscall.SIGTERM)
			}
			<-reaped
		})
		return
	}
	pidFile := filepath.Join(t.TempDir(), "just.pid")
	inner := fmt.Sprintf("(echo $BASHPID > %s; exec just demo-prebuilt)", pidFile)
	if w.tee {
		inner += " 2>&1 | tee " + d.log
	}
	inner += fmt.Sprintf("; echo \"(the window's command ended: $?)\" >> %s", d.log)
	// The window waits for a key before it starts, so pipe-pane (tmux's
	// own copy of what the window shows) is in place for the first line.
	inner = "read -r _; " + inner
	args := []string{"new-session", "-d", "-s", "demo", "-x", "200", "-y", "50", "-c", d.repo}
	for _, kv := range d.env()[len(os.Environ()):] {
		args = append(args, "-e", kv)
	}
	if err := d.tmuxCmd(append(args, "bash", "-c", inner)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.tmuxCmd("kill-server") })
	pid, err := exec.Command("tmux", "-S", d.tmux, "display-message", "-p", "#{pid}").Output()
	if err != nil {
		t.Fatalf("tmux server pid: %v", err)
	}
	if d.tmuxPID, err = strconv.Atoi(strings.TrimSpace(string(pid))); err != nil {
		t.Fatalf("tmux server pid %q: %v", pid, err)
	}
	if !w.tee {
		if err := d.tmuxCmd("pipe-pane", "-t", "demo", "cat >> "+d.log); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.tmuxCmd("send-keys", "-t", "demo", "Enter"); err != nil {
		t.Fatal(err)
	}
	d.waitFor("just to start", 30*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			return false
		}
		d.justPID, err = strconv.Atoi(string(bytes.TrimSpace(b)))
		return err == nil
	})
	t.Cleanup(func() {
		for deadline := time.Now().Add(2 * time.Minute); alive(d.justPID) && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func (d *demoRun) waitFor(what string, limit time.Duration, ok func() bool) {
	d.t.Helper()
	for deadline := time.Now().Add(limit); !ok(); {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(d.log)
			d.t.Fatalf("no %s after %v; demo output:\n%s", what, limit, tail(out, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *demoRun) apiUp() bool {
	_, err := os.Stat(filepath.Join(d.dir, "data", "admin.token"))
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", d.listen, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func (d *demoRun) podsRunning() bool {
	if !d.apiUp() {
		return false
	}
	tok, err := os.ReadFile(filepath.Join(d.dir, "data", "admin.token"))
	if err != nil {
		return false
	}
	cmd := exec.Command(filepath.Join(d.bin, "berth"), "get", "pods", "--server", "http://"+d.listen, "--token", strings.TrimSpace(string(tok)))
	out, err := cmd.Output()
	return err == nil && bytes.Count(out, []byte(" Running ")) >= 3
}

// leftovers lists what of the demo is still on the machine.
func (d *demoRun) leftovers() []string {
	var left []string
	if _, err := os.Stat(d.dir); err == nil {
		left = append(left, "directory "+d.dir)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(d.dir)) {
			continue
		}
		left = append(left, "process "+filepath.Base(filepath.Dir(p))+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if strings.Contains(line, d.dir) {
				left = append(left, "mount "+line)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + d.bridge); err == nil {
		left = append(left, "bridge "+d.bridge)
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + d.ns)
	cg2, _ := filepath.Glob("/sys/fs/cgroup/" + d.ns)
	for _, c := range append(cg, cg2...) {
		left = append(left, "cgroup "+c)
	}
	if _, err := os.Stat("/var/lib/cni/networks/" + d.ns); err == nil {
		left = append(left, "CNI leases /var/lib/cni/networks/"+d.ns)
	}
	for _, addr := range []string{registry, d.listen} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			left = append(left, "listening "+addr)
		}
	}
	return left
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent has not read its status yet.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func requireFree(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is in use: the demo's registry needs it (run under flock /tmp/berth-it.lock, with no demo running)", addr)
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// procStat returns a process's name and parent.
func procStat(pid int) (comm string, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[end+1:]))
	if open < 0 || len(f) < 2 {
		return "", 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	ppid, err = strconv.Atoi(f[1])
	return string(b[open+1 : end]), ppid, err
}

// justBinary finds the just binary: what the shell started, or the npm
// wrapper's child.
func (d *demoRun) justBinary() (int, error) {
	if !d.npmWrapper {
		return d.justPID, nil
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		if err != nil {
			continue
		}
		if comm, ppid, err := procStat(pid); err == nil && ppid == d.justPID && comm == "just" {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no just process under the npm wrapper %d", d.justPID)
}

func (d *demoRun) justKind() string {
	if d.npmWrapper {
		return "the npm wrapper"
	}
	return "the binary"
}
