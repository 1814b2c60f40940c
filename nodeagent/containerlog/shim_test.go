package containerlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shimLike starts the logger as containerd's runc shim does (pkg/process
// NewBinaryIO): the binary:// query as arguments, the stdout and stderr
// pipes as fds 3 and 4, and fd 5 to close when ready. It returns the
// write ends the container would hold.
type shimLike struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	logErr         bytes.Buffer
}

func startShimLike(t testing.TB, args ...string) *shimLike {
	t.Helper()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &shimLike{stdout: outW, stderr: errW}
	s.cmd = exec.Command(loggerBinary, args...)
	s.cmd.Env = []string{"CONTAINER_ID=c1", "CONTAINER_NAMESPACE=test"}
	s.cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	s.cmd.Stderr = &s.logErr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The shim's side of the logger's ends is closed after start.
	for _, f := range []*os.File{outR, errR, readyW} {
		f.Close()
	}
	b := make([]byte, 1)
	if _, err := readyR.Read(b); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("waiting for the logger to be ready: %v", err)
	}
	readyR.Close()
	t.Cleanup(func() {
		s.stdout.Close()
		s.stderr.Close()
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// finish closes the pipes as the shim does on task delete, then sends
// SIGTERM, and returns the logger's exit code.
func (s *shimLike) finish(t testing.TB) int {
	t.Helper()
	s.stdout.Close()
	s.stderr.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestLoggerProgram(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c", "0.log")
	// Arguments in the order containerd happens to give them. About 5 KiB
	// of lines against a 4 KiB cap: one rotation, nothing dropped.
	s := startShimLike(t, "--max-files", "3", "--path", path, "--max-size", "4096")
	for i := range 100 {
		fmt.Fprintf(s.stdout, "out %03d\n", i)
		if i%10 == 0 {
			fmt.Fprintf(s.stderr, "err %03d\n", i)
		}
	}
	fmt.Fprint(s.stdout, "no newline at the end")
	if code := s.finish(t); code != 0 {
		t.Fatalf("logger exited %d: %s", code, s.logErr.String())
	}

	rotated := rotatedFiles(path)
	if len(rotated) != 1 {
		t.Fatalf("rotated files = %v, want one", rotated)
	}
	counts := map[string]int{}
	var lastOut Entry
	for _, p := range append(rotated, path) {
		if st, err := os.Stat(p); err != nil || st.Size() > 4096 {
			t.Fatalf("%s: %v (size cap 4096)", p, err)
		}
		for _, e := range readEntries(t, p) {
			word, _, _ := strings.Cut(string(e.Content), " ")
			counts[string(e.Stream)+" "+word]++
			if e.Stream == Stdout {
				lastOut = e
			}
		}
	}
	if counts["stdout out"] != 100 || counts["stderr err"] != 10 || len(counts) != 3 {
		t.Fatalf("entries per stream and kind = %v", counts)
	}
	if string(lastOut.Content) != "no newline at the end" || !lastOut.Partial {
		t.Fatalf("last stdout entry = %+v, want the unfinished line as partial", lastOut)
	}
	var out bytes.Buffer
	if err := Read(context.Background(), &out, filepath.Dir(path), ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "out 099\n") || !strings.Contains(out.String(), "no newline at the end") {
		t.Fatalf("read back %q", out.String())
	}
}

// A logger that cannot write still reads its pipes, so the container is
// never blocked on a full pipe, and says why it failed.
func TestLoggerProgramCannotWrite(t *testing.T) {
	s := startShimLike(t, "--path", "/dev/null/cannot/0.log")
	chunk := bytes.Repeat([]byte("x"), 1<<10)
	chunk[len(chunk)-1] = '\n'
	done := make(chan error, 1)
	go func() {
		var err error
		for range 1024 { // 1 MiB, far more than a pipe buffers
			if _, err = s.stdout.Write(chunk); err != nil {
				break
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("writing to the pipe: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the container's writes blocked")
	}
	if code := s.finish(t); code != 1 {
		t.Fatalf("logger exited %d, want 1", code)
	}
	if !strings.Contains(s.logErr.String(), "open log") && !strings.Contains(s.logErr.String(), "log dir") {
		t.Fatalf("logger said %q", s.logErr.String())
	}
}

func TestLoggerProgramBadArguments(t *testing.T) {
	s := startShimLike(t, "--bogus", "1")
	if code := s.finish(t); code != 1 {
		t.Fatalf("logger exited %d, want 1", code)
	}
}

func TestShimLoggerURI(t *testing.T) {
	c := ShimLogger{Binary: "/opt/berth/berth-logger", Limits: Limits{MaxSize: 1000}}.Creator("/var/log/berth/pods/ns_p_u/c/0.log")
	io, err := c("task-id")
	if err != nil {
		t.Fatal(err)
	}
	cfg := io.Config()
	for _, want := range []string{"binary:///opt/berth/berth-logger?", "--path=%2Fvar%2Flog%2Fberth%2Fpods%2Fns_p_u%2Fc%2F0.log", "--max-size=1000", "--max-files=5"} {
		if !strings.Contains(cfg.Stdout, want) {
			t.Errorf("stdout URI %q lacks %q", cfg.Stdout, want)
		}
	}
	if cfg.Stdout != cfg.Stderr {
		t.Errorf("stdout and stderr URIs differ: %q, %q", cfg.Stdout, cfg.Stderr)
	}
}
