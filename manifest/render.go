package manifest

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
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
	// Skip lists every object of Data as skipped (not run), whatever
	// its kind: a Helm test hook.
	Skip bool
	// Key names, together with Data, everything Locate depends on (the
	// source file's content hash): the decoded result is reused while
	// both are unchanged. "" decodes it every time.
	Key string
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

// FieldLine finds a field path (as errors name it, "" for the document
// itself) in the document of data whose kind is kind and whose
// metadata.name is name or is contained in it (kustomize adds prefixes and
// suffixes), and returns its line; 0 when the document or the exact field
// is not there (a field a render added or changed).
func FieldLine(data []byte, kind, name, field string) int {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var best *yaml.Node
	for docs := 0; docs < MaxDocuments; docs++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		if scalarField(root, "kind") != kind {
			continue
		}
		n := ""
		if m := mappingField(root, "metadata"); m != nil {
			n = scalarField(m, "name")
		}
		if n == name {
			best = root
			break
		}
		if n != "" && strings.Contains(name, n) && best == nil {
			best = root
		}
	}
	if best == nil {
		return 0
	}
	n, line := best, best.Line
	for _, seg := range splitPath(field) {
		switch n.Kind {
		case yaml.MappingNode:
			k, v := mappingEntry(n, seg)
			if v == nil {
				return 0
			}
			n, line = v, k.Line
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.Content) {
				return 0
			}
			n = n.Content[i]
			line = n.Line
		default:
			return 0
		}
	}
	return line
}

func mappingEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func mappingField(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
