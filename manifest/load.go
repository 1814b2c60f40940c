package manifest

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

// Load reads every manifest file under dir in fsys (dir "." for the whole
// tree), decodes, validates and defaults every object, and checks that no
// object is defined twice. On any problem it returns the objects that were
// good together with an ErrorList holding every problem, sorted; callers
// that apply state must treat a non-nil error as "apply nothing".
//
// Paths in errors and in Object.File are relative to dir. Hidden files and
// directories (a leading dot) are skipped, as kubectl apply -R does not, but
// as every GitOps tool does for .git and CI config.
func Load(fsys fs.FS, dir string) ([]Object, error) {
	if dir == "" {
		dir = "."
	}
	var files []string
	errs, walkErr := WalkFiles(fsys, dir, func(p string, _ fs.DirEntry) {
		files = append(files, p)
	})
	if walkErr != nil {
		return nil, walkErr
	}
	sort.Strings(files)
	// Files decode independently, so they are spread over the cores; the
	// results are put back in file order so output does not depend on it.
	type result struct {
		objs []Object
		errs ErrorList
	}
	results := make([]result, len(files))
	var next atomic.Int64
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || total.Load() > MaxTreeObjects {
					return
				}
				name := RelPath(dir, files[i])
				data, err := ReadFile(fsys, files[i])
				if err != nil {
					results[i].errs = ErrorList{{File: name, Message: err.Error()}}
					continue
				}
				o, ferrs := DecodeFile(name, data)
				total.Add(int64(len(o)))
				results[i] = result{o, ferrs}
			}
		}()
	}
	wg.Wait()
	var objs []Object
	for _, r := range results {
		objs = append(objs, r.objs...)
		errs = append(errs, r.errs...)
	}
	if len(objs) > MaxTreeObjects {
		return nil, append(errs, &Error{File: dir, Message: fmt.Sprintf("the tree holds more than %d objects", MaxTreeObjects)})
	}
	errs = append(errs, CheckUnique(objs)...)
	errs = append(errs, CheckStorage(objs)...)
	if len(errs) > 0 {
		errs.Sort()
		return objs, errs
	}
	return objs, nil
}

// WalkFiles calls fn for every manifest file under dir, in lexical order,
// skipping hidden files and directories (a leading dot), as Load reads a
// tree. Entries that cannot be read become errors naming them (relative to
// dir); the error returned is for a tree that cannot be walked at all.
// gitsource walks a commit's tree with it, so both read exactly the same
// files.
func WalkFiles(fsys fs.FS, dir string, fn func(path string, d fs.DirEntry)) (ErrorList, error) {
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
