package render

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/berth-dev/berth/manifest"
)

// KubeVersion is what .Capabilities.KubeVersion says in a chart: the
// Kubernetes minor release of the k8s.io/api module berth is built with
// (TestKubeVersionFollowsGoMod keeps the two together), as `helm template`
// built beside that client says. Helm v3's own default is v1.20.0, which
// would turn version checks in charts (policy/v1 vs v1beta1, Ingress
// versions) back to releases berth's API types are not.
const KubeVersion = "v1.37.0"

// capabilities are Helm's default ones (the API versions client-go's
// scheme knows) with KubeVersion.
var capabilities = func() *chartutil.Capabilities {
	c := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		panic(fmt.Sprintf("render: KubeVersion %q: %v", KubeVersion, err)) // a constant: fails every test
	}
	c.KubeVersion = *kv
	return c
}()

// renderHelm renders the chart in root as `helm template` does with the
// repository's settings: the chart's values.yaml, then each values file,
// then the values from .berth.yaml. Dependencies must be vendored in
// charts/. Hooks: test hooks (run only by `helm test`) are listed as
// skipped; any other hook is refused by name, because berth has no
// install/upgrade events to run it on.
func renderHelm(t *treeFS, root, rel string, s manifest.HelmSettings, l Limits) *result {
	res := &result{output: Output{Root: rel, Tool: "helm"}}
	fail := func(format string, args ...any) *result {
		res.err = &manifest.Error{File: rel, Message: "helm: " + fmt.Sprintf(format, args...)}
		return res
	}
	files, err := chartFiles(t, root)
	if err != nil {
		return fail("%v", err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return fail("%v", err)
	}
	if err := ch.Validate(); err != nil {
		return fail("Chart.yaml: %v", err)
	}
	if err := checkVendored(ch); err != nil {
		return fail("%v", err)
	}
	vals := map[string]any{}
	for _, f := range s.ValuesFiles {
		p := path.Join(root, f)
		if !fs.ValidPath(p) || (t.root != "." && !strings.HasPrefix(p, t.root+"/")) {
			return fail("values file %s: %v: outside the manifests path", f, ErrRefused)
		}
		data, err := t.ReadFile(t.abs(p))
		if err != nil {
			return fail("values file %s: %v", f, err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return fail("values file %s: %v", f, err)
		}
		vals = mergeMaps(vals, v)
	}
	if s.Values != nil {
		vals = mergeMaps(vals, s.Values)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail("dependencies: %v", err)
	}
	opts := chartutil.ReleaseOptions{Name: s.ReleaseName, Namespace: s.Namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(ch, vals, opts, capabilities)
	if err != nil {
		return fail("values: %v", err)
	}
	out, err := engine.Engine{}.Render(ch, top)
	if err != nil {
		return fail("%v", err)
	}
	size := 0
	for name, content := range out {
		size += len(content)
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(out, name)
		}
	}
	if size > l.MaxOutput {
		return fail("%v: output is %d bytes, the limit is %d", ErrTooLarge, size, l.MaxOutput)
	}
	hooks, manifests, err := releaseutil.SortManifests(out, nil, releaseutil.InstallOrder)
	if err != nil {
		return fail("%v", err)
	}
	var b strings.Builder
	// Helm v3 trims each manifest; v4, whose output berth printed
	// before, kept the template's last newline. Put it back so that
	// rendered files (and their decode cache keys) stay as they were.
	for _, m := range manifests {
		m.Content += "\n"
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		res.files = append(res.files, manifest.RenderedFile{
			Name:   templatePath(rel, ch.Name(), m.Name),
			Data:   []byte(m.Content),
			Object: fmt.Sprintf("the output of template %s", m.Name),
			Key:    m.Name, // errors are placed in the rendered output alone
		})
	}
	for _, h := range hooks {
		h.Manifest += "\n"
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
		if !isTestHook(h) {
			return fail("%s: %s %s is a Helm hook (%s): %v; berth has no install or upgrade to run it on (remove the helm.sh/hook annotation to run it as an ordinary object)",
				h.Path, h.Kind, h.Name, hookEvents(h), ErrRefused)
		}
		res.files = append(res.files, manifest.RenderedFile{
			Name:   templatePath(rel, ch.Name(), h.Path),
			Data:   []byte(h.Manifest),
			Object: fmt.Sprintf("the output of template %s", h.Path),
			Skip:   true,
			Key:    h.Path,
		})
	}
	res.output.YAML = []byte(b.String())
	return res
}

// chartFiles reads the chart directory as Helm's directory loader does
// (honouring .helmignore), through t so that symlinks, size and what was
// read are all checked and recorded.
func chartFiles(t *treeFS, root string) ([]*loader.BufferedFile, error) {
	rules := ignore.Empty()
	if data, err := t.ReadFile(t.abs(path.Join(root, ignore.HelmIgnore))); err == nil {
		r, err := ignore.Parse(strings.NewReader(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
		rules = r
	}
	rules.AddDefaults()
	var files []*loader.BufferedFile
	err := fs.WalkDir(t.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if rel == "" {
			return nil
		}
		st, err := t.check(p)
		if err != nil {
			return err
		}
		if rules.Ignore(rel, st) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := t.ReadFile(t.abs(p))
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	return files, err
}

// checkVendored refuses a dependency that is not in charts/: Helm would
// fetch it from its repository, and a revision must depend on Git alone.
func checkVendored(ch *chart.Chart) error {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if !have[d.Name] {
			missing = append(missing, fmt.Sprintf("%s (from %s)", d.Name, d.Repository))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("dependencies %s are not in charts/: %w: berth does not fetch charts; run `helm dependency build` and commit charts/", strings.Join(missing, ", "), ErrRefused)
	}
	return nil
}

func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e != release.HookTest {
			return false
		}
	}
	return len(h.Events) > 0
}

func hookEvents(h *release.Hook) string {
	s := make([]string, len(h.Events))
	for i, e := range h.Events {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

// templatePath maps a template name ("mychart/templates/x.yaml") to the
// file in the repository.
func templatePath(rel, chartName, name string) string {
	return path.Join(rel, strings.TrimPrefix(name, chartName+"/"))
}

// mergeMaps merges b over a as Helm merges values files: maps merge key by
// key, anything else replaces.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bv, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, bv)
				continue
			}
		}
		out[k] = v
	}
	return out
}
