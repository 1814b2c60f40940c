package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/berth-dev/berth/manifest"
)

// ErrReadOnly is returned for any write a renderer attempts.
var ErrReadOnly = errors.New("the repository tree is read-only to a render")

// ErrSymlink is returned when a render reaches a symlink: the tree of a
// commit may point anywhere with one, so none is followed.
var ErrSymlink = errors.New("symlinks are not followed by a render")

// treeFS presents the tree under root of an fs.FS to kustomize as its
// filesys.FileSystem: absolute paths ("/base/x.yaml") are paths under
// root, nothing can be written, symlinks are refused, reads are bounded,
// and every path looked at is recorded with what was found there, so a
// render can be reused while none of it changed.
type treeFS struct {
	fsys fs.FS
	root string // in fsys

	mu      sync.Mutex
	seen    map[string]string // fsys path → fingerprint at the time
	read    int64             // bytes read so far
	maxRead int64
	// rewrite, when set, may replace the content of a file read (used to
	// switch on origin annotations in the root kustomization).
	rewrite func(p string, data []byte) ([]byte, error)
	// refused is the first thing a render asked for and was refused:
	// kustomize reports a kustomization it could not read as missing, so
	// the real reason is kept here.
	refused error
	// closed is set when the render was abandoned (past its timeout):
	// nothing more is read, so a goroutine that outlives its render does
	// not touch a tree (a Git object store) that is in use again.
	closed bool
}

// errClosed is what an abandoned render's reads return.
var errClosed = errors.New("the render was abandoned")

func (t *treeFS) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

var _ filesys.FileSystem = (*treeFS)(nil)

func newTreeFS(fsys fs.FS, root string, maxRead int64) *treeFS {
	return &treeFS{fsys: fsys, root: root, seen: map[string]string{}, maxRead: maxRead}
}

// rel maps an absolute or relative kustomize path to an fsys path; ok is
// false for a path outside root.
func (t *treeFS) rel(p string) (string, bool) {
	p = filepath.ToSlash(p)
	c := path.Clean("/" + p)
	if c == "/" {
		return t.root, true
	}
	return path.Join(t.root, strings.TrimPrefix(c, "/")), true
}

// abs maps an fsys path back to the absolute path kustomize sees.
func (t *treeFS) abs(p string) string {
	r := manifest.RelPath(t.root, p)
	if p == t.root {
		r = ""
	}
	return "/" + r
}

// note records what p was when looked at.
func (t *treeFS) note(p, fp string) {
	t.mu.Lock()
	t.seen[p] = fp
	t.mu.Unlock()
}

// fingerprint names what is at p: a content hash when the file system has
// one, "" when it does not (then nothing is cached), "-" for nothing.
func fingerprint(fsys fs.FS, p string) string {
	st, err := lstat(fsys, p)
	if err != nil {
		return "-"
	}
	if h, ok := st.(manifest.ContentHasher); ok {
		kind := "f"
		if st.IsDir() {
			kind = "d"
		}
		return kind + h.ContentHash()
	}
	return ""
}

// lstat stats p without following a final symlink where the file system
// can tell one (a Git tree, os.DirFS and os.Root all can).
func lstat(fsys fs.FS, p string) (fs.FileInfo, error) {
	if _, ok := fsys.(fs.ReadLinkFS); ok {
		return fs.Lstat(fsys, p)
	}
	return fs.Stat(fsys, p)
}

// check refuses a path that passes through a symlink.
func (t *treeFS) check(p string) (fs.FileInfo, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if p != t.root {
		for dir := path.Dir(p); dir != "." && dir != t.root && strings.HasPrefix(dir, t.root); dir = path.Dir(dir) {
			if st, err := lstat(t.fsys, dir); err == nil && st.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("%s: %w", t.abs(dir), ErrSymlink)
			}
		}
	}
	st, err := lstat(t.fsys, p)
	if err != nil {
		t.note(p, "-")
		return nil, err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", t.abs(p), ErrSymlink)
	}
	if h, ok := st.(manifest.ContentHasher); ok {
		kind := "f"
		if st.IsDir() {
			kind = "d"
		}
		t.note(p, kind+h.ContentHash())
	} else {
		t.note(p, "")
	}
	return st, nil
}

func (t *treeFS) Create(p string) (filesys.File, error) { return nil, ErrReadOnly }
func (t *treeFS) Mkdir(p string) error                  { return ErrReadOnly }
func (t *treeFS) MkdirAll(p string) error               { return ErrReadOnly }
func (t *treeFS) RemoveAll(p string) error              { return ErrReadOnly }
func (t *treeFS) WriteFile(p string, _ []byte) error    { return ErrReadOnly }

func (t *treeFS) Open(p string) (filesys.File, error) {
	data, err := t.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &file{Reader: bytes.NewReader(data), name: path.Base(p), size: int64(len(data))}, nil
}

func (t *treeFS) IsDir(p string) bool {
	r, _ := t.rel(p)
	st, err := t.check(r)
	return err == nil && st.IsDir()
}

func (t *treeFS) Exists(p string) bool {
	r, _ := t.rel(p)
	_, err := t.check(r)
	return err == nil
}

func (t *treeFS) ReadDir(p string) ([]string, error) {
	r, _ := t.rel(p)
	if _, err := t.check(r); err != nil {
		return nil, err
	}
	ents, err := fs.ReadDir(t.fsys, r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func (t *treeFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r, _ := t.rel(p)
	st, err := t.check(r)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", t.abs(r), err)
	}
	if st.IsDir() {
		return filesys.ConfirmedDir(t.abs(r)), "", nil
	}
	return filesys.ConfirmedDir(t.abs(path.Dir(r))), path.Base(r), nil
}

func (t *treeFS) Glob(pattern string) ([]string, error) {
	r, _ := t.rel(pattern)
	matches, err := fs.Glob(t.fsys, r)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if _, err := t.check(m); err != nil {
			return nil, err
		}
		if strings.HasPrefix(path.Base(m), ".") && !strings.HasPrefix(path.Base(r), ".") {
			continue // as kustomize's own file system hides hidden files
		}
		out = append(out, t.abs(m))
	}
	sort.Strings(out)
	return out, nil
}

func (t *treeFS) ReadFile(p string) ([]byte, error) {
	r, _ := t.rel(p)
	st, err := t.check(r)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", t.abs(r))
	}
	data, err := manifest.ReadFile(t.fsys, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.abs(r), err)
	}
	t.mu.Lock()
	t.read += int64(len(data))
	over := t.read > t.maxRead
	t.mu.Unlock()
	if over {
		return nil, fmt.Errorf("%w: a render may read at most %d bytes", ErrTooLarge, t.maxRead)
	}
	if t.rewrite != nil {
		return t.rewrite(r, data)
	}
	return data, nil
}

func (t *treeFS) Walk(p string, fn filepath.WalkFunc) error {
	r, _ := t.rel(p)
	return fs.WalkDir(t.fsys, r, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return fn(t.abs(q), nil, err)
		}
		st, err := t.check(q)
		if err != nil {
			return fn(t.abs(q), nil, err)
		}
		return fn(t.abs(q), st, nil)
	})
}

// fingerprinter checks fingerprints against a tree, listing each
// directory once: a Git tree's directory entries carry the blob hashes, so
// nothing is read from the object store.
type fingerprinter struct {
	fsys fs.FS
	dirs map[string]map[string]fs.DirEntry
}

func newFingerprinter(fsys fs.FS) *fingerprinter {
	return &fingerprinter{fsys: fsys, dirs: map[string]map[string]fs.DirEntry{}}
}

// of is fingerprint(fsys, p), from the parent directory's listing.
func (f *fingerprinter) of(p string) string {
	if p == "." {
		return fingerprint(f.fsys, p)
	}
	parent, name := path.Split(p)
	parent = path.Clean(parent)
	ents, ok := f.dirs[parent]
	if !ok {
		list, err := fs.ReadDir(f.fsys, parent)
		if err == nil {
			ents = make(map[string]fs.DirEntry, len(list))
			for _, e := range list {
				ents[e.Name()] = e
			}
		}
		f.dirs[parent] = ents
	}
	e, ok := ents[name]
	if !ok {
		return "-"
	}
	h, ok := e.(manifest.ContentHasher)
	if !ok || e.Type()&fs.ModeSymlink != 0 {
		return fingerprint(f.fsys, p)
	}
	if e.IsDir() {
		return "d" + h.ContentHash()
	}
	return "f" + h.ContentHash()
}

// fresh reports whether every path seen still is what it was; false when
// any path had no fingerprint (the file system has no hashes).
func (f *fingerprinter) fresh(seen map[string]string) bool {
	if seen == nil {
		return false
	}
	for p, fp := range seen {
		if fp == "" || f.of(p) != fp {
			return false
		}
	}
	return true
}

type file struct {
	*bytes.Reader
	name string
	size int64
}

func (f *file) Write([]byte) (int, error) { return 0, ErrReadOnly }
func (f *file) Close() error              { return nil }
func (f *file) Stat() (os.FileInfo, error) {
	return fileInfo{name: f.name, size: f.size}, nil
}

type fileInfo struct {
	name string
	size int64
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
