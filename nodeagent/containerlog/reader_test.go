package containerlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// writeAttempt writes lines to one attempt's log: "o:" lines to stdout,
// "e:" lines to stderr, "p:" as an unfinished stdout line; each a second
// after the one before, from start.
func writeAttempt(t *testing.T, dir string, attempt int, start time.Time, lines ...string) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(start)
	f, err := Create(filepath.Join(dir, fmt.Sprintf("%d.log", attempt)), Limits{}, clk)
	if err != nil {
		t.Fatal(err)
	}
	out, errw := f.Stream(Stdout), f.Stream(Stderr)
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "o:"):
			fmt.Fprintln(out, l[2:])
		case strings.HasPrefix(l, "e:"):
			fmt.Fprintln(errw, l[2:])
		case strings.HasPrefix(l, "p:"):
			fmt.Fprint(out, l[2:])
			out.Close()
		}
		clk.SetTime(clk.Now().Add(time.Second))
	}
	f.Close()
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	writeAttempt(t, dir, 0, t0, "o:zero-a", "o:zero-b")
	writeAttempt(t, dir, 1, t0.Add(time.Hour), "o:one", "e:two", "o:three", "p:four-", "o:five")

	tests := []struct {
		name    string
		opts    ReadOptions
		want    string
		wantErr error
	}{
		{name: "latest attempt, both streams", want: "one\ntwo\nthree\nfour-five\n"},
		{name: "previous", opts: ReadOptions{Previous: true}, want: "zero-a\nzero-b\n"},
		{name: "tail counts file lines", opts: ReadOptions{Tail: 2}, want: "four-five\n"},
		{name: "tail of 3", opts: ReadOptions{Tail: 3}, want: "three\nfour-five\n"},
		{name: "tail longer than the log", opts: ReadOptions{Tail: 100}, want: "one\ntwo\nthree\nfour-five\n"},
		{name: "since", opts: ReadOptions{Since: t0.Add(time.Hour + 2*time.Second)}, want: "three\nfour-five\n"},
		{name: "limit bytes", opts: ReadOptions{LimitBytes: 6}, want: "one\ntw"},
		{
			name: "timestamps at the start of each line only",
			opts: ReadOptions{Timestamps: true, Tail: 3},
			want: "2025-06-01T11:00:02.000000000Z three\n2025-06-01T11:00:03.000000000Z four-five\n",
		},
		{name: "follow on the previous attempt just reads it", opts: ReadOptions{Previous: true, Follow: true}, want: "zero-a\nzero-b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Read(context.Background(), &out, dir, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tt.wantErr)
			}
			if out.String() != tt.want {
				t.Fatalf("Read wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	one := t.TempDir()
	writeAttempt(t, one, 0, t0, "o:x")
	tests := []struct {
		name string
		dir  string
		opts ReadOptions
	}{
		{name: "no logs", dir: t.TempDir()},
		{name: "missing dir", dir: filepath.Join(t.TempDir(), "nope")},
		{name: "no previous attempt", dir: one, opts: ReadOptions{Previous: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Read(context.Background(), &bytes.Buffer{}, tt.dir, tt.opts); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read error = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestReadPlainFile(t *testing.T) {
	dir := t.TempDir()
	// What cio.LogFile leaves: raw output, no framing.
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte("plain one\nplain two\nno newline"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Read(context.Background(), &out, dir, ReadOptions{Timestamps: true}); err != nil {
		t.Fatal(err)
	}
	if want := "plain one\nplain two\nno newline\n"; out.String() != want {
		t.Fatalf("Read wrote %q, want %q", out.String(), want)
	}
}

// syncBuffer is a bytes.Buffer a follower writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForWaiters waits, bounded, until the follower sleeps on the fake
// clock, so a step cannot race it getting there.
func waitForWaiters(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	for range 10000 {
		if clk.HasWaiters() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the follower never waited on the clock")
}

// follower runs Read with Follow in the background on a fake clock.
type follower struct {
	t    *testing.T
	clk  *clocktesting.FakeClock
	out  *syncBuffer
	done chan error
	stop context.CancelFunc
}

func follow(t *testing.T, dir string, opts ReadOptions) *follower {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	opts.Follow = true
	opts.Clock = clk
	opts.PollInterval = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{t: t, clk: clk, out: &syncBuffer{}, done: make(chan error, 1), stop: cancel}
	go func() { f.done <- Read(ctx, f.out, dir, opts) }()
	t.Cleanup(cancel)
	return f
}

// poll lets the follower take one more look and waits until it has.
func (f *follower) poll() {
	f.t.Helper()
	waitForWaiters(f.t, f.clk)
	f.clk.Step(time.Second)
	waitForWaiters(f.t, f.clk)
}

func (f *follower) want(s string) {
	f.t.Helper()
	if got := f.out.String(); got != s {
		f.t.Fatalf("follower wrote %q, want %q", got, s)
	}
}

func (f *follower) wantDone() {
	f.t.Helper()
	select {
	case err := <-f.done:
		if err != nil {
			f.t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		f.t.Fatal("follow did not end")
	}
}

// appendLines writes more stdout lines to an attempt through a File, as
// the logger would while the follower watches.
func appendLines(t *testing.T, f *File, lines ...string) {
	t.Helper()
	w := f.Stream(Stdout)
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFollow(t *testing.T) {
	t.Run("new lines appear, context cancel ends it", func(t *testing.T) {
		dir := t.TempDir()
		f, err := Create(filepath.Join(dir, "0.log"), Limits{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		appendLines(t, f, "a")
		fl := follow(t, dir, ReadOptions{})
		waitForWaiters(t, fl.clk)
		fl.want("a\n")
		appendLines(t, f, "b", "c")
		fl.poll()
		fl.want("a\nb\nc\n")
		fl.stop()
		fl.wantDone()
	})

	t.Run("an unfinished line waits for its end", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "0.log")
		line := string(appendEntry(nil, t0, Stdout, false, []byte("whole")))
		if err := os.WriteFile(path, []byte(line[:10]), 0o644); err != nil {
			t.Fatal(err)
		}
		fl := follow(t, dir, ReadOptions{})
		waitForWaiters(t, fl.clk)
		fl.want("")
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(line[10:])
		w.Close()
		fl.poll()
		fl.want("whole\n")
	})

	t.Run("a restart ends it", func(t *testing.T) {
		dir := t.TempDir()
		writeAttempt(t, dir, 0, t0, "o:first run")
		fl := follow(t, dir, ReadOptions{})
		waitForWaiters(t, fl.clk)
		writeAttempt(t, dir, 1, t0, "o:second run")
		fl.poll2()
		fl.wantDone()
		fl.want("first run\n")
	})

	t.Run("Running false ends it after the last lines", func(t *testing.T) {
		dir := t.TempDir()
		f, err := Create(filepath.Join(dir, "0.log"), Limits{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var running atomic.Bool
		running.Store(true)
		fl := follow(t, dir, ReadOptions{Running: running.Load})
		waitForWaiters(t, fl.clk)
		appendLines(t, f, "last words")
		running.Store(false)
		fl.poll2()
		fl.wantDone()
		fl.want("last words\n")
	})

	t.Run("rotation between polls loses nothing", func(t *testing.T) {
		dir := t.TempDir()
		f, err := Create(filepath.Join(dir, "0.log"), Limits{MaxSize: 150, MaxFiles: 5}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		appendLines(t, f, "line-00")
		fl := follow(t, dir, ReadOptions{})
		waitForWaiters(t, fl.clk)
		var want strings.Builder
		want.WriteString("line-00\n")
		// Enough for three rotations before the follower looks again.
		for i := 1; i <= 10; i++ {
			l := fmt.Sprintf("line-%02d", i)
			appendLines(t, f, l)
			want.WriteString(l + "\n")
		}
		if rot := rotatedFiles(f.Path()); len(rot) < 2 {
			t.Fatalf("test wants several rotations, got %v", rot)
		}
		fl.poll()
		fl.want(want.String())
	})
}

// poll2 steps the clock once and waits for the follower to end or sleep.
func (f *follower) poll2() {
	f.t.Helper()
	waitForWaiters(f.t, f.clk)
	f.clk.Step(time.Second)
}
