package containerlog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

func readEntries(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		e := ParseLine(bytes.Clone(sc.Bytes()))
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func render(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		tag := "F"
		if e.Partial {
			tag = "P"
		}
		content := string(e.Content)
		if len(content) > 20 {
			content = fmt.Sprintf("%s…(%d)", content[:5], len(content))
		}
		fmt.Fprintf(&b, "%s %s %s|", e.Stream, tag, content)
	}
	return b.String()
}

func TestStreamWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLineSize+10)
	tests := []struct {
		name   string
		writes []string
		close  bool
		want   string
	}{
		{name: "one line", writes: []string{"hello\n"}, want: "stdout F hello|"},
		{name: "line in pieces", writes: []string{"hel", "lo", "\n"}, want: "stdout F hello|"},
		{name: "several lines in one write", writes: []string{"a\nb\n\nc\n"}, want: "stdout F a|stdout F b|stdout F |stdout F c|"},
		{name: "unfinished line waits", writes: []string{"a\nb"}, want: "stdout F a|"},
		{name: "unfinished line on close is partial", writes: []string{"a\nb"}, close: true, want: "stdout F a|stdout P b|"},
		{name: "long line split", writes: []string{long + "\n"}, want: "stdout P xxxxx…(16384)|stdout F xxxxxxxxxx|"},
		{name: "long line written in small pieces", writes: []string{long[:100], long[100:], "\n"}, want: "stdout P xxxxx…(16384)|stdout F xxxxxxxxxx|"},
		{name: "exactly the limit is one full line", writes: []string{long[:MaxLineSize] + "\n"}, want: "stdout F xxxxx…(16384)|"},
		{name: "exactly the limit in pieces", writes: []string{long[:MaxLineSize], "\n"}, want: "stdout F xxxxx…(16384)|"},
		{name: "one past the limit in pieces", writes: []string{long[:MaxLineSize], "y", "\n"}, want: "stdout P xxxxx…(16384)|stdout F y|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			f, err := Create(path, Limits{}, clocktesting.NewFakePassiveClock(t0))
			if err != nil {
				t.Fatal(err)
			}
			w := f.Stream(Stdout)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if tt.close {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			es := readEntries(t, path)
			if got := render(es); got != tt.want {
				t.Fatalf("file holds %s, want %s", got, tt.want)
			}
			for _, e := range es {
				if !e.Time.Equal(t0) {
					t.Fatalf("entry time %v, want the clock's %v", e.Time, t0)
				}
			}
		})
	}
}

// Stdout and stderr written at once from two goroutines: every line
// arrives whole, once, in its stream's order.
func TestConcurrentStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := Create(path, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const lines = 2000
	var wg sync.WaitGroup
	for _, s := range []Stream{Stdout, Stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.Stream(s)
			for i := range lines {
				// Split each line over two writes to provoke interleaving.
				fmt.Fprintf(w, "%s line ", s)
				fmt.Fprintf(w, "%d\n", i)
			}
		}()
	}
	wg.Wait()
	f.Close()
	next := map[Stream]int{}
	for _, e := range readEntries(t, path) {
		want := fmt.Sprintf("%s line %d", e.Stream, next[e.Stream])
		if e.Partial || string(e.Content) != want {
			t.Fatalf("got %q (partial %v), want %q", e.Content, e.Partial, want)
		}
		next[e.Stream]++
	}
	if next[Stdout] != lines || next[Stderr] != lines {
		t.Fatalf("lines per stream = %v, want %d each", next, lines)
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name      string
		limits    Limits
		lines     int
		wantFiles []string
	}{
		{name: "under the cap", limits: Limits{MaxSize: 1 << 20, MaxFiles: 3}, lines: 10, wantFiles: []string{"0.log"}},
		{name: "rotates and keeps MaxFiles", limits: Limits{MaxSize: 200, MaxFiles: 3}, lines: 40, wantFiles: []string{"0.log", "0.log.1", "0.log.2"}},
		{name: "one file starts over", limits: Limits{MaxSize: 200, MaxFiles: 1}, lines: 40, wantFiles: []string{"0.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "0.log")
			f, err := Create(path, tt.limits, clocktesting.NewFakePassiveClock(t0))
			if err != nil {
				t.Fatal(err)
			}
			w := f.Stream(Stdout)
			for i := range tt.lines {
				fmt.Fprintf(w, "line %03d\n", i)
			}
			f.Close()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
				st, _ := e.Info()
				if st.Size() > tt.limits.MaxSize {
					t.Errorf("%s is %d bytes, over the %d cap", e.Name(), st.Size(), tt.limits.MaxSize)
				}
			}
			if strings.Join(names, " ") != strings.Join(tt.wantFiles, " ") {
				t.Fatalf("files = %v, want %v", names, tt.wantFiles)
			}
			// What is kept reads back in order and ends with the last line.
			var out bytes.Buffer
			if err := Read(t.Context(), &out, dir, ReadOptions{}); err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if got[len(got)-1] != fmt.Sprintf("line %03d", tt.lines-1) {
				t.Fatalf("last line read = %q", got[len(got)-1])
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("lines out of order: %q after %q", got[i], got[i-1])
				}
			}
			// A tail reaching back into rotated files.
			for _, n := range []int{1, 5, 25} {
				if n > len(got) {
					continue
				}
				out.Reset()
				if err := Read(t.Context(), &out, dir, ReadOptions{Tail: n}); err != nil {
					t.Fatal(err)
				}
				want := strings.Join(got[len(got)-n:], "\n") + "\n"
				if out.String() != want {
					t.Fatalf("tail %d = %q, want %q", n, out.String(), want)
				}
			}
		})
	}
}

func TestCreateContinuesAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "0.log")
	for _, word := range []string{"first", "second"} {
		f, err := Create(path, Limits{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f.Stream(Stdout), word)
		f.Close()
	}
	if got := render(readEntries(t, path)); got != "stdout F first|stdout F second|" {
		t.Fatalf("file holds %s", got)
	}
}

func TestWriteAfterClose(t *testing.T) {
	f, err := Create(filepath.Join(t.TempDir(), "0.log"), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := f.Stream(Stderr)
	f.Close()
	if _, err := w.Write([]byte("late\n")); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
}
