package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-dev/berth/manifest"
)

// commitFS opens the tree of sha in the bare repository at dir.
func commitFS(t testing.TB, repo *git.Repository, sha string) *treeFS {
	t.Helper()
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	return newTreeFS(repo.Storer, tree, c.Committer.When)
}

func TestTreeFS(t *testing.T) {
	u := newUpstream(t)
	u.write(map[string]string{
		"a.yaml":          "a: 1\n",
		"dir/b.yaml":      "b: 2\n",
		"dir/sub/c.txt":   "c\n",
		"dir/z-last.yaml": "z\n",
		".hidden/h.yaml":  "h\n",
		"run.sh":          "#!/bin/sh\n",
	})
	if err := os.Chmod(u.work+"/run.sh", 0o755); err != nil {
		t.Fatal(err)
	}
	plain := u.commitPush("plain", nil)

	repo, err := git.PlainOpen(u.bare)
	if err != nil {
		t.Fatal(err)
	}
	fsys := commitFS(t, repo, plain)
	if err := fstest.TestFS(fsys, "a.yaml", "dir/b.yaml", "dir/sub/c.txt", "dir/z-last.yaml", ".hidden/h.yaml", "run.sh"); err != nil {
		t.Fatal(err)
	}
	if st, err := fs.Stat(fsys, "run.sh"); err != nil || st.Mode() != 0o555 {
		t.Fatalf("executable: %v %v", st, err)
	}
	data, err := fs.ReadFile(fsys, "dir/b.yaml")
	if err != nil || string(data) != "b: 2\n" {
		t.Fatalf("read: %q %v", data, err)
	}
	for _, bad := range []string{"../a.yaml", "/a.yaml", "dir/../a.yaml", "nope.yaml", "a.yaml/x"} {
		if _, err := fsys.Open(bad); err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
	}

	// A symlink (which could point out of the tree) is listed but not
	// followed; a submodule (another repository's content) is not listed.
	if err := os.Symlink("/etc/passwd", u.work+"/link.yaml"); err != nil {
		t.Fatal(err)
	}
	u.git(u.work, "add", "link.yaml")
	u.git(u.work, "update-index", "--add", "--cacheinfo", "160000,"+plain+",vendor/sub")
	u.git(u.work, "commit", "-q", "-m", "special")
	u.push("main")
	special := u.git(u.work, "rev-parse", "HEAD")
	if _, err := repo.CommitObject(plumbing.NewHash(special)); err != nil {
		t.Fatal(err)
	}
	fsys = commitFS(t, repo, special)
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range entries {
		listed = append(listed, e.Name()+":"+e.Type().String())
	}
	if got := strings.Join(listed, " "); got != ".hidden:d--------- a.yaml:---------- dir:d--------- link.yaml:L--------- run.sh:---------- vendor:d---------" {
		t.Fatalf("root listing: %s", got)
	}
	if sub, _ := fs.ReadDir(fsys, "vendor"); len(sub) != 0 {
		t.Fatalf("submodule listed: %v", sub)
	}
	if _, err := fsys.Open("link.yaml"); err == nil {
		t.Fatal("a symlink was followed")
	}
	if _, err := fsys.Open("vendor/sub"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("submodule open: %v", err)
	}
}

// TestBuildMatchesLoad is the oracle for the incremental loader: over a
// history of renames, copies, errors, oversize files and fixes, loading
// each revision with a manifest.Loader that kept the previous revision's
// cache gives exactly what a fresh manifest.Load gives on the same tree,
// and unchanged blobs are reused.
func TestBuildMatchesLoad(t *testing.T) {
	u := newUpstream(t)
	twoPods := pod("a1") + "---\n" + pod("a2")
	jsonPod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"containers":[{"name":"app","image":"busybox"}]}}`
	huge := pod("huge") + "# " + strings.Repeat("x", manifest.MaxFileSize) + "\n"
	steps := []struct {
		name  string
		files map[string]string
	}{
		{name: "initial", files: map[string]string{
			"apps/a.yaml": twoPods, "apps/b.yml": pod("b"), "c.json": jsonPod,
			".hidden/x.yaml": badPod("x"), "apps/.h.yaml": badPod("h"), "README.md": "# hi\n"}},
		{name: "rename", files: map[string]string{"apps/b.yml": "", "apps/sub/b2.yml": pod("b")}},
		{name: "copy makes duplicates", files: map[string]string{"apps/dup.yaml": twoPods}},
		{name: "errors and oversize", files: map[string]string{"apps/dup.yaml": "", "apps/bad.yaml": badPod("bad"), "apps/huge.yaml": huge}},
		{name: "fix", files: map[string]string{"apps/bad.yaml": pod("bad"), "apps/huge.yaml": ""}},
		{name: "same blob under .json and .yaml", files: map[string]string{"apps/j.yaml": jsonPod, "c.json": ""}},
	}
	var shas []string
	for _, st := range steps {
		shas = append(shas, u.commitPush(st.name, st.files))
	}
	repo, err := git.PlainOpen(u.bare)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{".", "apps"} {
		loader := &manifest.Loader{}
		var prev map[string]manifest.Object
		for i, sha := range shas {
			t.Run(fmt.Sprintf("%s/%s", dir, steps[i].name), func(t *testing.T) {
				fsys := commitFS(t, repo, sha)
				wantObjs, wantErr := manifest.Load(fsys, dir)
				tree, gotErr := loader.Load(fsys, dir)
				gotObjs := tree.Objects
				if wantErr == nil && gotErr != nil {
					t.Fatalf("Load found no error, build found:\n%v", gotErr)
				}
				if wantErr != nil && (gotErr == nil || wantErr.Error() != gotErr.Error()) {
					t.Fatalf("errors differ:\nLoad:  %v\nbuild: %v", wantErr, gotErr)
				}
				if len(wantObjs) != len(gotObjs) || (len(wantObjs) > 0 && !reflect.DeepEqual(wantObjs, gotObjs)) {
					t.Fatalf("objects differ:\nLoad:  %v\nbuild: %v", keys(wantObjs), keys(gotObjs))
				}
				// Content that did not change keeps its decoded objects.
				cur := map[string]manifest.Object{}
				for _, o := range gotObjs {
					cur[o.Key().String()] = o
					if p, ok := prev[o.Key().String()]; ok && p.Pod != nil && path.Ext(p.File) == path.Ext(o.File) && o.Pod != p.Pod && reflect.DeepEqual(o.Pod, p.Pod) {
						t.Errorf("%s was decoded again though its content did not change", o.Key())
					}
				}
				prev = cur
			})
		}
	}
}

func keys(objs []manifest.Object) []string {
	out := make([]string, len(objs))
	for i := range objs {
		out[i] = objs[i].File + ":" + objs[i].Key().String()
	}
	return out
}
