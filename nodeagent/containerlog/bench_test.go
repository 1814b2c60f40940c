package containerlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLogger pushes 32 MiB of 100-byte lines through the berth-logger
// program as a busy container would (default 10 MiB cap, so it rotates),
// and reports its throughput and its peak resident memory, which is paid
// once per running container.
func BenchmarkLogger(b *testing.B) {
	const total = 32 << 20
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	for b.Loop() {
		dir := b.TempDir()
		s := startShimLike(b, "--path", filepath.Join(dir, "0.log"))
		w := bufio.NewWriterSize(s.stdout, 64<<10)
		start := time.Now()
		for written := 0; written < total; written += len(line) {
			if _, err := w.Write(line); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		peak := peakRSS(s.cmd.Process.Pid)
		if code := s.finish(b); code != 0 {
			b.Fatalf("logger exited %d: %s", code, s.logErr.String())
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(total)/(1<<20)/elapsed.Seconds(), "MB/s")
		b.ReportMetric(float64(total/len(line))/elapsed.Seconds(), "lines/s")
		b.ReportMetric(float64(peak)/1024, "logger-peak-MB")
	}
}

// peakRSS reads a process's peak resident set (VmHWM) in KiB.
func peakRSS(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// BenchmarkReadTail reads the last 100 lines of a full attempt (five
// 10 MiB files), what `berth agent logs --tail 100` does.
func BenchmarkReadTail(b *testing.B) {
	dir := b.TempDir()
	f, err := Create(filepath.Join(dir, "0.log"), Limits{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := f.Stream(Stdout)
	line := append(bytes.Repeat([]byte("y"), 99), '\n')
	for written := 0; written < 50<<20; written += len(line) {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	for b.Loop() {
		start := time.Now()
		if err := Read(context.Background(), io.Discard, dir, ReadOptions{Tail: 100}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "tail100-ms")
	}
}
