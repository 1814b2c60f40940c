package gitsource

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// FuzzSnapshotTree builds a hostile commit tree, which anyone who can push
// to the followed repository can make, and reads it as a revision: entries
// with any name (.., /, empty, duplicates, unsorted), symlinks out of the
// tree, submodules, directories that are blobs, and objects that are
// missing. Reading never panics; a revision is either a snapshot or a
// refusal wrapping ErrInvalidManifests.
//
// data is records separated by NUL: a mode byte, the entry's name, a
// newline, its content. A directory entry holds the entries before it.
func FuzzSnapshotTree(f *testing.F) {
	f.Add([]byte("\x00a.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n"), false)
	f.Add([]byte("\x00a.yaml\nkind: Pod\n\x00\x01d\n"), true)
	f.Add([]byte("\x02link.yaml\n../../../../etc/passwd\x00\x00.berth.yaml\nskipKinds: [Pod]\n"), false)
	f.Add([]byte("\x00..\nx\x00\x00/etc\ny\x00\x00\nz\x00\x00a\na\x00\x00a\nb"), false)
	f.Add([]byte("\x03sub\n\x00\x01d\n!\x00\x00k.yaml\n?"), true)
	f.Add([]byte("\x00kustomization.yaml\nresources: [../x, /etc/passwd, https://example.com/r]\n"), false)
	f.Add([]byte("\x00Chart.yaml\napiVersion: v2\nname: c\nversion: 0.1.0\n\x00values.yaml\na: b\n\x01d\n"), true)
	dir := f.TempDir()
	modes := []filemode.FileMode{filemode.Regular, filemode.Dir, filemode.Symlink, filemode.Submodule, filemode.Executable, filemode.Deprecated}
	// One source per path, as a server keeps one across revisions (its
	// loader reuses what the previous revision decoded).
	var sources [2]*Source
	for i, p := range []string{"", "d"} {
		s, err := New(Options{URL: "/nonexistent/repo.git", Dir: filepath.Join(dir, "clone"), Ref: "main", Path: p})
		if err != nil {
			f.Fatal(err)
		}
		sources[i] = s
	}
	f.Fuzz(func(t *testing.T, data []byte, underD bool) {
		repo, err := git.Init(memory.NewStorage(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st := repo.Storer
		put := func(typ plumbing.ObjectType, b []byte) plumbing.Hash {
			o := st.NewEncodedObject()
			o.SetType(typ)
			w, _ := o.Writer()
			_, _ = w.Write(b)
			_ = w.Close()
			h, err := st.SetEncodedObject(o)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		// Encoded by hand: go-git's encoder refuses unsorted entries,
		// a hostile pusher's need not.
		putTree := func(entries []object.TreeEntry) plumbing.Hash {
			var b bytes.Buffer
			for _, e := range entries {
				fmt.Fprintf(&b, "%o %s\x00", uint32(e.Mode), e.Name)
				b.Write(e.Hash[:])
			}
			return put(plumbing.TreeObject, b.Bytes())
		}
		var entries []object.TreeEntry
		for i, rec := range bytes.Split(data, []byte{0}) {
			if len(rec) == 0 || i > 64 {
				continue
			}
			mode := modes[int(rec[0])%len(modes)]
			name, content, _ := bytes.Cut(rec[1:], []byte("\n"))
			var h plumbing.Hash
			switch {
			case string(content) == "?": // an object the repository lacks
				h = plumbing.Hash(sha1.Sum(rec))
			case mode == filemode.Dir && string(content) != "!":
				h = putTree(entries)
			default: // a blob, also where a tree or commit is expected
				h = put(plumbing.BlobObject, content)
			}
			entries = append(entries, object.TreeEntry{Name: string(name), Mode: mode, Hash: h})
		}
		root := putTree(entries)
		sig := object.Signature{Name: "f", Email: "f@x", When: time.Unix(1_700_000_000, 0)}
		co := st.NewEncodedObject()
		if err := (&object.Commit{Author: sig, Committer: sig, Message: "fuzz\n", TreeHash: root}).Encode(co); err != nil {
			t.Fatal(err)
		}
		ch, err := st.SetEncodedObject(co)
		if err != nil {
			t.Fatal(err)
		}
		commit, err := repo.CommitObject(ch)
		if err != nil {
			t.Fatal(err)
		}
		s := sources[0]
		if underD {
			s = sources[1]
		}
		snap, rej := s.build(repo, commit, "refs/heads/main", nil)
		switch {
		case rej != nil:
			if !errors.Is(rej.Err, ErrInvalidManifests) {
				t.Fatalf("refused with %v, not ErrInvalidManifests", rej.Err)
			}
		case snap == nil:
			t.Fatal("neither a snapshot nor a refusal")
		}
	})
}
