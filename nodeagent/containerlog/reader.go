package containerlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/utils/clock"
)

// DefaultPollInterval is how often a follower looks for new output.
const DefaultPollInterval = 250 * time.Millisecond

// timeFormatOut is the kubelet's timestamp prefix (fixed nine digits, so
// columns line up).
const timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"

// ReadOptions choose what Read writes; the zero value writes the whole
// log of the latest attempt and returns.
type ReadOptions struct {
	// Previous reads the attempt before the latest (kubectl --previous).
	Previous bool
	// Tail, if positive, starts at the Tail-th line from the end of the
	// file (a piece of a split line counts as a line, as in the kubelet).
	Tail int
	// Since skips lines written before it, among those Tail leaves. Plain
	// lines, which carry no time, are always written.
	Since time.Time
	// LimitBytes, if positive, stops after that many bytes of output.
	LimitBytes int64
	// Timestamps prefixes each line with the time it was written.
	Timestamps bool
	// Follow keeps writing new lines as they come until ctx ends, the
	// attempt is succeeded by a newer one (the container restarted), or
	// Running reports false.
	Follow bool
	// Running, if set, tells a follower whether the container still runs;
	// once it does not, the follower writes what is left and returns.
	Running func() bool
	// PollInterval is how often a follower looks for more; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Clock paces the follower; nil means the real clock.
	Clock clock.Clock
}

// errLimit ends a read that reached LimitBytes.
var errLimit = errors.New("byte limit reached")

// Read writes the log of the container whose attempts are in
// containerDir (Pod.ContainerDir) to w, the way `kubectl logs` shows it:
// the lines' content, one per line, partial lines joined.
func Read(ctx context.Context, w io.Writer, containerDir string, opts ReadOptions) error {
	attempts, err := Attempts(containerDir)
	if err != nil {
		return err
	}
	if len(attempts) == 0 {
		return fmt.Errorf("%w: no logs in %s", ErrNotFound, containerDir)
	}
	attempt := attempts[len(attempts)-1]
	if opts.Previous {
		if len(attempts) < 2 {
			return fmt.Errorf("%w: previous terminated container not found", ErrNotFound)
		}
		attempt = attempts[len(attempts)-2]
		opts.Follow = false
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	r := &reader{
		out:     w,
		opts:    opts,
		dir:     containerDir,
		attempt: attempt,
		path:    filepath.Join(containerDir, strconv.Itoa(attempt)+".log"),
		newLine: true,
		remain:  opts.LimitBytes,
	}
	err = r.run(ctx)
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

type reader struct {
	out     io.Writer
	opts    ReadOptions
	dir     string
	attempt int
	path    string

	newLine bool  // the last entry written ended a line
	remain  int64 // bytes left under LimitBytes, if set
}

func (r *reader) run(ctx context.Context) error {
	// Rotated files first, oldest first, then the current one; a tail
	// starts part way.
	files := append(rotatedFiles(r.path), r.path)
	first, offset := 0, int64(0)
	if r.opts.Tail > 0 {
		var err error
		if first, offset, err = tailStart(files, r.opts.Tail); err != nil {
			return err
		}
	}
	for i := first; i < len(files)-1; i++ {
		if err := r.readFile(files[i], offset); err != nil {
			return err
		}
		offset = 0
	}
	cur, err := os.Open(r.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open log: %w", err)
	}
	if cur != nil {
		defer func() { cur.Close() }()
	}
	var pending []byte
	if cur != nil {
		if offset > 0 {
			if _, err := cur.Seek(offset, io.SeekStart); err != nil {
				return fmt.Errorf("read log: %w", err)
			}
		}
		if pending, err = r.drain(cur, nil); err != nil {
			return err
		}
	}
	if !r.opts.Follow {
		return r.flush(pending)
	}

	for {
		// Rotated under us: finish the old file, catch up on any file
		// rotated since, then carry on with the new one.
		if cur != nil && replaced(cur, r.path) {
			if pending, err = r.drain(cur, pending); err != nil {
				return err
			}
			for _, p := range rotatedSince(r.path, cur) {
				if err := r.flush(pending); err != nil {
					return err
				}
				pending = nil
				if err := r.readFile(p, 0); err != nil {
					return err
				}
			}
			cur.Close()
			cur = nil
		}
		if cur == nil {
			if cur, err = os.Open(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open log: %w", err)
			}
		}
		if cur != nil {
			if pending, err = r.drain(cur, pending); err != nil {
				return err
			}
		}
		if r.finished() {
			if cur != nil {
				if pending, err = r.drain(cur, pending); err != nil {
					return err
				}
			}
			return r.flush(pending)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.opts.Clock.After(r.opts.PollInterval):
		}
	}
}

// finished reports whether a follower has nothing more to wait for.
func (r *reader) finished() bool {
	if r.opts.Running != nil && !r.opts.Running() {
		return true
	}
	attempts, err := Attempts(r.dir)
	return err == nil && len(attempts) > 0 && attempts[len(attempts)-1] > r.attempt
}

// readFile writes a (rotated) file from offset to its end.
func (r *reader) readFile(path string, offset int64) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // rotated away meanwhile
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	pending, err := r.drain(f, nil)
	if err != nil {
		return err
	}
	return r.flush(pending)
}

// drain writes every complete line from f's offset to its end and
// returns the unterminated rest, to be completed by a later read.
func (r *reader) drain(f *os.File, pending []byte) ([]byte, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if chunk[len(chunk)-1] == '\n' {
				line := chunk[:len(chunk)-1]
				if len(pending) > 0 {
					line = append(pending, line...)
					pending = pending[:0]
				}
				if werr := r.entry(ParseLine(line)); werr != nil {
					return nil, werr
				}
			} else {
				pending = append(pending, chunk...)
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return pending, nil
		default:
			return nil, fmt.Errorf("read log: %w", err)
		}
	}
}

// flush writes an unterminated last line as it stands.
func (r *reader) flush(pending []byte) error {
	if len(pending) == 0 {
		return nil
	}
	return r.entry(ParseLine(pending))
}

func (r *reader) entry(e Entry) error {
	if !r.opts.Since.IsZero() && !e.Time.IsZero() && e.Time.Before(r.opts.Since) {
		return nil
	}
	return r.write(e)
}

func (r *reader) write(e Entry) error {
	var line []byte
	if r.opts.Timestamps && r.newLine && !e.Time.IsZero() {
		line = append(e.Time.UTC().AppendFormat(line, timeFormatOut), ' ')
	}
	line = append(line, e.Content...)
	if !e.Partial {
		line = append(line, '\n')
	}
	r.newLine = !e.Partial
	limited := false
	if r.opts.LimitBytes > 0 && int64(len(line)) >= r.remain {
		line = line[:r.remain]
		limited = true
	}
	n, err := r.out.Write(line)
	r.remain -= int64(n)
	if err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	if limited {
		return errLimit
	}
	return nil
}

// tailStart finds where the last n lines of files (oldest first) begin,
// reading backwards from the end a block at a time, as the kubelet does,
// so a tail of a full log costs what it shows, not the log's size. An
// unterminated last piece counts as a line.
func tailStart(files []string, n int) (int, int64, error) {
	const block = 32 << 10
	buf := make([]byte, block)
	seen := 0 // line ends found so far, from the end
	lastByte := true
	for i := len(files) - 1; i >= 0; i-- {
		f, err := os.Open(files[i])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("open log: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return 0, 0, fmt.Errorf("read log: %w", err)
		}
		for end := st.Size(); end > 0; {
			start := max(end-block, 0)
			chunk := buf[:end-start]
			if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
				f.Close()
				return 0, 0, fmt.Errorf("read log: %w", err)
			}
			for j := len(chunk) - 1; j >= 0; j-- {
				if lastByte {
					lastByte = false
					if chunk[j] != '\n' {
						seen++ // the unterminated piece is a line of its own
					}
				}
				if chunk[j] != '\n' {
					continue
				}
				// This newline ends line number seen+1 from the end; the
				// n-th line starts right after the (n+1)-th.
				if seen == n {
					f.Close()
					return i, start + int64(j) + 1, nil
				}
				seen++
			}
			end = start
		}
		f.Close()
	}
	return 0, 0, nil
}

// rotatedFiles lists path.N files, oldest (highest N) first.
func rotatedFiles(path string) []string {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	prefix := filepath.Base(path) + "."
	var ns []int
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(suffix); err == nil && n > 0 {
			ns = append(ns, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ns)))
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = RotatedPath(path, n)
	}
	return out
}

func inode(fi os.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

// replaced reports whether path now names another file than f.
func replaced(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false // not recreated yet; keep reading the old one
	}
	return !os.SameFile(a, b)
}

// rotatedSince lists the files rotated after f (which is now one of the
// rotated files), oldest first: what a follower missed between polls.
func rotatedSince(path string, f *os.File) []string {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	ino, ok := inode(fi)
	if !ok {
		return nil
	}
	files := rotatedFiles(path) // oldest first
	for i, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if n, ok := inode(st); ok && n == ino {
			return files[i+1:]
		}
	}
	// f was rotated out of the kept files altogether; all the kept ones
	// are newer.
	return files
}
