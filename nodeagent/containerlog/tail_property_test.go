package containerlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Reading a tail from the end gives exactly the last lines of reading
// everything, whatever the lines and however they are spread over
// rotated files.
func TestTailMatchesFullRead(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "tailprop-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "0.log")
		files := rapid.IntRange(1, 4).Draw(rt, "files")
		for i := files - 1; i >= 0; i-- {
			var b strings.Builder
			for _, l := range rapid.SliceOfN(rapid.StringMatching(`[a-z ]{0,40}`), 0, 30).Draw(rt, "lines") {
				b.WriteString(l + "\n")
			}
			name := path
			if i > 0 {
				name = RotatedPath(path, i)
			} else if rapid.Bool().Draw(rt, "unterminated") {
				b.WriteString("tail-piece")
			}
			if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
				rt.Fatal(err)
			}
		}
		var full bytes.Buffer
		if err := Read(context.Background(), &full, dir, ReadOptions{}); err != nil {
			rt.Fatal(err)
		}
		all := strings.SplitAfter(full.String(), "\n")
		if all[len(all)-1] == "" {
			all = all[:len(all)-1]
		}
		n := rapid.IntRange(1, 100).Draw(rt, "tail")
		var tail bytes.Buffer
		if err := Read(context.Background(), &tail, dir, ReadOptions{Tail: n}); err != nil {
			rt.Fatal(err)
		}
		want := strings.Join(all[max(len(all)-n, 0):], "")
		if tail.String() != want {
			rt.Fatalf("tail %d = %q, want %q", n, tail.String(), want)
		}
	})
}
