package nodeagent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func newWriter(t *testing.T) *atomicWriter {
	t.Helper()
	return &atomicWriter{dir: t.TempDir(), now: time.Now, gid: -1}
}

func readVisible(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		err := filepath.WalkDir(filepath.Join(dir, e.Name())+"/", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
			return nil
		})
		if err != nil {
			// a plain file behind a symlink: WalkDir of "name/" fails
			b, rerr := os.ReadFile(filepath.Join(dir, e.Name()))
			if rerr != nil {
				t.Fatalf("read %s: %v / %v", e.Name(), err, rerr)
			}
			out[e.Name()] = string(b)
		}
	}
	return out
}

func TestAtomicWriterVersions(t *testing.T) {
	tests := []struct {
		name        string
		first       map[string]fileProjection
		second      map[string]fileProjection
		wantChanged bool
		want        map[string]string
	}{
		{
			name:        "same payload twice changes nothing",
			first:       map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}},
			second:      map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}},
			wantChanged: false,
			want:        map[string]string{"a": "1"},
		},
		{
			name:        "content change",
			first:       map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}},
			second:      map[string]fileProjection{"a": {Data: []byte("2"), Mode: 0o644}},
			wantChanged: true,
			want:        map[string]string{"a": "2"},
		},
		{
			name:        "mode change alone",
			first:       map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}},
			second:      map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o400}},
			wantChanged: true,
			want:        map[string]string{"a": "1"},
		},
		{
			name:        "key removed, nested key added",
			first:       map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "b": {Data: []byte("x"), Mode: 0o644}},
			second:      map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "d/e/f": {Data: []byte("deep"), Mode: 0o600}},
			wantChanged: true,
			want:        map[string]string{"a": "1", "d/e/f": "deep"},
		},
		{
			name:        "to empty",
			first:       map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}},
			second:      map[string]fileProjection{},
			wantChanged: true,
			want:        map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriter(t)
			if changed, err := w.write(tc.first); err != nil || !changed {
				t.Fatalf("first write: changed=%v err=%v", changed, err)
			}
			changed, err := w.write(tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tc.wantChanged)
			}
			got := readVisible(t, w.dir)
			if len(got) != len(tc.want) {
				t.Fatalf("visible files %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("file %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			for p, fp := range tc.second {
				st, err := os.Stat(filepath.Join(w.dir, p))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != fp.Mode {
					t.Fatalf("%s mode %v, want %v", p, st.Mode().Perm(), fp.Mode)
				}
			}
			// Exactly one timestamped dir remains, the one ..data names.
			target, err := os.Readlink(filepath.Join(w.dir, dataDirName))
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(w.dir)
			for _, e := range entries {
				n := e.Name()
				if strings.HasPrefix(n, "..") && n != dataDirName && n != target {
					t.Fatalf("left behind %s (current %s)", n, target)
				}
				if !strings.HasPrefix(n, "..") {
					l, err := os.Readlink(filepath.Join(w.dir, n))
					if err != nil || !strings.HasPrefix(l, dataDirName+"/") {
						t.Fatalf("%s is not a link into ..data: %q %v", n, l, err)
					}
				}
			}
		})
	}
}

func TestAtomicWriterRefusesBadPaths(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{name: "absolute", path: "/etc/passwd"},
		{name: "parent", path: "../x"},
		{name: "parent inside", path: "a/../../x"},
		{name: "writer's own name", path: "..data"},
		{name: "dot-dot prefix", path: "..2026_x"},
		{name: "empty", path: ""},
		{name: "long element", path: strings.Repeat("a", 256)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriter(t)
			if _, err := w.write(map[string]fileProjection{tc.path: {Data: []byte("x"), Mode: 0o644}}); err == nil {
				t.Fatalf("path %q accepted", tc.path)
			}
		})
	}
	w := newWriter(t)
	if _, err := w.write(map[string]fileProjection{"a": {Mode: 0o644}, "a/b": {Mode: 0o644}}); err == nil {
		t.Fatal("a path that is both file and directory was accepted")
	}
}

func TestAtomicWriterFSGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	w := newWriter(t)
	w.gid = 4321
	if _, err := w.write(map[string]fileProjection{"k": {Data: []byte("v"), Mode: 0o400}, "d/k2": {Data: []byte("v"), Mode: 0o600}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"k", "d/k2", "d"} {
		st, err := os.Stat(filepath.Join(w.dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if gid := st.Sys().(*syscall.Stat_t).Gid; gid != 4321 {
			t.Fatalf("%s group %d, want 4321", p, gid)
		}
		if !st.IsDir() && st.Mode().Perm()&0o040 == 0 {
			t.Fatalf("%s mode %v: not group-readable", p, st.Mode())
		}
	}
	// Written again unchanged: the group-readable mode counts as the same.
	if changed, err := w.write(map[string]fileProjection{"k": {Data: []byte("v"), Mode: 0o400}, "d/k2": {Data: []byte("v"), Mode: 0o600}}); err != nil || changed {
		t.Fatalf("rewrite: changed=%v err=%v", changed, err)
	}
}

// TestAtomicWriterReadersSeeWholeVersions flips between two versions of
// two files while readers read them: a reader that resolves ..data once
// sees both files of one version, and a file read through its link is
// always one whole version.
func TestAtomicWriterReadersSeeWholeVersions(t *testing.T) {
	w := newWriter(t)
	big := func(c string) string { return strings.Repeat(c, 64*1024) }
	versions := []map[string]fileProjection{
		{"a": {Data: []byte(big("1")), Mode: 0o644}, "b": {Data: []byte(big("1")), Mode: 0o644}},
		{"a": {Data: []byte(big("2")), Mode: 0o644}, "b": {Data: []byte(big("2")), Mode: 0o644}},
	}
	if _, err := w.write(versions[0]); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var bad atomic.Value
	var reads atomic.Int64
	var wg sync.WaitGroup
	whole := func(s string) bool { return s == big("1") || s == big("2") }
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				a, err := os.ReadFile(filepath.Join(w.dir, "a"))
				if err == nil && !whole(string(a)) {
					bad.Store("a read through its link was not one whole version")
				}
				target, err := os.Readlink(filepath.Join(w.dir, dataDirName))
				if err != nil {
					continue
				}
				x, err1 := os.ReadFile(filepath.Join(w.dir, target, "a"))
				y, err2 := os.ReadFile(filepath.Join(w.dir, target, "b"))
				if errors.Is(err1, fs.ErrNotExist) || errors.Is(err2, fs.ErrNotExist) {
					continue // that version was removed after we resolved it
				}
				if string(x) != string(y) {
					bad.Store("one resolved version held files of two versions")
				}
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if _, err := w.write(versions[(i+1)%2]); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
	if reads.Load() == 0 {
		t.Fatal("readers read nothing")
	}
}
