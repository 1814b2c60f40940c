package render

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestKubeVersionFollowsGoMod keeps KubeVersion on the Kubernetes minor
// release of the k8s.io/api module in go.mod (v0.N.x is Kubernetes 1.N),
// so bumping the API types bumps what charts see.
func TestKubeVersionFollowsGoMod(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/api v0\.(\d+)\.`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod requires no k8s.io/api v0.N.x")
	}
	if want := "v1." + string(m[1]) + ".0"; KubeVersion != want {
		t.Errorf("KubeVersion = %s, go.mod has k8s.io/api v0.%s: want %s", KubeVersion, m[1], want)
	}
}

// TestChartsSeeKubeVersion renders .Capabilities the way charts test it
// (bitnami's common.capabilities picks API versions with semverCompare).
func TestChartsSeeKubeVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"chart/Chart.yaml": {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
		"chart/templates/cm.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  version: {{ .Capabilities.KubeVersion.Version | quote }}
  minor: {{ .Capabilities.KubeVersion.Minor | quote }}
  pdb: {{ if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version }}policy/v1{{ else }}policy/v1beta1{{ end }}
  apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
`)},
	}
	_, r, err := load(t, fsys, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(printed(r.Outputs()))
	for _, want := range []string{
		`version: "` + KubeVersion + `"`,
		`minor: "` + strings.Split(KubeVersion, ".")[1] + `"`,
		"pdb: policy/v1\n",
		`apps: "true"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered chart lacks %q:\n%s", want, got)
		}
	}
}
