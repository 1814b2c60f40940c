package manifest

import (
	"fmt"
	"io/fs"
)

// A Renderer turns the directories Load does not read as plain manifests
// (kustomization roots and Helm charts, see RenderMarkers) into YAML.
// Package render implements it with kustomize and Helm in process; the
// interface keeps those libraries out of what manifest's users import.
type Renderer interface {
	// Render renders the directories roots (paths in fsys under dir)
	// with the repository's settings.
	Render(fsys fs.FS, dir string, roots []string, cfg Config) RenderResult
}

// RenderResult is what a render produced.
type RenderResult struct {
	// Files are decoded like files of the tree, in this order.
	Files []RenderedFile
	// Used are the files (paths in fsys) the renders read: they belong to
	// the rendered output and are not read again as plain manifests.
	Used map[string]bool
	// Errors are the renders that failed, each naming its directory.
	Errors ErrorList
}

// RenderedFile is one object (or stream) a render produced.
type RenderedFile struct {
	// Name is what Object.File and errors show: the source file the
	// user wrote (kustomize's origin) or the template (Helm).
	Name string
	// Data is the rendered YAML.
	Data []byte
	// Object describes the rendered object for errors whose line in
	// Name cannot be found ("Deployment web rendered by overlays/prod").
	Object string
	// Locate finds a rendered field path (as errors name it; "" for the
	// object itself) in Name and returns its line there, 0 when it cannot.
	Locate func(field string) int
}

// locate moves what decoding the rendered data found onto the source.
func (rf *RenderedFile) locate(d *decoded) {
	find := func(field string) int {
		if rf.Locate == nil {
			return 0
		}
		return rf.Locate(field)
	}
	for _, e := range d.errs {
		rendered := e.Line
		if line := find(e.Field); line > 0 {
			e.Line = line
			continue
		}
		e.Line = 0
		if rf.Object != "" {
			e.Message += fmt.Sprintf(" (in %s, line %d of its rendered output)", rf.Object, rendered)
		}
	}
	for i := range d.objs {
		d.objs[i].Line = max(find(""), 1)
	}
}
