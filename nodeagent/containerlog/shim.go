package containerlog

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/cio"
)

// Arguments of the logger program. containerd passes a binary:// URI's
// query as "key value" pairs in no fixed order, so they are flags.
const (
	argPath     = "--path"
	argMaxSize  = "--max-size"
	argMaxFiles = "--max-files"
)

// BinaryName is the logger program's file name; installed beside berth.
const BinaryName = "berth-logger"

// DefaultBinary is where the logger program is expected: beside the
// running executable, as `just build` puts berth and berth-logger.
func DefaultBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", BinaryName, err)
	}
	return filepath.Join(filepath.Dir(exe), BinaryName), nil
}

// ShimLogger makes containerd IO that has the runc shim run the logger
// program (see package comment) for a task.
type ShimLogger struct {
	// Binary is the absolute path of the berth-logger program.
	Binary string
	Limits Limits
}

// Creator is the cio.Creator for a task whose output goes to the log file
// at path (Pod.Path): pass it to container.NewTask. An agent that adopts
// the task later loads it without IO (container.Task(ctx, nil)); the
// logger is the shim's, not the agent's.
func (s ShimLogger) Creator(path string) cio.Creator {
	l := s.Limits.withDefaults()
	return cio.BinaryIO(s.Binary, map[string]string{
		argPath:     path,
		argMaxSize:  strconv.FormatInt(l.MaxSize, 10),
		argMaxFiles: strconv.Itoa(l.MaxFiles),
	})
}

// The descriptors the shim hands its logging binary (containerd
// pkg/process NewBinaryIO): the container's stdout and stderr pipes, and a
// pipe to close once the logger is ready to read.
const (
	fdStdout = 3
	fdStderr = 4
	fdReady  = 5
)

// drainAfterTerm bounds how long the logger keeps reading after SIGTERM
// (the shim closes its pipes first, so it is normally at EOF already);
// the shim kills it after 12 s.
const drainAfterTerm = 5 * time.Second

// ServeShim is the logger program: it parses args (the binary:// query),
// signals the shim that it is ready, copies fds 3 and 4 into the log file
// as stdout and stderr lines until both end or SIGTERM, and returns the
// exit code. If the file cannot be opened it still drains the pipes, so
// the container never blocks on a full pipe, and returns 1.
func ServeShim(args []string, stderr io.Writer) int {
	// Catch SIGTERM before telling the shim we are ready: it may come as
	// soon as the task is deleted, and must not cost the last lines.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(term)

	fs := flag.NewFlagSet("berth-logger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String(argPath[2:], "", "log file")
	maxSize := fs.Int64(argMaxSize[2:], DefaultMaxSize, "rotate past this size")
	maxFiles := fs.Int(argMaxFiles[2:], DefaultMaxFiles, "files kept")
	parseErr := fs.Parse(args)

	stdout := os.NewFile(fdStdout, "stdout")
	stderrPipe := os.NewFile(fdStderr, "stderr")
	ready := os.NewFile(fdReady, "ready")

	var file *File
	err := parseErr
	if err == nil && *path == "" {
		err = errors.New("no --path")
	}
	if err == nil {
		file, err = Create(*path, Limits{MaxSize: *maxSize, MaxFiles: *maxFiles}, nil)
	}
	if ready != nil {
		ready.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth-logger: %v\n", err)
	}
	code := copyStreams(file, stdout, stderrPipe, term)
	if err != nil {
		return 1
	}
	return code
}

// copyStreams copies the two pipes into file (or nowhere if file is nil)
// until both reach EOF, or SIGTERM plus a bounded drain.
func copyStreams(file *File, stdout, stderr *os.File, term <-chan os.Signal) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := false
	pump := func(src *os.File, s Stream) {
		defer wg.Done()
		if src == nil {
			return
		}
		var dst io.WriteCloser = nopWriteCloser{io.Discard}
		if file != nil {
			dst = file.Stream(s)
		}
		_, err := io.Copy(dst, src)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			mu.Lock()
			failed = true
			mu.Unlock()
			// Keep the pipe drained even when the file is gone.
			_, _ = io.Copy(io.Discard, src)
		}
	}
	wg.Add(2)
	go pump(stdout, Stdout)
	go pump(stderr, Stderr)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-term:
		select {
		case <-done:
		case <-time.After(drainAfterTerm):
		}
	}
	if file != nil {
		if err := file.Close(); err != nil {
			failed = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if failed {
		return 1
	}
	return 0
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
