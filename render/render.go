package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/manifest"
)

// Limits bound one root's render. Going over any of them is an error of
// the revision, never a crash of the process.
type Limits struct {
	// Timeout bounds a render's wall time (default 10 s).
	Timeout time.Duration
	// MaxInput bounds the bytes a render may read (default 64 MiB).
	MaxInput int64
	// MaxOutput bounds the YAML a render may produce (default 16 MiB).
	MaxOutput int
}

// Errors a render returns, for errors.Is.
var (
	ErrTimeout  = errors.New("render took too long")
	ErrTooLarge = errors.New("render too large")
	ErrRefused  = errors.New("refused")
)

// DefaultLimits are the limits New uses.
var DefaultLimits = Limits{Timeout: 10 * time.Second, MaxInput: 64 << 20, MaxOutput: 16 << 20}

// Renderer renders kustomization roots and Helm charts in process. It
// implements manifest.Renderer and keeps, per root, what the last render
// read (each path with its content hash) and produced: a root none of
// whose inputs changed is not rendered again. It is safe for concurrent
// use, though one Loader calls it from one goroutine at a time.
type Renderer struct {
	limits Limits

	mu    sync.Mutex
	cache map[string]*result // by root path and settings
	last  []Output
	// renders counts the roots rendered (not taken from the cache).
	renders int
}

// New returns a Renderer with the given limits (zero fields take the
// defaults).
func New(l Limits) *Renderer {
	if l.Timeout <= 0 {
		l.Timeout = DefaultLimits.Timeout
	}
	if l.MaxInput <= 0 {
		l.MaxInput = DefaultLimits.MaxInput
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultLimits.MaxOutput
	}
	return &Renderer{limits: l, cache: map[string]*result{}}
}

var _ manifest.Renderer = (*Renderer)(nil)

// Output is one root's rendered YAML as `kubectl kustomize` or `helm
// template` prints it.
type Output struct {
	// Root is the directory, relative to the manifests path.
	Root string
	// Tool is "kustomize" or "helm".
	Tool string
	// YAML is the printed stream.
	YAML []byte
}

// result is one root's render.
type result struct {
	key      string
	seen     map[string]string // path → fingerprint of every path looked at
	files    []manifest.RenderedFile
	output   Output
	err      *manifest.Error
	consumed []string // kustomization roots this one read as bases
}

// Outputs returns what the last Render produced, per root, sorted.
func (r *Renderer) Outputs() []Output {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Output(nil), r.last...)
}

// Render implements manifest.Renderer.
func (r *Renderer) Render(fsys fs.FS, dir string, roots []string, cfg manifest.Config) manifest.RenderResult {
	results := make([]*result, len(roots))
	next := make(map[string]*result, len(roots))
	fp := newFingerprinter(fsys)
	// Deepest first: overlays usually sit below or beside their bases at
	// greater depth, and a root another one already read as a base is not
	// rendered on its own.
	order := make([]int, len(roots))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return strings.Count(roots[order[a]], "/") > strings.Count(roots[order[b]], "/")
	})
	consumed := map[string]bool{}
	for _, i := range order {
		root := roots[i]
		if consumed[root] {
			continue
		}
		rel := manifest.RelPath(dir, root)
		if root == dir {
			rel = "."
		}
		tool := toolOf(fsys, root)
		key := tool + "\x00" + root
		if tool == "helm" {
			key += "\x00" + fmt.Sprint(cfg.HelmFor(rel))
		}
		r.mu.Lock()
		prev := r.cache[key]
		r.mu.Unlock()
		if prev != nil && fp.fresh(prev.seen) {
			results[i] = prev
		} else {
			results[i] = r.renderOne(fsys, dir, root, rel, tool, cfg)
			results[i].key = key
		}
		next[key] = results[i]
		for _, c := range results[i].consumed {
			consumed[c] = true
		}
	}

	// A kustomization another one reads as a base or component is part of
	// that one's output, not a root of its own.
	var out manifest.RenderResult
	out.Used = map[string]bool{}
	var outputs []Output
	for i, res := range results {
		if res == nil {
			continue
		}
		for p := range res.seen {
			out.Used[p] = true
		}
		if consumed[roots[i]] {
			continue
		}
		if res.err != nil {
			out.Errors = append(out.Errors, res.err)
			continue
		}
		out.Files = append(out.Files, res.files...)
		outputs = append(outputs, res.output)
	}
	sort.Slice(outputs, func(i, j int) bool { return outputs[i].Root < outputs[j].Root })
	r.mu.Lock()
	r.cache = next
	r.last = outputs
	r.mu.Unlock()
	return out
}

func toolOf(fsys fs.FS, root string) string {
	if st, err := fs.Stat(fsys, path.Join(root, "Chart.yaml")); err == nil && !st.IsDir() {
		if !manifest.IsRenderRoot(fsys, root) || !hasKustomization(fsys, root) {
			return "helm"
		}
	}
	return "kustomize"
}

func hasKustomization(fsys fs.FS, root string) bool {
	for _, m := range kustomizationNames {
		if st, err := fs.Stat(fsys, path.Join(root, m)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// renderOne renders one root within the limits: a panic in a library or a
// render that runs past the timeout becomes the root's error.
func (r *Renderer) renderOne(fsys fs.FS, dir, root, rel, tool string, cfg manifest.Config) *result {
	r.mu.Lock()
	r.renders++
	r.mu.Unlock()
	t := newTreeFS(fsys, dir, r.limits.MaxInput)
	done := make(chan *result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- &result{err: &manifest.Error{File: rel, Message: fmt.Sprintf("%s render failed: %v\n%s", tool, p, firstLines(debug.Stack(), 12))}}
			}
		}()
		if tool == "helm" {
			done <- renderHelm(t, root, rel, cfg.HelmFor(rel), r.limits)
		} else {
			done <- renderKustomize(t, root, rel, r.limits)
		}
	}()
	timer := time.NewTimer(r.limits.Timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		// The same inputs give the same output or the same error.
		t.mu.Lock()
		res.seen = t.seen
		t.mu.Unlock()
		for p, fp := range res.seen {
			if d, base := path.Split(p); fp != "-" && path.Clean(d) != root && isKustomizationName(base) {
				res.consumed = append(res.consumed, path.Clean(d))
			}
		}
		return res
	case <-timer.C:
		// The library cannot be stopped from outside; its goroutine is
		// left to finish, reading nothing more, and its result dropped.
		t.close()
		return &result{err: &manifest.Error{File: rel, Message: fmt.Sprintf("%s: %v (limit %s)", tool, ErrTimeout, r.limits.Timeout)}}
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
