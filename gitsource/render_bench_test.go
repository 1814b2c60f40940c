package gitsource

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The rendered benchmark repository: 100 kustomize apps, each a base and
// two overlays (staging and prod, so 200 rendered Deployments), and 20
// Helm charts (a Deployment and a Job each).
const (
	benchApps   = 100
	benchCharts = 20
)

func renderBenchTree(v int) map[string]string {
	files := map[string]string{}
	for a := range benchApps {
		d := fmt.Sprintf("apps/app-%03d", a)
		files[d+"/base/kustomization.yaml"] = "resources: [deployment.yaml]\nlabels:\n- pairs: {team: t" + fmt.Sprint(a%10) + "}\n"
		files[d+"/base/deployment.yaml"] = fmt.Sprintf(benchDeployment, a, a, a, a, v)
		files[d+"/overlays/staging/kustomization.yaml"] = "resources: [../../base]\nnamespace: staging\nnamePrefix: staging-\nreplicas: [{name: web-" + fmt.Sprint(a) + ", count: 1}]\n"
		files[d+"/overlays/prod/kustomization.yaml"] = "resources: [../../base]\nnamespace: prod\nnamePrefix: prod-\nimages: [{name: 127.0.0.1:5000/shop/web, newTag: stable}]\npatches:\n- path: memory.yaml\n  target: {kind: Deployment}\n"
		files[d+"/overlays/prod/memory.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-%d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        resources: {limits: {memory: 256Mi}}\n", a)
	}
	for c := range benchCharts {
		d := fmt.Sprintf("charts/chart-%02d", c)
		files[d+"/Chart.yaml"] = fmt.Sprintf("apiVersion: v2\nname: chart-%02d\nversion: 0.1.%d\n", c, v)
		files[d+"/values.yaml"] = fmt.Sprintf("replicas: 2\nimage: 127.0.0.1:5000/shop/api:v%d\n", v)
		files[d+"/templates/_helpers.tpl"] = "{{- define \"fullname\" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n"
		files[d+"/templates/deployment.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "fullname" . }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ include "fullname" . }}}
  template:
    metadata:
      labels: {app: {{ include "fullname" . }}}
    spec:
      containers:
      - name: api
        image: {{ .Values.image }}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`
		files[d+"/templates/job.yaml"] = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "fullname" . }}-migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: {{ .Values.image }}
`
	}
	return files
}

// BenchmarkRenderSync measures, on a repository of 100 kustomize apps
// (base + 2 overlays) and 20 charts: a cold clone with every root
// rendered, and a one-file commit → new snapshot (alternately a base of
// one app and the values of one chart), where only the roots that read
// the changed file render again. uncached-ms is the same one-file commit
// loaded by a fresh loader, rendering everything (what rendering every
// root per commit, as a CI job running kustomize build per app, costs);
// speedup is uncached over incremental.
func BenchmarkRenderSync(b *testing.B) {
	u := newUpstream(b)
	u.commitPush("render tree", renderBenchTree(0))
	log, _ := testLogger(b)
	want := benchApps*2 + benchCharts*2
	for range b.N {
		s, err := New(Options{URL: u.bare, Dir: filepath.Join(b.TempDir(), "clone"), Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		cold := time.Since(start)
		if n := len(s.Current().Objects); n != want {
			b.Fatalf("%d objects, want %d", n, want)
		}
		var incr, full []time.Duration
		for r := range benchRounds {
			var change map[string]string
			if r%2 == 0 {
				a := (r * 37) % benchApps
				change = map[string]string{fmt.Sprintf("apps/app-%03d/base/deployment.yaml", a): fmt.Sprintf(benchDeployment, a, a, a, a, 1000+r)}
			} else {
				c := (r * 7) % benchCharts
				change = map[string]string{fmt.Sprintf("charts/chart-%02d/values.yaml", c): fmt.Sprintf("replicas: 3\nimage: 127.0.0.1:5000/shop/api:v%d\n", 1000+r)}
			}
			sha := u.commitPush(fmt.Sprintf("bump %d", r), change)
			start := time.Now()
			if err := s.Sync(context.Background()); err != nil {
				b.Fatal(err)
			}
			incr = append(incr, time.Since(start))
			if s.Current().Revision != sha {
				b.Fatalf("the new commit was not applied: %v", s.Status().Rejected)
			}
			// The same tree through a loader that has seen nothing.
			repo, err := s.openRepo()
			if err != nil {
				b.Fatal(err)
			}
			fsys := commitFS(b, repo, sha)
			start = time.Now()
			if _, err := s.newLoader().Load(fsys, "."); err != nil {
				b.Fatal(err)
			}
			full = append(full, time.Since(start))
		}
		slices.Sort(incr)
		slices.Sort(full)
		p50, f50 := incr[len(incr)/2], full[len(full)/2]
		b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
		b.ReportMetric(float64(p50.Microseconds())/1000, "incremental-p50-ms")
		b.ReportMetric(float64(incr[len(incr)-1].Microseconds())/1000, "incremental-max-ms")
		b.ReportMetric(float64(f50.Microseconds())/1000, "uncached-ms")
		b.ReportMetric(float64(f50)/float64(p50), "speedup")
	}
}
