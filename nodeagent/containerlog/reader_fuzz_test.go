package containerlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary bytes as a container's current and rotated log
// files, which the container (a stranger's image) writes through the
// shim, to Read with arbitrary tail, byte limit and timestamps: it never
// fails or panics on a log that exists, never writes more than
// LimitBytes, and writes no more lines than the files hold.
func FuzzRead(f *testing.F) {
	f.Add([]byte("2025-01-02T03:04:05.123456789Z stdout F old\n"), []byte("2025-01-02T03:04:06Z stdout P a\n2025-01-02T03:04:06Z stdout F b\nplain\n"), 0, int64(0), false)
	f.Add([]byte(""), []byte("2025-01-02T03:04:06Z stderr P no end"), 2, int64(5), true)
	f.Add([]byte("\n\n\n"), []byte("x stdout F \n\x00\xff\n"), 1, int64(1), true)
	f.Add([]byte("2025-01-02T03:04:06Z stdout P "+string(bytes.Repeat([]byte("p"), 300))), []byte(""), 100, int64(-1), false)
	f.Fuzz(func(t *testing.T, rotated, current []byte, tail int, limit int64, timestamps bool) {
		dir := t.TempDir()
		if len(rotated) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "0.log.1"), rotated, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "0.log"), current, 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := Read(context.Background(), &out, dir, ReadOptions{Tail: tail, LimitBytes: limit, Timestamps: timestamps})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if limit > 0 && int64(out.Len()) > limit {
			t.Fatalf("wrote %d bytes, limit %d", out.Len(), limit)
		}
		in := bytes.Count(rotated, []byte("\n")) + bytes.Count(current, []byte("\n")) + 2
		if n := bytes.Count(out.Bytes(), []byte("\n")); n > in {
			t.Fatalf("wrote %d lines from files of at most %d", n, in)
		}
	})
}
