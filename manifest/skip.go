package manifest

import (
	"fmt"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// skipAll skips every kind.
var skipAll = map[string]bool{"*": true}

// decodeOrSkip decodes one document, or, when its kind is in skip, checks
// it only as far as a kind berth does not run can be checked: well-formed
// YAML that converts to JSON, an apiVersion and a metadata.name.
func decodeOrSkip(file string, root *yaml.Node, index int, skip map[string]bool) (*Object, ErrorList) {
	if len(skip) == 0 || root.Kind != yaml.MappingNode {
		return decodeDocument(file, root, index)
	}
	kind := scalarField(root, "kind")
	if !skip[kind] && !skip["*"] {
		return decodeDocument(file, root, index)
	}
	d := &docErrors{file: file, root: root, seen: map[string]bool{}}
	js, problems := toJSON(root)
	for _, p := range problems {
		d.add(p.path, p.line, p.message)
	}
	if js == nil || len(d.errs) > 0 {
		return nil, d.errs
	}
	if scalarField(root, "apiVersion") == "" {
		d.add("apiVersion", 0, fmt.Sprintf("Required value: %s needs an apiVersion", kind))
	}
	var name, namespace string
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "metadata" && root.Content[i+1].Kind == yaml.MappingNode {
			name = scalarField(root.Content[i+1], "name")
			namespace = scalarField(root.Content[i+1], "namespace")
		}
	}
	if name == "" {
		d.add("metadata.name", 0, "Required value: name or generateName is required")
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return &Object{Kind: Kind(kind), Namespace: namespace, Name: name, File: file, Line: root.Line, Skipped: true}, nil
}
