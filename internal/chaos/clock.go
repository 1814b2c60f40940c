package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The clock faults jump this machine's wall clock (CLOCK_REALTIME) and set
// it right again. The agents are processes on one kernel, and a kernel has
// one wall clock (time namespaces shift only the monotonic and boot
// clocks; Go reads time through the vDSO, so LD_PRELOAD tricks such as
// libfaketime do not reach it): an "agent's clock jump" is therefore a
// jump of every process's clock on this machine — the agents', the
// server's, containerd's and any other test's. So:
//
//   - a jump is made only while an ancestor of this process holds
//     /tmp/berth-it.lock (`just chaos` runs under it), and never in the
//     short run of `just test`, whose neighbours run unlocked;
//   - a jump lasts seconds (holdMin..holdMax), not minutes;
//   - the true time is kept from CLOCK_MONOTONIC, which no jump moves: the
//     wall and monotonic clocks are read together before the jump, and
//     the clock is set back to wall₀ + (monotonic now − monotonic₀), so no
//     time is lost or gained;
//   - it is restored on every exit path: at the end of the fault, by a
//     deferred call, on SIGINT/SIGTERM/SIGHUP, in the test's cleanup, and
//     by a watchdog process that restores it when this process dies
//     (even by SIGKILL or go test's timeout) or the jump outlasts its
//     limit.
const (
	itLock = "/tmp/berth-it.lock"
	// holdMin and holdMax bound how long the clock stays jumped.
	holdMin = 15 * time.Second
	holdMax = 35 * time.Second
	// watchdogEnv carries a clock mark and a limit to the watchdog: the
	// test binary started with it restores the clock instead of testing.
	watchdogEnv = "BERTH_CHAOS_CLOCK_WATCHDOG"
)

// clockFaults are the fault types that jump the machine's clock; they run
// only in long runs under the lock (see above).
var clockFaults = map[string]bool{"clock-forward": true, "clock-back": true}

// defaultFaults are the fault types a run injects when -chaos.faults
// names none: all, but the clock faults only in a long run under the
// lock. why says why they were left out.
func defaultFaults(short bool) (names []string, why string) {
	lockErr := holdsITLock()
	for n := range faults {
		if !clockFaults[n] || (!short && lockErr == nil) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	switch {
	case short:
		why = "the short run leaves out the clock faults: a clock jump is machine-wide and the tests beside it run unlocked"
	case lockErr != nil:
		why = "clock faults left out: " + lockErr.Error()
	}
	return names, why
}

// clockForward jumps the clock 1 h to 2 days ahead: certificates, node
// heartbeats, leases and CronJobs all see a future that then goes away.
func (r *Run) clockForward() error {
	return r.jumpClock(time.Hour + time.Duration(r.rng.Int63n(int64(47*time.Hour))))
}

// clockBack jumps the clock 5 to 50 minutes back: certificates issued in
// the last minutes are "not yet valid" unless backdated, stored
// heartbeats lie in the future. (Back further than the cluster CA's own
// NotBefore, an hour before the cluster started, nothing TLS can work.)
func (r *Run) clockBack() error {
	return r.jumpClock(-(5*time.Minute + time.Duration(r.rng.Int63n(int64(45*time.Minute)))))
}

// jumpClock jumps the wall clock by d, holds it while checking that
// nothing a user sees changes (every node stays Ready, no pod is moved or
// restarted), then restores the true time and checks again.
func (r *Run) jumpClock(d time.Duration) error {
	if err := holdsITLock(); err != nil {
		return err
	}
	hold := holdMin + time.Duration(r.rng.Int63n(int64(holdMax-holdMin)))
	before := r.settledWebPods()
	j, err := startJump(d, hold+30*time.Second)
	if err != nil {
		return err
	}
	r.t.Cleanup(func() { _ = j.restore() })
	defer func() {
		if err := j.end(); err != nil {
			r.violate("clock: %v", err)
		}
	}()
	r.logf("clock jumped %s: wall %s → %s (true time kept on CLOCK_MONOTONIC; held %v)",
		signed(d), stamp(j.mark.wallTime()), stamp(j.mark.wallTime().Add(d)), hold.Round(time.Second))
	start := time.Now()
	notReady := ""
	for time.Since(start) < hold {
		if err := r.c.nodesReady(len(r.c.nodes)); err != nil && notReady == "" {
			notReady = err.Error()
			r.violate("clock jumped %s: %v (every agent is alive)", signed(d), err)
		}
		time.Sleep(time.Second)
	}
	r.comparePods("while the clock was jumped "+signed(d), before)
	was, now, err := j.restoreOnce()
	if err != nil {
		return err
	}
	r.logf("clock restored after %v: wall was %s, set to %s (wall₀ + monotonic elapsed)", time.Since(start).Round(time.Millisecond), stamp(was), stamp(now))
	// Give a wrong reaction to the way back (it is a jump too) the time
	// to show, then look again.
	time.Sleep(5 * time.Second)
	r.comparePods("after the clock came back from "+signed(d), before)
	return nil
}

// signed shows a jump with its sign, to the second.
func signed(d time.Duration) string {
	if d < 0 {
		return d.Round(time.Second).String()
	}
	return "+" + d.Round(time.Second).String()
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// webPods is what a user sees of the web pods on every node.
func (r *Run) webPods() map[string]podView {
	out := map[string]podView{}
	for _, n := range r.c.nodes {
		for name, v := range r.podsOn(n.Name, false) {
			out[n.Name+"/"+name] = v
		}
	}
	return out
}

// settledWebPods waits (a few seconds at most) until the server's view
// of the web pods names exactly those running on the nodes, and returns
// it: convergence is judged on the nodes, and a rollout's last old pod
// may still be reported Running for a moment after it is gone there.
func (r *Run) settledWebPods() map[string]podView {
	var pods map[string]podView
	err := Poll(15*time.Second, func() error {
		pods = r.webPods()
		cs, err := r.c.Observe(r.ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, cp := range cs {
			if !isWeb(cp.Name) || !cp.Running {
				continue
			}
			n++
			if _, ok := pods[cp.Node+"/"+cp.Name]; !ok {
				return fmt.Errorf("web pod %s runs on %s, the server does not show it there Running", cp.Name, cp.Node)
			}
		}
		if n != len(pods) {
			return fmt.Errorf("the server shows %d web pods Running, %d run", len(pods), n)
		}
		return nil
	})
	if err != nil {
		r.logf("clock: the server's view of the web pods did not settle (%v); comparing with it anyway", err)
	}
	return pods
}

// comparePods reports web pods that moved, were replaced or restarted
// since before.
func (r *Run) comparePods(when string, before map[string]podView) {
	after := r.webPods()
	for k, b := range before {
		if a, ok := after[k]; !ok || a != b {
			r.violate("%s: web pod %s changed: before %+v, after %+v (present %t)", when, k, b, a, ok)
		}
	}
}

// clockMark is a reading of the wall and monotonic clocks taken together;
// the true wall time at any later moment is wall + (monotonic then − mono).
type clockMark struct {
	wall, mono int64 // nanoseconds: since the epoch, since boot
}

func readClock(id int32) (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(%d): %w", id, err)
	}
	return ts.Nano(), nil
}

func markClocks() (clockMark, error) {
	mono, err := readClock(unix.CLOCK_MONOTONIC)
	if err != nil {
		return clockMark{}, err
	}
	wall, err := readClock(unix.CLOCK_REALTIME)
	if err != nil {
		return clockMark{}, err
	}
	return clockMark{wall: wall, mono: mono}, nil
}

func (m clockMark) wallTime() time.Time { return time.Unix(0, m.wall) }

// trueNow is the wall time now as the mark and the monotonic clock say.
func (m clockMark) trueNow() (time.Time, error) {
	mono, err := readClock(unix.CLOCK_MONOTONIC)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, m.wall+(mono-m.mono)), nil
}

// setWall sets CLOCK_REALTIME (needs CAP_SYS_TIME) and returns what it
// read just before.
func setWall(t time.Time) (was time.Time, err error) {
	w, err := readClock(unix.CLOCK_REALTIME)
	if err != nil {
		return time.Time{}, err
	}
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return time.Time{}, fmt.Errorf("clock_settime(CLOCK_REALTIME, %s): %w", stamp(t), err)
	}
	return time.Unix(0, w), nil
}

// restoreTrue sets the wall clock to the true time the mark gives.
func (m clockMark) restoreTrue() (was, now time.Time, err error) {
	if now, err = m.trueNow(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	was, err = setWall(now)
	return was, now, err
}

// jump is a wall clock jump in force until restored.
type jump struct {
	mark     clockMark
	once     sync.Once
	was, now time.Time
	err      error
	sigs     chan os.Signal
	watchdog *exec.Cmd
	wdIn     io.WriteCloser
}

// startJump starts a watchdog that restores the clock if this process
// dies or limit passes, catches the signals that end a test, and jumps
// the clock by d.
func startJump(d, limit time.Duration) (*jump, error) {
	m, err := markClocks()
	if err != nil {
		return nil, err
	}
	j := &jump{mark: m}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("clock watchdog: %w", err)
	}
	j.watchdog = exec.Command(exe)
	j.watchdog.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d %d", watchdogEnv, m.wall, m.mono, m.mono+limit.Nanoseconds()))
	j.watchdog.Stderr = os.Stderr
	// Its own process group: a Ctrl-C to the test's group does not end
	// it before it has restored the clock.
	j.watchdog.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if j.wdIn, err = j.watchdog.StdinPipe(); err != nil {
		return nil, fmt.Errorf("clock watchdog: %w", err)
	}
	if err := j.watchdog.Start(); err != nil {
		return nil, fmt.Errorf("clock watchdog: %w", err)
	}
	j.sigs = make(chan os.Signal, 1)
	signal.Notify(j.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s, ok := <-j.sigs
		if !ok {
			return
		}
		was, now, err := j.restoreOnce()
		fmt.Fprintf(os.Stderr, "chaos: %v: clock restored from %s to %s (err %v)\n", s, stamp(was), stamp(now), err)
		signal.Reset(s)
		_ = syscall.Kill(os.Getpid(), s.(syscall.Signal))
	}()
	if _, err := setWall(m.wallTime().Add(d)); err != nil {
		_ = j.end()
		return nil, err
	}
	return j, nil
}

// restoreOnce sets the true time back, once; later calls return what the
// first did.
func (j *jump) restoreOnce() (was, now time.Time, err error) {
	j.once.Do(func() { j.was, j.now, j.err = j.mark.restoreTrue() })
	return j.was, j.now, j.err
}

func (j *jump) restore() error {
	_, _, err := j.restoreOnce()
	return err
}

// end restores the clock if it is not yet, stops catching signals and
// lets the watchdog go (it restores once more, harmlessly: the true time
// is the true time).
func (j *jump) end() error {
	err := j.restore()
	signal.Stop(j.sigs)
	close(j.sigs)
	j.wdIn.Close()
	if werr := j.watchdog.Wait(); werr != nil {
		err = errors.Join(err, fmt.Errorf("clock watchdog: %w", werr))
	}
	return err
}

// clockWatchdog is the watchdog process: spec is "wall mono deadline"
// (nanoseconds; deadline on the monotonic clock). It restores the true
// time when its stdin closes (the test ended the jump, or died) or at the
// deadline, whichever comes first.
func clockWatchdog(spec string) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	var m clockMark
	var deadline int64
	if _, err := fmt.Sscan(spec, &m.wall, &m.mono, &deadline); err != nil {
		fmt.Fprintf(os.Stderr, "chaos clock watchdog: bad %s %q: %v\n", watchdogEnv, spec, err)
		return 2
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	mono, err := readClock(unix.CLOCK_MONOTONIC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos clock watchdog:", err)
		return 1
	}
	why := "the test ended the jump"
	select {
	case <-closed:
	case <-time.After(time.Duration(deadline - mono)):
		why = "the jump outlasted its limit"
	}
	was, now, err := m.restoreTrue()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos clock watchdog: restore:", err)
		return 1
	}
	if d := was.Sub(now); d > time.Second || d < -time.Second {
		fmt.Fprintf(os.Stderr, "chaos clock watchdog: %s: clock restored from %s to %s\n", why, stamp(was), stamp(now))
	}
	return 0
}

// holdsITLock reports nil when an ancestor of this process holds the
// integration lock, as `flock -o /tmp/berth-it.lock` does for the
// command it runs.
func holdsITLock() error {
	var st unix.Stat_t
	if err := unix.Stat(itLock, &st); err != nil {
		return fmt.Errorf("clock jumps are machine-wide and need %s held (just chaos holds it): %w", itLock, err)
	}
	holders, err := lockHolders(st.Ino)
	if err != nil {
		return err
	}
	for pid := os.Getpid(); pid > 1; {
		if holders[pid] {
			return nil
		}
		if pid, err = parentOf(pid); err != nil {
			return err
		}
	}
	return fmt.Errorf("clock jumps are machine-wide: run them under `flock -o %s` (just chaos does); no ancestor of this process holds it", itLock)
}

// lockHolders reads /proc/locks for the processes holding a flock on the
// file with inode ino (waiters, shown with "->", are not holders).
func lockHolders(ino uint64) (map[int]bool, error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// "5: FLOCK  ADVISORY  WRITE 11991 fe:00:9985470 0 EOF"
		if len(fs) < 6 || fs[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(fs[5], ":")
		if n, err := strconv.ParseUint(dev[len(dev)-1], 10, 64); err != nil || n != ino {
			continue
		}
		if pid, err := strconv.Atoi(fs[4]); err == nil {
			out[pid] = true
		}
	}
	return out, sc.Err()
}

// parentOf reads a process's parent from /proc/PID/stat (the fourth
// field; the second, the command, may hold spaces, so count from its ')').
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fs) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return strconv.Atoi(fs[1])
}
