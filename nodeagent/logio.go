package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/containerd/containerd/cio"
	"github.com/containerd/fifo"

	"github.com/berth-dev/berth/nodeagent/containerlog"
)

// Container output, as containerd's CRI plugin handles it: the shim writes
// a container's stdout and stderr into two FIFOs in the pod's run
// directory and the agent copies them into the attempt's log file (CRI
// format, rotation: containerlog.File). No process per container: a
// container costs the agent two goroutines and two 4 KiB buffers.
//
// While the agent is down the shim keeps the FIFOs open. What a container
// writes then waits in the kernel (its stdout pipe and the FIFO, 64 KiB
// each per stream); a container that writes more blocks in write(2) until
// an agent attaches again (adoption, on start) and copies it all. Output
// still buffered when a container exits while no agent runs is lost with
// the FIFO, as it is with containerd's CRI plugin while containerd is
// down. Where that matters, Config.LoggerBinary has the shim run
// berth-logger per container instead, which never depends on the agent.

// logBufSize is each stream's copy buffer.
const logBufSize = 4 << 10

// taskLog copies one task's FIFOs into its log file; it is the task's
// cio.IO.
type taskLog struct {
	fifos   *cio.FIFOSet
	readers []io.ReadCloser
	wg      sync.WaitGroup
}

// logCreator makes the IO of a new task: FIFOs under fifoDir copied into
// the log file at path.
func logCreator(fifoDir, path string) cio.Creator {
	return func(id string) (cio.IO, error) {
		fifos, err := cio.NewFIFOSetInDir(fifoDir, id, false)
		if err != nil {
			return nil, fmt.Errorf("log fifos: %w", err)
		}
		fifos.Stdin = "" // containers get no stdin
		l, err := openTaskLog(fifos, path, openNew)
		if err != nil {
			return nil, errors.Join(err, fifos.Close())
		}
		return l, nil
	}
}

// openNew opens a new task's FIFO for reading: the open completes when
// the shim opens the other end.
func openNew(path string) (io.ReadCloser, error) {
	return fifo.OpenFifo(context.Background(), path, syscall.O_RDONLY|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
}

// openExisting opens an adopted task's FIFO without waiting for a writer:
// if the shim still holds its end the copy goes on, if it has closed it
// (the task exited while no agent ran) the read ends at once.
func openExisting(path string) (io.ReadCloser, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// logAttach reattaches an adopted task's FIFOs (as containerd recorded
// them) to its log file. A task started with berth-logger has a binary://
// URI instead and gets no IO: its logger writes on its own.
func logAttach(path string) cio.Attach {
	return func(fifos *cio.FIFOSet) (cio.IO, error) {
		if fifos == nil || strings.Contains(fifos.Stdout, "://") || strings.Contains(fifos.Stderr, "://") {
			return nil, nil
		}
		l, err := openTaskLog(fifos, path, openExisting)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

func openTaskLog(fifos *cio.FIFOSet, path string, open func(string) (io.ReadCloser, error)) (*taskLog, error) {
	file, err := containerlog.Create(path, containerlog.Limits{}, nil)
	if err != nil {
		return nil, err
	}
	l := &taskLog{fifos: fifos}
	streams := []struct {
		path string
		s    containerlog.Stream
	}{{fifos.Stdout, containerlog.Stdout}, {fifos.Stderr, containerlog.Stderr}}
	for _, st := range streams {
		if st.path == "" {
			continue
		}
		r, err := open(st.path)
		if err != nil {
			_ = l.Close()
			return nil, errors.Join(fmt.Errorf("open log fifo: %w", err), file.Close())
		}
		l.readers = append(l.readers, r)
	}
	// The file closes once both streams ended (the shim closed its ends:
	// the task exited, or the reader was closed).
	var left atomic.Int32
	left.Store(int32(len(l.readers)))
	if len(l.readers) == 0 {
		_ = file.Close()
	}
	for i, r := range l.readers {
		w := file.Stream(streams[i].s)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			copyLog(w, r)
			if left.Add(-1) == 0 {
				_ = file.Close()
			}
		}()
	}
	return l, nil
}

// copyLog copies r into w until r ends, then closes both (w writes out a
// last unterminated line). Once w fails, r is still drained so the
// container never blocks on a full pipe.
func copyLog(w io.WriteCloser, r io.ReadCloser) {
	buf := make([]byte, logBufSize)
	var werr error
	for {
		n, err := r.Read(buf)
		if n > 0 && werr == nil {
			_, werr = w.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	_ = w.Close()
	_ = r.Close()
}

func (l *taskLog) Config() cio.Config { return l.fifos.Config }

// Cancel has nothing to stop: the copies end when the shim closes its ends.
func (l *taskLog) Cancel() {}

// Wait returns once both streams were copied to the end.
func (l *taskLog) Wait() { l.wg.Wait() }

// Close stops the copies and removes the FIFOs.
func (l *taskLog) Close() error {
	var errs []error
	for _, r := range l.readers {
		errs = append(errs, r.Close())
	}
	return errors.Join(append(errs, l.fifos.Close())...)
}

// detach stops copying but leaves the FIFOs for the next agent to attach
// to: for an agent that stops while its pods keep running.
func (l *taskLog) detach() {
	for _, r := range l.readers {
		_ = r.Close()
	}
}

// detachLogs detaches the logs of the pod's running tasks.
func (w *podWorker) detachLogs() {
	for _, c := range w.ctrs {
		if c.task == nil {
			continue
		}
		if l, ok := c.task.task.IO().(*taskLog); ok {
			l.detach()
		}
	}
}
