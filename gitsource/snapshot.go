package gitsource

import (
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-dev/berth/manifest"
)

// Snapshot is one applied revision: the commit and every object decoded
// from its tree under Options.Path. Snapshots are immutable and share
// decoded objects with each other (an unchanged file keeps its objects
// from one revision to the next), so callers must treat Objects and
// everything they point to as read-only.
type Snapshot struct {
	// Revision is the commit SHA.
	Revision string `json:"revision"`
	// Ref is the full ref name the revision was read from
	// (refs/heads/main), or the SHA when pinned to a commit.
	Ref string `json:"ref"`
	// CommitTime is the committer time.
	CommitTime time.Time `json:"commitTime"`
	// Author is "Name <email>".
	Author string `json:"author"`
	// Subject is the first line of the commit message.
	Subject string `json:"subject"`
	// Signer names the trusted key that signed the commit; nil when
	// verification is off.
	Signer *Signer `json:"signer,omitempty"`
	// Objects are the decoded manifests, in file order, then document order.
	Objects []manifest.Object `json:"-"`
	// Warnings are what the revision was accepted with but should change,
	// such as a Secret in clear text in Git (berth status shows them).
	Warnings manifest.ErrorList `json:"warnings,omitempty"`
}

// decodeCache maps a blob to what decoding it produced, so a new revision
// re-decodes only the files that changed. The extension is part of the
// key because the decoder may treat .json and .yaml differently.
type decodeCache map[cacheKey]*decoded

type cacheKey struct {
	hash plumbing.Hash
	ext  string
}

// decoded is what DecodeFile returned for one blob under the name file.
type decoded struct {
	file string
	objs []manifest.Object
	errs manifest.ErrorList
}

// at returns the objects and errors as if the blob had been decoded under
// name: a file that moved keeps its content but must report its new path.
func (d *decoded) at(name string) ([]manifest.Object, manifest.ErrorList) {
	if name == d.file {
		return d.objs, d.errs
	}
	objs := make([]manifest.Object, len(d.objs))
	for i, o := range d.objs {
		o.File = name
		objs[i] = o
	}
	errs := make(manifest.ErrorList, len(d.errs))
	for i, e := range d.errs {
		c := *e
		if c.File == d.file {
			c.File = name
		}
		errs[i] = &c
	}
	return objs, errs
}

// buildObjects reads every manifest under dir of fsys exactly as
// manifest.Load does (same walk, same skips, same limits, same order and
// errors) but decodes only blobs that prev has not seen. It returns the
// objects, the sorted errors, and the cache to pass next time: the entries
// this tree used, so the cache never outgrows one tree.
func buildObjects(fsys fs.FS, dir string, prev decodeCache) ([]manifest.Object, manifest.ErrorList, decodeCache) {
	type file struct {
		name string // relative to dir: what errors and Object.File show
		p    string // path in fsys
		key  cacheKey
		hash bool // key.hash is known from the directory entry
	}
	var files []file
	errs, walkErr := manifest.WalkFiles(fsys, dir, func(p string, d fs.DirEntry) {
		f := file{name: manifest.RelPath(dir, p), p: p, key: cacheKey{ext: strings.ToLower(path.Ext(p))}}
		if h, ok := d.(blobHasher); ok {
			f.key.hash, f.hash = h.blobHash(), true
		}
		files = append(files, f)
	})
	if walkErr != nil {
		return nil, manifest.ErrorList{{File: dir, Message: walkErr.Error()}}, prev
	}
	sort.Slice(files, func(i, j int) bool { return files[i].p < files[j].p })

	// Read what is new one by one (the object store is not safe for
	// concurrent use), then decode on every core.
	next := make(decodeCache, len(files))
	results := make([]*decoded, len(files))
	type job struct {
		i    int
		data []byte
	}
	var jobs []job
	for i, f := range files {
		if d, ok := prev[f.key]; ok && f.hash {
			results[i] = d
			next[f.key] = d
			continue
		}
		if d, ok := next[f.key]; ok && f.hash { // the same blob twice in one tree
			results[i] = d
			continue
		}
		data, err := manifest.ReadFile(fsys, f.p)
		if err != nil {
			results[i] = &decoded{file: f.name, errs: manifest.ErrorList{{File: f.name, Message: err.Error()}}}
			if f.hash {
				next[f.key] = results[i]
			}
			continue
		}
		results[i] = &decoded{file: f.name} // filled in by a worker
		if f.hash {
			next[f.key] = results[i]
		}
		jobs = append(jobs, job{i: i, data: data})
	}
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				d := results[j.i]
				d.objs, d.errs = manifest.DecodeFile(d.file, j.data)
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()

	total := 0
	for _, d := range results {
		total += len(d.objs)
	}
	objs := make([]manifest.Object, 0, min(total, manifest.MaxTreeObjects+1))
	for i, f := range files {
		o, e := results[i].at(f.name)
		objs = append(objs, o...)
		errs = append(errs, e...)
		if len(objs) > manifest.MaxTreeObjects {
			errs = append(errs, &manifest.Error{File: f.name, Message: fmt.Sprintf("the tree holds more than %d objects", manifest.MaxTreeObjects)})
			break
		}
	}
	errs = append(errs, manifest.CheckRevision(objs)...)
	errs.Sort()
	return objs, errs, next
}
