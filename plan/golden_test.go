package plan_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/plan"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/scheduler"
	"k8s.io/apimachinery/pkg/api/resource"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var planNow = time.Date(2026, 12, 3, 9, 47, 0, 0, time.UTC)

// repo commits base and then head (files by path; a nil value removes
// the file) with fixed signatures, so SHAs are the same on every run.
func repo(t testing.TB, base, head map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Dev", Email: "dev@example.com", When: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	for i, files := range []map[string]string{base, head} {
		for name, content := range files {
			p := filepath.Join(dir, name)
			if content == "" {
				_ = os.Remove(p)
				continue
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		msg := []string{"base", "head"}[i]
		if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func read(t *testing.T, dir, rev, path string) plan.Revision {
	t.Helper()
	reader, err := gitsource.NewReader(dir, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := reader.Read(rev)
	r, err := plan.RevisionOf(snap, err, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func node(name, mem string, cordoned bool) api.SnapshotNode {
	return api.SnapshotNode{Name: name, Ready: true, Unschedulable: cordoned, Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")}}
}

// running adds to snap the pods the server runs for the Deployments and
// Jobs of rev, bound to nodes in turn, as the store would hold them.
func running(snap *api.ClusterSnapshot, rev plan.Revision, nodes ...string) {
	i := 0
	for _, o := range rev.Objects {
		var spec corev1.PodSpec
		var n int
		var hash string
		switch o.Kind {
		case manifest.KindDeployment:
			spec, n, hash = o.Deployment.Spec.Template.Spec, int(*o.Deployment.Spec.Replicas), reconciler.DeploymentTemplateHash(o.Deployment)
		case manifest.KindJob:
			spec, n = o.Job.Spec.Template.Spec, 1
			snap.Jobs = append(snap.Jobs, api.SnapshotJob{Job: *o.Job})
		default:
			continue
		}
		for r := 0; r < n; r++ {
			pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name + "-" + string(rune('a'+r))}, Spec: spec}
			pod.Spec.NodeName = nodes[i%len(nodes)]
			pod.Status.Phase = corev1.PodRunning
			i++
			snap.Pods = append(snap.Pods, api.SnapshotPod{Pod: pod, OwnerKind: string(o.Kind), OwnerName: o.Name, TemplateHash: hash})
		}
	}
}

const web = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources:
          requests:
            cpu: 250m
            memory: 512Mi
`

const webReformatted = `# the same Deployment, written differently
kind: Deployment
apiVersion: apps/v1
metadata: {name: web, namespace: default}
spec:
  template:
    spec:
      containers:
        - image: "nginx:1.25"
          name: web
          resources: {requests: {memory: 512Mi, cpu: 250m}}
    metadata: {labels: {app: web}}
  selector: {matchLabels: {app: web}}
  replicas: 3
`

func cache(name, mem string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  replicas: 1
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: cache
        image: redis:7
        resources:
          requests:
            cpu: 100m
            memory: ` + mem + `
`
}

func service(name, clusterIP string) string {
	s := `apiVersion: v1
kind: Service
metadata:
  name: ` + name + `
spec:
  selector: {app: web}
  ports: [{port: 80}]
`
	if clusterIP != "" {
		s += "  clusterIP: " + clusterIP + "\n"
	}
	return s
}

const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: crunch
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: crunch
        image: busybox:1.36
        command: [sh, -c, "echo 1"]
`

const cron = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: date
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: date
            image: busybox:1.36
            command: [date]
`

const logging = `apiVersion: v1
kind: Pod
metadata:
  name: logging
spec:
  containers:
  - name: log
    image: busybox:1.36
`

const kustomization = `resources: [web.yaml]
replicas:
- name: web
  count: 2
`

type goldenCase struct {
	name       string
	base, head map[string]string
	path       string
	// cluster builds the snapshot from the base revision; nil: three
	// empty 8Gi nodes.
	cluster  func(base plan.Revision) *api.ClusterSnapshot
	wantExit int
}

func threeNodes() *api.ClusterSnapshot {
	return &api.ClusterSnapshot{Time: planNow.Add(-5 * time.Minute), Applied: &api.Revision{SHA: strings.Repeat("a", 40)},
		Nodes: []api.SnapshotNode{node("n1", "8Gi", false), node("n2", "8Gi", false), node("n3", "8Gi", false)}}
}

func withRunning(base plan.Revision) *api.ClusterSnapshot {
	s := threeNodes()
	running(s, base, "n1", "n2", "n3")
	return s
}

func TestGolden(t *testing.T) {
	cases := []goldenCase{
		{name: "no-change", base: map[string]string{"apps/web.yaml": web}, head: map[string]string{}, cluster: withRunning, wantExit: 0},
		{name: "reformatted", base: map[string]string{"apps/web.yaml": web}, head: map[string]string{"apps/web.yaml": webReformatted}, cluster: withRunning, wantExit: 0},
		{name: "image-bump", base: map[string]string{"apps/web.yaml": web}, head: map[string]string{"apps/web.yaml": strings.Replace(web, "nginx:1.25", "nginx:1.27", 1)}, cluster: withRunning, wantExit: 1},
		{name: "scale-up-fits", base: map[string]string{"apps/web.yaml": web}, head: map[string]string{"apps/web.yaml": strings.Replace(web, "replicas: 3", "replicas: 5", 1)}, cluster: withRunning, wantExit: 1},
		{
			name: "scale-up-does-not-fit",
			base: map[string]string{"apps/web.yaml": web, "apps/cache-a.yaml": cache("cache-a", "6042Mi"), "apps/cache-b.yaml": cache("cache-b", "6656Mi")},
			head: map[string]string{"apps/web.yaml": strings.NewReplacer("replicas: 3", "replicas: 5", "memory: 512Mi", "memory: 4Gi").Replace(web)},
			cluster: func(base plan.Revision) *api.ClusterSnapshot {
				s := threeNodes()
				s.Nodes[2].Unschedulable = true
				var caches plan.Revision
				for _, o := range base.Objects {
					if strings.HasPrefix(o.Name, "cache") {
						caches.Objects = append(caches.Objects, o)
					}
				}
				running(s, caches, "n1", "n2")
				return s
			},
			wantExit: 2,
		},
		{name: "invalid-field", base: map[string]string{"apps/web.yaml": web}, head: map[string]string{"apps/web.yaml": strings.Replace(web, "        image: nginx:1.25\n", "        image: nginx:1.25\n        imagePolicy: Always\n", 1)}, cluster: withRunning, wantExit: 2},
		{name: "removed-pod", base: map[string]string{"apps/web.yaml": web, "pods/logging.yaml": logging}, head: map[string]string{"pods/logging.yaml": ""}, cluster: withRunning, wantExit: 1},
		{name: "job-spec-change", base: map[string]string{"batch/job.yaml": job}, head: map[string]string{"batch/job.yaml": strings.Replace(job, "echo 1", "echo 2", 1)}, cluster: withRunning, wantExit: 1},
		{name: "cronjob-schedule", base: map[string]string{"batch/cron.yaml": cron}, head: map[string]string{"batch/cron.yaml": strings.Replace(cron, "*/5 * * * *", "0 * * * *", 1)}, cluster: withRunning, wantExit: 1},
		{name: "kustomize-overlay", path: "deploy", base: map[string]string{"deploy/web.yaml": web, "deploy/kustomization.yaml": kustomization}, head: map[string]string{"deploy/kustomization.yaml": strings.Replace(kustomization, "count: 2", "count: 4", 1)}, cluster: withRunning, wantExit: 1},
		{
			// The server refuses a Service writing an address another
			// holds before it places pods; the plan says so too.
			name: "service-clash",
			base: map[string]string{"apps/web.yaml": web, "apps/web-svc.yaml": service("web", "")},
			head: map[string]string{"apps/thief-svc.yaml": service("thief", "198.19.0.20")},
			cluster: func(base plan.Revision) *api.ClusterSnapshot {
				s := withRunning(base)
				s.ServiceCIDR = "198.19.0.0/16"
				s.Services = map[string]api.SnapshotService{"default/web": {ClusterIP: "198.19.0.20"}}
				return s
			},
			wantExit: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, tc.base, tc.head)
			base, head := read(t, dir, "HEAD~1", tc.path), read(t, dir, "HEAD", tc.path)
			source := func(name string) []byte { b, _ := os.ReadFile(filepath.Join(dir, name)); return b }
			p, err := plan.Compute(plan.Input{Base: base, Head: head, Cluster: tc.cluster(base), Strategy: scheduler.StrategySpread, Now: planNow, Local: time.UTC, Source: source})
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range p.Changes {
				// An object of a kind the diff cannot print shows as null.
				if strings.Contains(ch.Diff, "\n+null\n") || strings.Contains(ch.Diff, "\n-null\n") {
					t.Errorf("%s: the diff does not print the object:\n%s", ch.Title(), ch.Diff)
				}
			}
			if got := p.Verdict.ExitCode(); got != tc.wantExit {
				t.Errorf("exit code %d, want %d (%s)", got, tc.wantExit, p.Summary)
			}
			var text, js, ann bytes.Buffer
			if err := plan.Text(&text, p, false); err != nil {
				t.Fatal(err)
			}
			if err := plan.JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			if err := plan.GitHubAnnotations(&ann, p); err != nil {
				t.Fatal(err)
			}
			for ext, got := range map[string]string{"txt": text.String(), "md": plan.Markdown(p, 0), "json": js.String(), "annotations": ann.String()} {
				golden(t, filepath.Join("testdata", tc.name+"."+ext), got)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (go test ./plan -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestPlanWithoutSnapshotRefusesClashes: without a cluster snapshot the
// plan still runs the refusals that need none (reconciler.Check), so two
// Services of the head writing one address are refused, not admitted.
func TestPlanWithoutSnapshotRefusesClashes(t *testing.T) {
	dir := repo(t, map[string]string{"apps/web.yaml": web},
		map[string]string{"apps/a-svc.yaml": service("a", "198.19.0.30"), "apps/b-svc.yaml": service("b", "198.19.0.30")})
	p, err := plan.Compute(plan.Input{Base: read(t, dir, "HEAD~1", ""), Head: read(t, dir, "HEAD", ""), Now: planNow})
	if err != nil {
		t.Fatal(err)
	}
	if p.Verdict != plan.VerdictRefused || len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "already allocated to Service default/a") {
		t.Fatalf("verdict %s, errors %v: want refused for b's clash with a", p.Verdict, p.Errors)
	}
	if p.Fit != nil {
		t.Errorf("fit %+v without a snapshot", p.Fit)
	}
}
