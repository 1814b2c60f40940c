package manifest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Limits that keep hostile input from costing unbounded time or memory.
const (
	// MaxFileSize is the largest manifest file read; larger ones are errors.
	MaxFileSize = 4 << 20
	// MaxDocuments is the most YAML documents one file may hold.
	MaxDocuments = 10000
	// MaxTreeObjects is the most objects one tree may hold.
	MaxTreeObjects = 100000
	// MaxDepth is the deepest nesting of mappings and sequences accepted.
	MaxDepth = 64
)

// IsManifestFile reports whether name is read as a manifest (by extension).
func IsManifestFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ContentHasher is implemented by the fs.DirEntry values of a file system
// that knows a name for each file's content (a Git tree's blob hash): two
// entries with the same ContentHash hold the same bytes. Load uses it to
// skip reading and decoding files it has decoded before.
type ContentHasher interface {
	ContentHash() string
}

// Load reads every manifest file under dir in fsys (dir "." for the whole
// tree), decodes, validates and defaults every object, and checks that no
// object is defined twice. On any problem it returns the objects that were
// good together with an ErrorList holding every problem, sorted; callers
// that apply state must treat a non-nil error as "apply nothing".
//
// Paths in errors and in Object.File are relative to dir. Hidden files and
// directories (a leading dot) are skipped, as kubectl apply -R does not, but
// as every GitOps tool does for .git and CI config.
//
// Load is a Loader without cache or renderer; .berth.yaml is read.
func Load(fsys fs.FS, dir string) ([]Object, error) {
	t, err := new(Loader).Load(fsys, dir)
	return t.Objects, err
}

// Loader reads trees one after the other (the revisions of a repository),
// keeping what it decoded from one tree for the next: a file whose content
// hash (ContentHasher) is unchanged is neither read nor decoded again. A
// Loader is not safe for concurrent use; the zero value is ready.
type Loader struct {
	// Renderer renders kustomization roots and Helm charts; nil leaves
	// such directories unrendered (their files are still read as plain
	// manifests would be, which fails on templates).
	Renderer Renderer

	cache decodeCache
}

// Tree is what Load read from one tree.
type Tree struct {
	// Config is the .berth.yaml at the root of the tree (zero if none).
	Config Config
	// Objects are the objects berth runs, in file then document order.
	Objects []Object
	// Skipped are the objects of a kind listed in Config.SkipKinds:
	// decoded (so garbage is still an error) but not run.
	Skipped []Object
}

// decodeCache maps content to what decoding it produced. The extension is
// part of the key because the decoder may treat .json and .yaml
// differently, and so is the skip set the content was decoded with.
type decodeCache map[cacheKey]*decoded

type cacheKey struct {
	hash string
	ext  string
	skip string
}

// decoded is what decoding one file's content produced under the name file.
type decoded struct {
	file string
	objs []Object
	errs ErrorList
}

// at returns the objects and errors as if the content had been decoded
// under name: a file that moved keeps its content but reports its new path.
func (d *decoded) at(name string) ([]Object, ErrorList) {
	if name == d.file {
		return d.objs, d.errs
	}
	objs := make([]Object, len(d.objs))
	for i, o := range d.objs {
		o.File = name
		objs[i] = o
	}
	errs := make(ErrorList, len(d.errs))
	for i, e := range d.errs {
		c := *e
		if c.File == d.file {
			c.File = name
		}
		errs[i] = &c
	}
	return objs, errs
}

// source is one thing to decode: a file of the tree or a rendered stream.
type source struct {
	name     string // what errors and Object.File show
	p        string // path in fsys; "" for rendered content
	key      cacheKey
	cached   bool // key.hash names the content
	data     []byte
	rendered *RenderedFile
}

// Load reads the tree under dir of fsys as the package-level Load does,
// reading .berth.yaml first and rendering kustomization roots and charts
// with l.Renderer. The Tree is returned even with errors (the good objects
// with every problem); apply nothing when the error is non-nil.
func (l *Loader) Load(fsys fs.FS, dir string) (*Tree, error) {
	if dir == "" {
		dir = "."
	}
	t := &Tree{}
	cfg, errs := ReadConfig(fsys, dir)
	t.Config = cfg
	skip := cfg.skipSet()

	var files []source
	var roots []string
	walkErrs, walkErr := walk(fsys, dir, l.Renderer != nil, func(p string, d fs.DirEntry) {
		s := source{name: RelPath(dir, p), p: p, key: cacheKey{ext: strings.ToLower(path.Ext(p)), skip: cfg.skipKey()}}
		if h, ok := d.(ContentHasher); ok {
			s.key.hash, s.cached = h.ContentHash(), true
		}
		files = append(files, s)
	}, func(root string) { roots = append(roots, root) })
	if walkErr != nil {
		return t, append(errs, &Error{File: dir, Message: walkErr.Error()})
	}
	errs = append(errs, walkErrs...)
	sort.Slice(files, func(i, j int) bool { return files[i].p < files[j].p })

	if len(roots) > 0 {
		res := l.Renderer.Render(fsys, dir, roots, cfg)
		errs = append(errs, res.Errors...)
		if len(res.Used) > 0 {
			// A file a render read (a kustomize resource outside its root)
			// is part of that output, not a manifest of its own.
			kept := files[:0]
			for _, f := range files {
				if !res.Used[f.p] {
					kept = append(kept, f)
				}
			}
			files = kept
		}
		for i := range res.Files {
			rf := &res.Files[i]
			sum := sha256.Sum256(rf.Data)
			sk := cfg.skipKey()
			if rf.Skip {
				sk = "*"
			}
			files = append(files, source{name: rf.Name, key: cacheKey{hash: "rendered:" + string(sum[:]) + "\x00" + rf.Key, ext: ".yaml", skip: sk},
				cached: rf.Key != "", data: rf.Data, rendered: rf})
		}
	}

	objs, derrs := l.decode(fsys, files, skip)
	errs = append(errs, derrs...)
	for _, o := range objs {
		if o.Skipped {
			t.Skipped = append(t.Skipped, o)
		} else {
			t.Objects = append(t.Objects, o)
		}
	}
	errs = append(errs, CheckRevision(objs)...)
	if len(errs) > 0 {
		errs.Sort()
		return t, errs
	}
	return t, nil
}

// decode reads and decodes files, reusing the cache, and returns their
// objects in order with every error. It bounds the tree at MaxTreeObjects:
// past it, it returns no objects and an error naming the file that crossed
// the limit.
func (l *Loader) decode(fsys fs.FS, files []source, skip map[string]bool) ([]Object, ErrorList) {
	// Read what is new one by one (a Git object store is not safe for
	// concurrent use), then decode on every core.
	next := make(decodeCache, len(files))
	results := make([]*decoded, len(files))
	var jobs []int
	for i, f := range files {
		if f.cached {
			if d, ok := l.cache[f.key]; ok {
				results[i] = d
				next[f.key] = d
				continue
			}
			if d, ok := next[f.key]; ok { // the same content twice in one tree
				results[i] = d
				continue
			}
		}
		if f.data == nil && f.rendered == nil {
			data, err := ReadFile(fsys, f.p)
			if err != nil {
				results[i] = &decoded{file: f.name, errs: ErrorList{{File: f.name, Message: err.Error()}}}
				if f.cached {
					next[f.key] = results[i]
				}
				continue
			}
			files[i].data = data
		}
		results[i] = &decoded{file: f.name} // filled in by a worker
		if f.cached {
			next[f.key] = results[i]
		}
		jobs = append(jobs, i)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				d, f := results[i], &files[i]
				sk := skip
				if f.rendered != nil && f.rendered.Skip {
					sk = skipAll
				}
				d.objs, d.errs = decodeFileSkipping(d.file, f.data, sk)
				if f.rendered != nil {
					f.rendered.locate(d)
				}
				f.data = nil
			}
		}()
	}
	for _, i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	l.cache = next

	var objs []Object
	var errs ErrorList
	for i, f := range files {
		o, e := results[i].at(f.name)
		objs = append(objs, o...)
		errs = append(errs, e...)
		if len(objs) > MaxTreeObjects {
			return nil, append(errs, &Error{File: f.name, Message: fmt.Sprintf("the tree holds more than %d objects", MaxTreeObjects)})
		}
	}
	return objs, errs
}

// WalkFiles calls fn for every manifest file under dir, in lexical order,
// skipping hidden files and directories (a leading dot), as Load reads a
// tree. Entries that cannot be read become errors naming them (relative to
// dir); the error returned is for a tree that cannot be walked at all.
func WalkFiles(fsys fs.FS, dir string, fn func(path string, d fs.DirEntry)) (ErrorList, error) {
	return walk(fsys, dir, false, fn, nil)
}

// walk is WalkFiles that, with render set, hands each directory holding a
// kustomization or a Chart.yaml to root instead of descending into it.
func walk(fsys fs.FS, dir string, render bool, fn func(path string, d fs.DirEntry), root func(string)) (ErrorList, error) {
	var errs ErrorList
	walkErr := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &Error{File: RelPath(dir, p), Message: err.Error()})
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && render {
			if IsRenderRoot(fsys, p) {
				root(p)
				return fs.SkipDir
			}
		}
		if d.Type().IsRegular() && IsManifestFile(p) {
			fn(p, d)
		}
		return nil
	})
	if walkErr != nil {
		return nil, fmt.Errorf("read %s: %w", dir, walkErr)
	}
	return errs, nil
}

// RenderMarkers are the file names that make a directory rendered rather
// than read: kustomize's three names for a kustomization, and a Helm chart.
var RenderMarkers = []string{"kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml"}

// IsRenderRoot reports whether directory p of fsys holds a render marker.
func IsRenderRoot(fsys fs.FS, p string) bool {
	for _, m := range RenderMarkers {
		if st, err := fs.Stat(fsys, path.Join(p, m)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// RelPath is p relative to dir: the name errors and Object.File use.
func RelPath(dir, p string) string {
	if dir == "." {
		return p
	}
	if r, ok := strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/"); ok {
		return r
	}
	return p
}

// errTooLarge is returned for files over MaxFileSize.
var errTooLarge = fmt.Errorf("file is larger than the limit of %d bytes", MaxFileSize)

// ReadFile reads one manifest file, refusing one over MaxFileSize whether
// its stated size or what is actually read says so.
func ReadFile(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	// The size from Stat may lie (a pipe, a tree that changes): read at most
	// one byte past the limit so the check cannot be bypassed.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, errTooLarge
	}
	return data, nil
}

// CheckUnique reports every (kind, namespace, name) defined more than once,
// naming each place after the first together with the first.
func CheckUnique(objs []Object) ErrorList {
	first := make(map[Key]*Object, len(objs))
	var errs ErrorList
	for i := range objs {
		o := &objs[i]
		k := o.Key()
		if f, ok := first[k]; ok {
			errs = append(errs, &Error{File: o.File, Line: o.Line, Field: "metadata.name",
				Message: fmt.Sprintf("%s is also defined at %s:%d", k, f.File, f.Line)})
			continue
		}
		first[k] = o
	}
	return errs
}
