package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"k8s.io/utils/clock"
)

// The kubelet's defaults for the size cap (containerLogMaxSize,
// containerLogMaxFiles).
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

// Limits bound one attempt's log.
type Limits struct {
	// MaxSize is the size at which the file is rotated; 0 means
	// DefaultMaxSize.
	MaxSize int64
	// MaxFiles is how many files (the current one and rotated ones) are
	// kept; 0 means DefaultMaxFiles. With 1 the file starts over empty
	// when full.
	MaxFiles int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// File is one attempt's log file, open for appending. Lines from any
// number of stream writers are written whole, one at a time. It is safe
// for concurrent use.
type File struct {
	path   string
	limits Limits
	clock  clock.PassiveClock

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
	err  error // sticky: the first write or rotation error
}

// Create opens (or continues) the log file at path, making its directory.
// clk stamps the lines; nil means the real clock.
func Create(path string, limits Limits, clk clock.PassiveClock) (*File, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &File{path: path, limits: limits.withDefaults(), clock: clk, f: f, size: st.Size()}, nil
}

// Path is where the file is.
func (f *File) Path() string { return f.path }

// writeEntry appends one line, rotating first if it would overflow.
func (f *File) writeEntry(s Stream, partial bool, content []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.f == nil {
		return os.ErrClosed
	}
	f.buf = appendEntry(f.buf[:0], f.clock.Now(), s, partial, content)
	if f.size > 0 && f.size+int64(len(f.buf)) > f.limits.MaxSize {
		if err := f.rotateLocked(); err != nil {
			f.err = err
			return err
		}
	}
	n, err := f.f.Write(f.buf)
	f.size += int64(n)
	if err != nil {
		f.err = fmt.Errorf("write log: %w", err)
		return f.err
	}
	return nil
}

// RotatedPath is the name of the n-th most recent rotated file of the log
// at path (n from 1).
func RotatedPath(path string, n int) string { return path + "." + strconv.Itoa(n) }

// rotateLocked shifts path.1… up by one, dropping what falls past
// MaxFiles, renames the current file to path.1 and starts a new one.
// Renames keep a reader that holds the old file reading it to its end.
func (f *File) rotateLocked() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	f.f = nil
	keep := f.limits.MaxFiles - 1 // rotated files kept beside the current one
	if keep > 0 {
		if err := os.Remove(RotatedPath(f.path, keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
		for n := keep - 1; n >= 1; n-- {
			if err := os.Rename(RotatedPath(f.path, n), RotatedPath(f.path, n+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotate log: %w", err)
			}
		}
		if err := os.Rename(f.path, RotatedPath(f.path, 1)); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	} else if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate log: %w", err)
	}
	nf, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	f.f, f.size = nf, 0
	return nil
}

// Close closes the file. Stream writers should be closed first, so their
// last unfinished lines are kept.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// Stream returns a writer that splits what is written to it into lines of
// stream s and appends them to f. Each stream needs its own writer (one
// writer for both would interleave half lines); each writer is for one
// goroutine, while writers of one File may be used concurrently. Closing
// the writer writes a last unterminated line as a partial line and leaves
// f open.
func (f *File) Stream(s Stream) io.WriteCloser {
	return &streamWriter{file: f, stream: s}
}

type streamWriter struct {
	file    *File
	stream  Stream
	pending []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.pending = append(w.pending, p...)
			p = nil
		} else {
			line := p[:i]
			p = p[i+1:]
			if len(w.pending) > 0 {
				w.pending = append(w.pending, line...)
				line = w.pending
			}
			if err := w.emit(line, false); err != nil {
				return n - len(p), err
			}
			w.pending = w.pending[:0]
		}
		// A line longer than MaxLineSize goes out in partial pieces; one
		// of exactly that size may still end with the next byte.
		for len(w.pending) > MaxLineSize {
			if err := w.emit(w.pending[:MaxLineSize], true); err != nil {
				return n - len(p), err
			}
			w.pending = append(w.pending[:0], w.pending[MaxLineSize:]...)
		}
	}
	return n, nil
}

// emit writes a line, splitting one over MaxLineSize into partial pieces
// ending with the line's own tag.
func (w *streamWriter) emit(line []byte, partial bool) error {
	for len(line) > MaxLineSize {
		if err := w.file.writeEntry(w.stream, true, line[:MaxLineSize]); err != nil {
			return err
		}
		line = line[MaxLineSize:]
	}
	return w.file.writeEntry(w.stream, partial, line)
}

func (w *streamWriter) Close() error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.file.writeEntry(w.stream, true, w.pending)
	w.pending = w.pending[:0]
	return err
}
