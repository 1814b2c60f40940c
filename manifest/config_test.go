package manifest

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

const skipPod = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: app, image: busybox}]
`

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		files   map[string]string
		objects []string // Kind/name of what runs
		skipped []string // Kind/name of what is skipped
		errors  string
	}{
		{
			name:    "no .berth.yaml refuses an unknown kind by name",
			files:   map[string]string{"a.yaml": skipPod, "ing.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n"},
			objects: []string{"Pod/web"},
			errors:  `ing.yaml:2: kind: unknown kind "Ingress"`,
		},
		{
			name:    "skipKinds lists the object instead",
			config:  "skipKinds: [Ingress, HorizontalPodAutoscaler]\n",
			files:   map[string]string{"a.yaml": skipPod, "ing.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec: {rules: []}\n"},
			objects: []string{"Pod/web"},
			skipped: []string{"Ingress/web"},
		},
		{
			name:   "a skipped object is still decoded: garbage is an error",
			config: "skipKinds: [Ingress]\n",
			files:  map[string]string{"ing.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec: {a: 1, a: 2}\n"},
			errors: "ing.yaml:4: spec.a",
		},
		{
			name:   "a skipped object needs a name",
			config: "skipKinds: [Ingress]\n",
			files:  map[string]string{"ing.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {}\n"},
			errors: "ing.yaml:3: metadata.name: Required value",
		},
		{
			name:   "an unknown key in .berth.yaml is an error with its line",
			config: "skipKinds: [Ingress]\nskipKind: [Service]\n",
			errors: `.berth.yaml:2: unknown field "skipKind"`,
		},
		{
			name:   "an unknown key in helm: is an error with its line",
			config: "helm:\n  releaseName: a\n  valueFiles: [x.yaml]\n",
			errors: `.berth.yaml:3: unknown field "valueFiles"`,
		},
		{
			name:   "a kind berth runs cannot be skipped",
			config: "skipKinds: [Deployment]\n",
			errors: ".berth.yaml: skipKinds[0]: berth runs Deployment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, c := range tt.files {
				fsys["repo/"+n] = &fstest.MapFile{Data: []byte(c)}
			}
			if tt.config != "" {
				fsys["repo/.berth.yaml"] = &fstest.MapFile{Data: []byte(tt.config)}
			}
			tree, err := new(Loader).Load(fsys, "repo")
			if tt.errors == "" && err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.errors != "" {
				if err == nil || !contains(err.Error(), tt.errors) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.errors)
				}
				return
			}
			if got := kindNames(tree.Objects); !reflect.DeepEqual(got, tt.objects) {
				t.Errorf("objects = %v, want %v", got, tt.objects)
			}
			if got := kindNames(tree.Skipped); !reflect.DeepEqual(got, tt.skipped) {
				t.Errorf("skipped = %v, want %v", got, tt.skipped)
			}
		})
	}
}

func TestHelmFor(t *testing.T) {
	c, errs := ParseConfig([]byte(`helm:
  namespace: web
  valuesFiles: [values-production.yaml]
  charts:
    apps/redis: {releaseName: cache, values: {replicas: 2}}
`))
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name string
		dir  string
		want HelmSettings
	}{
		{name: "defaults and the shared section", dir: "helm-guestbook",
			want: HelmSettings{ReleaseName: "helm-guestbook", Namespace: "web", ValuesFiles: []string{"values-production.yaml"}}},
		{name: "a chart's own section replaces what it sets", dir: "apps/redis",
			want: HelmSettings{ReleaseName: "cache", Namespace: "web", ValuesFiles: []string{"values-production.yaml"}, Values: map[string]any{"replicas": 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.HelmFor(tt.dir); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HelmFor(%q) = %+v, want %+v", tt.dir, got, tt.want)
			}
		})
	}
}

func kindNames(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, string(o.Kind)+"/"+o.Name)
	}
	return out
}

func contains(s, sub string) bool {
	return strings.Contains(s, sub)
}
