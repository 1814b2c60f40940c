package render

import (
	"bytes"
	"fmt"
	"path"
	"regexp"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/berth-dev/berth/manifest"
)

// kustomizationNames are the names kustomize reads a kustomization from.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomizationName(n string) bool {
	for _, k := range kustomizationNames {
		if n == k {
			return true
		}
	}
	return false
}

// krustyOptions are kustomize's defaults made explicit: files only from
// under each kustomization's root, no plugins (no exec, no Go plugins, no
// containers), no helm, and kustomize's legacy resource order unless the
// kustomization sets sortOptions (what kubectl kustomize prints).
func krustyOptions() *krusty.Options {
	return &krusty.Options{
		Reorder:          krusty.ReorderOptionUnspecified,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	}
}

// renderKustomize renders the kustomization in root (a path of t's file
// system) as `kubectl kustomize` does, with origin annotations switched on
// so that each rendered object names the file it came from.
func renderKustomize(t *treeFS, root, rel string, l Limits) *result {
	res := &result{output: Output{Root: rel, Tool: "kustomize"}}
	fail := func(format string, args ...any) *result {
		res.err = &manifest.Error{File: rel, Message: "kustomize: " + fmt.Sprintf(format, args...)}
		return res
	}
	t.rewrite = func(p string, data []byte) ([]byte, error) {
		dir, base := path.Split(p)
		if !isKustomizationName(base) {
			return data, nil
		}
		if err := refuseRemote(t, path.Clean(dir), data); err != nil {
			err = fmt.Errorf("%s: %w", manifest.RelPath(t.root, p), err)
			t.mu.Lock()
			if t.refused == nil {
				t.refused = err
			}
			t.mu.Unlock()
			return nil, err
		}
		if path.Clean(dir) == root {
			return withOriginAnnotations(data)
		}
		return data, nil
	}
	m, err := krusty.MakeKustomizer(krustyOptions()).Run(t, t.abs(root))
	if err != nil {
		t.mu.Lock()
		refused := t.refused
		t.mu.Unlock()
		if refused != nil {
			return fail("%v", refused)
		}
		return fail("%v", err)
	}
	type item struct {
		origin *resource.Origin
		res    *resource.Resource
	}
	var items []item
	for _, r := range m.Resources() {
		o, err := r.GetOrigin()
		if err != nil {
			return fail("read origin of %s: %v", r.CurId(), err)
		}
		items = append(items, item{origin: o, res: r})
	}
	if err := m.RemoveOriginAnnotations(); err != nil {
		return fail("%v", err)
	}
	all, err := m.AsYaml()
	if err != nil {
		return fail("%v", err)
	}
	if len(all) > l.MaxOutput {
		return fail("%v: output is %d bytes, the limit is %d", ErrTooLarge, len(all), l.MaxOutput)
	}
	res.output.YAML = all
	for _, it := range items {
		y, err := it.res.AsYAML()
		if err != nil {
			return fail("%v", err)
		}
		res.files = append(res.files, sourceOf(t, root, rel, it.origin, it.res, y))
	}
	return res
}

// sourceOf names a rendered object after the file the user wrote it in and
// finds its fields there: origin paths are relative to the root.
func sourceOf(t *treeFS, root, rel string, o *resource.Origin, r *resource.Resource, y []byte) manifest.RenderedFile {
	id := r.CurId()
	desc := fmt.Sprintf("%s %s rendered by kustomize from %s", id.Kind, r.GetName(), rel)
	rf := manifest.RenderedFile{Name: path.Join(rel, "kustomization.yaml"), Data: y, Object: desc}
	if o == nil {
		rf.Key = rf.Name
		return rf
	}
	src := o.Path
	if src == "" {
		src = o.ConfiguredIn // a generated object: name the kustomization that generates it
	}
	if src == "" {
		return rf
	}
	p := path.Join(root, src)
	rf.Name = manifest.RelPath(t.root, p)
	if o.ConfiguredIn != "" && o.Path == "" {
		rf.Key = rf.Name // generated: no field of it is written in a file
		return rf
	}
	org := r.OrgId()
	t.mu.Lock()
	fp := t.seen[p]
	t.mu.Unlock()
	if fp != "" && fp != "-" {
		rf.Key = rf.Name + "\x00" + fp
	}
	rf.Locate = func(field string) int {
		data, err := manifest.ReadFile(t.fsys, p)
		if err != nil {
			return 0
		}
		return manifest.FieldLine(data, org.Kind, org.Name, field)
	}
	return rf
}

// remoteRE matches what kustomize would fetch instead of read: URLs,
// git@host:repo, and host/org/repo paths with a ref.
var remoteRE = regexp.MustCompile(`^([a-z][a-z0-9+.-]*://|git@|ssh:|[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+/)|\?(ref|version|submodules|timeout)=|//`)

// refuseRemote refuses a kustomization that names a remote base,
// component or resource: a revision must depend on nothing outside Git.
func refuseRemote(t *treeFS, dir string, data []byte) error {
	var k struct {
		Resources  []string `yaml:"resources"`
		Bases      []string `yaml:"bases"`
		Components []string `yaml:"components"`
		HelmCharts []any    `yaml:"helmCharts"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports the syntax error itself
	}
	if len(k.HelmCharts) > 0 {
		return fmt.Errorf("%w: helmCharts needs the helm binary; put the chart in the repository as a directory with a Chart.yaml instead", ErrRefused)
	}
	for _, list := range [][]string{k.Resources, k.Bases, k.Components} {
		for _, e := range list {
			if !remoteRE.MatchString(e) {
				continue
			}
			if _, err := lstat(t.fsys, path.Join(dir, e)); err == nil {
				continue // a local directory that happens to look like a host
			}
			return fmt.Errorf("%w: remote %q: berth renders only what is in the repository (copy the base into it)", ErrRefused, e)
		}
	}
	return nil
}

// withOriginAnnotations adds originAnnotations to the kustomization's
// buildMetadata, keeping every line where it was when it can.
func withOriginAnnotations(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil // kustomize reports what is wrong with it
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "buildMetadata" {
			continue
		}
		v := m.Content[i+1]
		for _, e := range v.Content {
			if e.Value == "originAnnotations" {
				return data, nil
			}
		}
		v.Content = append(v.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "originAnnotations"})
		return yaml.Marshal(&doc)
	}
	if m.Style&yaml.FlowStyle == 0 {
		out := bytes.TrimRight(data, " \t\r\n")
		return append(out, "\nbuildMetadata: [originAnnotations]\n"...), nil
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "buildMetadata"},
		&yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "originAnnotations"}}})
	return yaml.Marshal(&doc)
}
