package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/berth-dev/berth/manifest"
)

// treeFS is a read-only io/fs.FS over the tree of one commit, read from
// the object store; there is no work tree. Submodules are left out (their
// content is in another repository); symlinks are listed with
// fs.ModeSymlink and cannot be opened, because following one could leave
// the tree. Every file has the commit time as its modification time.
//
// It is safe for concurrent use (manifest.Load reads files in parallel),
// though go-git's trees and object store are not: mu serialises every
// access to them, and a file's content is read whole, under mu, at its
// first Read.
type treeFS struct {
	mu    sync.Mutex
	root  *object.Tree
	store storer.EncodedObjectStorer
	mtime time.Time
}

var (
	_ fs.ReadDirFS = (*treeFS)(nil)
	_ fs.StatFS    = (*treeFS)(nil)
)

func newTreeFS(store storer.EncodedObjectStorer, root *object.Tree, mtime time.Time) *treeFS {
	return &treeFS{root: root, store: store, mtime: mtime}
}

// The blob hash names the content, so equal hashes are equal files:
// manifest.Loader decodes a blob once.
var _ manifest.ContentHasher = (*dirEntry)(nil)

// lookup finds name's entry; for "." it returns a synthetic dir entry.
func (f *treeFS) lookup(op, name string) (*object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: f.root.Hash}, nil
	}
	f.mu.Lock()
	e, err := f.root.FindEntry(name)
	f.mu.Unlock()
	if err != nil {
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return f.info(path.Base(name), e)
}

func (f *treeFS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	base := path.Base(name)
	switch e.Mode {
	case filemode.Dir:
		t, err := f.tree(e.Hash)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{fs: f, tree: t, info: dirInfo(base, f.mtime, e.Hash)}, nil
	case filemode.Symlink:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("symlinks in the tree are not followed")}
	}
	info, err := f.info(base, e)
	if err != nil {
		return nil, err
	}
	return &treeFile{fs: f, info: info.(fileInfo)}, nil
}

// tree reads a tree object.
func (f *treeFS) tree(h plumbing.Hash) (*object.Tree, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return object.GetTree(f.store, h)
}

// content reads a whole blob.
func (f *treeFS) content(h plumbing.Hash) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := object.GetBlob(f.store, h)
	if err != nil {
		return nil, err
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e.Mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	t, err := f.tree(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if err := checkEntries(name, t); err != nil {
		return nil, err
	}
	return f.entries(t), nil
}

// checkEntries refuses a directory holding an entry whose name git fsck
// refuses: a pushed tree can hold any bytes, and an entry named "." or
// ".." would make a walk of the tree visit the same directory forever.
func checkEntries(dir string, t *object.Tree) error {
	for _, e := range t.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
			return &fs.PathError{Op: "readdir", Path: dir, Err: fmt.Errorf("%w: tree entry %q is not a file name (git fsck refuses such trees)", fs.ErrInvalid, e.Name)}
		}
	}
	return nil
}

// entries lists a tree sorted by name, as fs.ReadDir promises (git sorts
// a directory as if its name ended in "/", which differs).
func (f *treeFS) entries(t *object.Tree) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for i := range t.Entries {
		e := t.Entries[i]
		if e.Mode == filemode.Submodule {
			continue
		}
		out = append(out, &dirEntry{fs: f, e: e})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

func (f *treeFS) info(name string, e *object.TreeEntry) (fs.FileInfo, error) {
	if e.Mode == filemode.Dir {
		return dirInfo(name, f.mtime, e.Hash), nil
	}
	var size int64
	if e.Mode != filemode.Symlink {
		// The object header holds the size; the content is not read.
		f.mu.Lock()
		s, err := f.store.EncodedObject(plumbing.BlobObject, e.Hash)
		f.mu.Unlock()
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		size = s.Size()
	}
	return fileInfo{name: name, size: size, mode: fileMode(e.Mode), mtime: f.mtime, hash: e.Hash}, nil
}

func fileMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Executable:
		return 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o444
}

func dirInfo(name string, mtime time.Time, hash plumbing.Hash) fileInfo {
	return fileInfo{name: name, mode: fs.ModeDir | 0o555, mtime: mtime, hash: hash}
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	hash  plumbing.Hash
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }

// Sys returns the object hash (a plumbing.Hash).
func (i fileInfo) Sys() any { return i.hash }

// ContentHash is the blob's (or the directory's tree) hash, so a render
// can tell that nothing it read has changed.
func (i fileInfo) ContentHash() string { return string(i.hash[:]) }

type dirEntry struct {
	fs *treeFS
	e  object.TreeEntry
}

func (d *dirEntry) Name() string               { return d.e.Name }
func (d *dirEntry) IsDir() bool                { return d.e.Mode == filemode.Dir }
func (d *dirEntry) Type() fs.FileMode          { return fileMode(d.e.Mode).Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) { return d.fs.info(d.e.Name, &d.e) }
func (d *dirEntry) String() string             { return fs.FormatDirEntry(d) }
func (d *dirEntry) ContentHash() string        { return string(d.e.Hash[:]) }

type treeFile struct {
	fs     *treeFS
	info   fileInfo
	data   *bytes.Reader // nil until the first Read
	closed bool
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *treeFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: fs.ErrClosed}
	}
	if f.data == nil {
		b, err := f.fs.content(f.info.hash)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: err}
		}
		f.data = bytes.NewReader(b)
	}
	return f.data.Read(p)
}

func (f *treeFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.info.name, Err: fs.ErrClosed}
	}
	f.closed = true
	f.data = nil
	return nil
}

type treeDir struct {
	fs      *treeFS
	tree    *object.Tree
	info    fileInfo
	entries []fs.DirEntry
	listed  bool
	off     int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *treeDir) Close() error { return nil }

// ReadDir follows fs.ReadDirFile: n > 0 returns at most n entries and
// io.EOF at the end; n <= 0 returns the rest.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.listed {
		if err := checkEntries(d.info.name, d.tree); err != nil {
			return nil, err
		}
		d.entries = d.fs.entries(d.tree)
		d.listed = true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
