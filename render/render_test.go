package render

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/manifest"
)

var update = flag.Bool("update", false, "rewrite want.yaml files from what the render prints")

// printed is what berth validate --rendered prints for a tree.
func printed(outs []Output) []byte {
	var b bytes.Buffer
	for _, o := range outs {
		fmt.Fprintf(&b, "# berth: %s rendered by %s\n", o.Root, o.Tool)
		b.Write(o.YAML)
	}
	return b.Bytes()
}

// TestGolden renders each testdata/<tool>/<case>/in and compares with
// want.yaml: the output of kubectl kustomize (legacy order, sorted keys,
// hash suffixes of generated objects) or helm template for that input.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/*/want.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, want := range cases {
		dir := filepath.Dir(want)
		t.Run(dir, func(t *testing.T) {
			r := New(Limits{})
			_, err := (&manifest.Loader{Renderer: r}).Load(os.DirFS(filepath.Join(dir, "in")), ".")
			got := printed(r.Outputs())
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, rerr := os.ReadFile(want)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(got, w) {
				t.Errorf("render differs from %s (load errors: %v)\n--- got\n%s--- want\n%s", want, err, got, w)
			}
		})
	}
}

// load reads a MapFS tree with a fresh renderer.
func load(t *testing.T, fsys fs.FS, l Limits) (*manifest.Tree, *Renderer, error) {
	t.Helper()
	r := New(l)
	tree, err := (&manifest.Loader{Renderer: r}).Load(fsys, ".")
	return tree, r, err
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: busybox
`

func TestRefused(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{
			name: "a remote base",
			files: fstest.MapFS{"app/kustomization.yaml": {Data: []byte(
				"resources:\n- github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6\n")}},
			want: `refused: remote "github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6"`,
		},
		{
			name: "a remote resource by URL",
			files: fstest.MapFS{"app/kustomization.yaml": {Data: []byte(
				"resources:\n- https://raw.githubusercontent.com/x/y/main/deploy.yaml\n")}},
			want: `refused: remote "https://raw.githubusercontent.com/x/y/main/deploy.yaml"`,
		},
		{
			name: "an exec plugin",
			files: fstest.MapFS{
				"app/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\ngenerators: [gen.yaml]\n")},
				"app/deploy.yaml":        {Data: []byte(deployment)},
				"app/gen.yaml": {Data: []byte(`apiVersion: example.com/v1
kind: Gen
metadata:
  name: gen
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./gen.sh
`)},
			},
			want: "external plugins disabled",
		},
		{
			name: "helm from a kustomization",
			files: fstest.MapFS{"app/kustomization.yaml": {Data: []byte(
				"helmCharts:\n- name: redis\n  repo: https://charts.example.com\n")}},
			want: "refused: helmCharts needs the helm binary",
		},
		{
			name: "a symlink out of the tree",
			files: fstest.MapFS{
				"app/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\n")},
				"app/deploy.yaml":        {Data: []byte("../../../etc/passwd"), Mode: fs.ModeSymlink},
			},
			want: "/app/deploy.yaml: symlinks are not followed by a render",
		},
		{
			name: "a chart dependency that is not vendored",
			files: fstest.MapFS{
				"chart/Chart.yaml": {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n")},
			},
			want: "dependencies redis (from https://charts.example.com) are not in charts/: refused: berth does not fetch charts",
		},
		{
			name: "a Helm install hook",
			files: fstest.MapFS{
				"chart/Chart.yaml": {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
				"chart/templates/job.yaml": {Data: []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
`)},
			},
			want: "c/templates/job.yaml: Job migrate is a Helm hook (pre-install,pre-upgrade): refused",
		},
		{
			name: "a values file outside the manifests path",
			files: fstest.MapFS{
				".berth.yaml":      {Data: []byte("helm:\n  valuesFiles: [../../secret.yaml]\n")},
				"chart/Chart.yaml": {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
			},
			want: "outside the manifests path",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.files, Limits{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant one containing %q", err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	chart := fstest.MapFS{
		"chart/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
		"chart/templates/big.yaml": {Data: []byte("{{ range until 200000 }}# {{ . }} padding padding padding\n{{ end }}")},
	}
	tests := []struct {
		name   string
		limits Limits
		want   error
	}{
		{name: "output over the limit", limits: Limits{MaxOutput: 1 << 20}, want: ErrTooLarge},
		{name: "input over the limit", limits: Limits{MaxInput: 10}, want: ErrTooLarge},
		{name: "render past the timeout", limits: Limits{Timeout: time.Nanosecond}, want: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, chart, tt.limits)
			if err == nil || !strings.Contains(err.Error(), tt.want.Error()) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestGeneratorChangeRollsDeployment: a configMapGenerator literal is part
// of the generated name, so changing it changes the Deployment's pod
// template and the Deployment rolls.
func TestGeneratorChangeRollsDeployment(t *testing.T) {
	tree := func(greeting string) fstest.MapFS {
		return fstest.MapFS{
			"app/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [GREETING=" + greeting + "]\n")},
			"app/deploy.yaml": {Data: []byte(deployment + `        envFrom:
        - configMapRef: {name: cfg}
`)},
		}
	}
	template := func(fsys fs.FS) string {
		r := New(Limits{})
		res := r.Render(fsys, ".", []string{"app"}, manifest.Config{})
		if len(res.Errors) > 0 {
			t.Fatal(res.Errors)
		}
		for _, f := range res.Files {
			if bytes.Contains(f.Data, []byte("kind: Deployment")) {
				_, tmpl, _ := bytes.Cut(f.Data, []byte("template:"))
				return string(tmpl)
			}
		}
		t.Fatal("no Deployment rendered")
		return ""
	}
	a, b := template(tree("hello")), template(tree("bonjour"))
	if a == b {
		t.Fatalf("the pod template did not change with the literal:\n%s", a)
	}
	if !strings.Contains(a, "name: cfg-") || !strings.Contains(b, "name: cfg-") {
		t.Fatalf("the Deployment does not refer to the hashed ConfigMap:\n%s\n%s", a, b)
	}
}

// TestErrorsPointAtSource: a field berth refuses in a rendered object is
// reported at the line of the file the user wrote.
func TestErrorsPointAtSource(t *testing.T) {
	fsys := fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\n")},
		"base/deploy.yaml":        {Data: []byte(deployment + "        bogus: 1\n")},
		"prod/kustomization.yaml": {Data: []byte("resources: [../base]\nnamePrefix: prod-\nimages: [{name: busybox, newTag: \"1\"}]\n")},
		"chart/Chart.yaml":        {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
		"chart/templates/pod.yaml": {Data: []byte(`apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}
spec:
  containers: [{name: a, image: busybox, bogus: 2}]
`)},
	}
	_, _, err := load(t, fsys, Limits{})
	var errs manifest.ErrorList
	if !errors.As(err, &errs) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	want := []string{
		"base/deploy.yaml:15: spec.template.spec.containers[0].bogus: unknown field",
		"chart/templates/pod.yaml: spec.containers[0].bogus: unknown field (in the output of template c/templates/pod.yaml, line 6 of its rendered output)",
	}
	got := strings.Split(errs.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOnlyChangedRootsRender: with a content-hashing tree, a change to one
// app renders that app (and what reads it) again, and nothing else.
func TestOnlyChangedRootsRender(t *testing.T) {
	fsys := hashFS{fstest.MapFS{
		"a/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\n")},
		"a/deploy.yaml":        {Data: []byte(deployment)},
		"b/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\nnamePrefix: b-\n")},
		"b/deploy.yaml":        {Data: []byte(deployment)},
	}}
	r := New(Limits{})
	l := &manifest.Loader{Renderer: r}
	if _, err := l.Load(fsys, "."); err != nil {
		t.Fatal(err)
	}
	if r.renders != 2 {
		t.Fatalf("first load rendered %d roots, want 2", r.renders)
	}
	if _, err := l.Load(fsys, "."); err != nil {
		t.Fatal(err)
	}
	if r.renders != 2 {
		t.Fatalf("an unchanged tree rendered again (%d renders)", r.renders)
	}
	fsys.MapFS["b/deploy.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(deployment, "image: busybox", "image: busybox:1.36", 1))}
	tree, err := l.Load(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if r.renders != 3 {
		t.Fatalf("one changed root: %d renders in all, want 3", r.renders)
	}
	if got := tree.Objects[1].Deployment.Spec.Template.Spec.Containers[0].Image; tree.Objects[1].Name != "b-web" || got != "busybox:1.36" {
		t.Fatalf("b-web was not re-rendered: %s %s", tree.Objects[1].Name, got)
	}
}

// hashFS gives a MapFS content hashes, as a Git tree has.
type hashFS struct{ fstest.MapFS }

type hashedInfo struct {
	fs.FileInfo
	hash string
}

func (i hashedInfo) ContentHash() string { return i.hash }

func (h hashFS) Stat(name string) (fs.FileInfo, error) {
	st, err := h.MapFS.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		ents, _ := h.MapFS.ReadDir(name)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return hashedInfo{st, strings.Join(names, "/")}, nil
	}
	sum := sha256.Sum256(h.MapFS[name].Data)
	return hashedInfo{st, string(sum[:])}, nil
}

// Lstat: the tree has no symlinks, and the hashes come from Stat.
func (h hashFS) Lstat(name string) (fs.FileInfo, error) { return h.Stat(name) }

func TestRootsAndTemplateErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		objects []string
		skipped []string
		err     string
	}{
		{
			name: "a kustomization at the root of the manifests path",
			files: fstest.MapFS{
				"kustomization.yaml": {Data: []byte("resources: [web/deploy.yaml]\nnamePrefix: root-\n")},
				"web/deploy.yaml":    {Data: []byte(deployment)},
			},
			objects: []string{"Deployment/root-web"},
		},
		{
			name: "a template error names the template and its line",
			files: fstest.MapFS{
				"c/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
				"c/templates/pod.yaml": {Data: []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name | required \"name is required\" }}\n")},
			},
			err: "c: helm: execution error at (c/templates/pod.yaml:4:",
		},
		{
			name: "a test hook is listed as skipped, not run",
			files: fstest.MapFS{
				"c/Chart.yaml": {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
				"c/templates/test.yaml": {Data: []byte(`apiVersion: v1
kind: Pod
metadata:
  name: c-test
  annotations: {"helm.sh/hook": test}
spec:
  containers: [{name: t, image: busybox}]
`)},
			},
			skipped: []string{"Pod/c-test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, _, err := load(t, tt.files, Limits{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			names := func(objs []manifest.Object) string {
				var out []string
				for _, o := range objs {
					out = append(out, string(o.Kind)+"/"+o.Name)
				}
				return strings.Join(out, ",")
			}
			if got := names(tree.Objects); got != strings.Join(tt.objects, ",") {
				t.Errorf("objects %v, want %v", got, tt.objects)
			}
			if got := names(tree.Skipped); got != strings.Join(tt.skipped, ",") {
				t.Errorf("skipped %v, want %v", got, tt.skipped)
			}
		})
	}
}

// TestCachedErrorsFollowTheSource: a cached render whose source file gains
// a line above the faulty field reports the new line, not the cached one.
func TestCachedErrorsFollowTheSource(t *testing.T) {
	fsys := hashFS{fstest.MapFS{
		"a/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\n")},
		"a/deploy.yaml":        {Data: []byte(deployment + "        bogus: 1\n")},
	}}
	l := &manifest.Loader{Renderer: New(Limits{})}
	for _, tc := range []struct {
		name   string
		prefix string
		want   string
	}{
		{name: "as written", want: "a/deploy.yaml:15:"},
		{name: "a comment added on top", prefix: "# moved\n", want: "a/deploy.yaml:16:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys.MapFS["a/deploy.yaml"] = &fstest.MapFile{Data: []byte(tc.prefix + deployment + "        bogus: 1\n")}
			_, err := l.Load(fsys, ".")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it at %s", err, tc.want)
			}
		})
	}
}
