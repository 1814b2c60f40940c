package demo

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A terminal of the test's own: the demo runs in a new session whose
// controlling terminal is a pseudo-terminal, as in a terminal emulator.
// Typing Ctrl-C is writing ^C to its master (the kernel's line discipline
// then sends SIGINT to the foreground process group); closing the
// terminal is closing the master (the kernel sends SIGHUP).
type terminal struct {
	master *os.File
	copied chan struct{}
}

func openTerminal() (*terminal, *os.File, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return &terminal{master: m, copied: make(chan struct{})}, s, nil
}

// startInTerminal runs `just demo-prebuilt` (piped through tee when tee)
// in a new terminal; what the terminal shows goes to d.log.
func (d *demoRun) startInTerminal(tee bool) *terminal {
	t := d.t
	term, slave, err := openTerminal()
	if err != nil {
		t.Fatalf("terminal: %v", err)
	}
	pidFile := filepath.Join(t.TempDir(), "just.pid")
	inner := fmt.Sprintf("(echo $BASHPID > %s; exec just demo-prebuilt)", pidFile)
	if tee {
		d.teeLog = filepath.Join(t.TempDir(), "tee.log")
		inner += " 2>&1 | tee " + d.teeLog
	}
	cmd := exec.Command("bash", "-c", inner)
	cmd.Dir, cmd.Env = d.repo, d.env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	reaped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(reaped) }()
	log, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		// Read until the terminal is closed or nobody holds it any more.
		_, _ = io.Copy(log, term.master)
		log.Close()
		close(term.copied)
	}()
	t.Cleanup(func() {
		term.master.Close()
		<-reaped
	})
	d.waitFor("just to start", 30*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		d.justPID, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return term
}

func (term *terminal) ctrlC() error {
	_, err := term.master.Write([]byte{0x03})
	return err
}

// ptyCtrlC types Ctrl-C once.
func ptyCtrlC(d *demoRun) error { return d.term.ctrlC() }

// ptyTwiceThenClose types Ctrl-C, then again during the cleanup, then
// closes the terminal.
func ptyTwiceThenClose(d *demoRun) error {
	if err := d.term.ctrlC(); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if err := d.term.ctrlC(); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return d.term.master.Close()
}
