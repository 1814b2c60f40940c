package plan_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/internal/peakrss"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/plan"
	"github.com/berth-dev/berth/reconciler"
)

// The benchmark repository: 10,000 manifests in 500 files (a Deployment
// of 3 replicas and three Pods in every four manifests); the cluster: 200
// nodes running its 10,000 pods.
const (
	planFiles   = 500
	planPerFile = 20
)

func planBenchFile(f int, image string) string {
	var b strings.Builder
	for i := range planPerFile {
		id := f*planPerFile + i
		if i > 0 {
			b.WriteString("---\n")
		}
		if id%4 == 0 {
			fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-%d, namespace: shop}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web-%d}}\n  template:\n    metadata: {labels: {app: web-%d}}\n    spec:\n      containers:\n      - name: web\n        image: %s\n        resources: {requests: {cpu: 100m, memory: 64Mi}}\n", id, id, id, image)
		} else {
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: tool-%d, namespace: ops}\nspec:\n  containers:\n  - name: tool\n    image: busybox:1.36\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n", id)
		}
	}
	return b.String()
}

// planCluster is 200 nodes running the pods of rev (10,000 of them).
func planCluster(rev plan.Revision) *api.ClusterSnapshot {
	s := &api.ClusterSnapshot{Time: planNow}
	for i := range 200 {
		s.Nodes = append(s.Nodes, api.SnapshotNode{Name: fmt.Sprintf("node-%03d", i), Ready: true, Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")}})
	}
	i := 0
	bind := func(ns, name string, spec corev1.PodSpec, kind, owner, hash string) {
		pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
		pod.Spec.NodeName = s.Nodes[i%len(s.Nodes)].Name
		pod.Status.Phase = corev1.PodRunning
		i++
		s.Pods = append(s.Pods, api.SnapshotPod{Pod: pod, OwnerKind: kind, OwnerName: owner, TemplateHash: hash})
	}
	for _, o := range rev.Objects {
		switch o.Kind {
		case manifest.KindDeployment:
			for r := range 3 {
				bind(o.Namespace, fmt.Sprintf("%s-%d", o.Name, r), o.Deployment.Spec.Template.Spec, reconciler.OwnerDeployment, o.Name, reconciler.DeploymentTemplateHash(o.Deployment))
			}
		case manifest.KindPod:
			bind(o.Namespace, o.Name, o.Pod.Spec, reconciler.OwnerPod, o.Name, reconciler.PodTemplateHash(o.Pod))
		}
	}
	return s
}

// BenchmarkPlan measures `berth plan` on the 10,000-manifest repository
// against a 200-node, 10,000-pod snapshot: reading both revisions from
// Git (cold: no cache), the diff, consequences, admission by the
// scheduler, and the Markdown. changed is how many objects the head
// changes (5: one file; 1,000: 200 files). peak-MB is the process's
// peak RSS (VmHWM) from the start of the plan; md-bytes the comment's
// length and md-cut how many object diffs it had to leave out. cpu-ms is
// the process's user and system time over the plan: on a loaded machine
// wall-ms measures the neighbours as much as berth.
func BenchmarkPlan(b *testing.B) {
	base := map[string]string{}
	for f := range planFiles {
		base[fmt.Sprintf("apps/team-%02d/app-%03d.yaml", f%20, f)] = planBenchFile(f, "shop/web:v1")
	}
	for _, files := range []int{1, 200} {
		b.Run(fmt.Sprintf("changed=%d", files*planPerFile/4), func(b *testing.B) {
			head := map[string]string{}
			for f := range files {
				head[fmt.Sprintf("apps/team-%02d/app-%03d.yaml", f%20, f)] = planBenchFile(f, "shop/web:v2")
			}
			dir := repo(b, base, head)
			baseRev := benchRead(b, newReader(b, dir), "HEAD~1")
			cluster := planCluster(baseRev)
			for range b.N {
				peakrss.Reset()
				start, cpu0 := time.Now(), cpuTime()
				r := newReader(b, dir)
				p, err := plan.Compute(plan.Input{Base: benchRead(b, r, "HEAD~1"), Head: benchRead(b, r, "HEAD"), Cluster: cluster, Now: planNow})
				if err != nil {
					b.Fatal(err)
				}
				md := plan.Markdown(p, 0)
				wall, cpu := time.Since(start), cpuTime()-cpu0
				if p.Verdict != plan.VerdictChanges || p.Fit == nil || !p.Fit.Admitted {
					b.Fatalf("verdict %s: %s", p.Verdict, p.Summary)
				}
				b.ReportMetric(float64(wall.Milliseconds()), "wall-ms")
				b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms")
				peak, err := peakrss.MB()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(peak, "peak-MB")
				b.ReportMetric(float64(len(md)), "md-bytes")
				b.ReportMetric(float64(len(p.Changes)), "objects-changed")
				b.ReportMetric(float64(len(p.Changes)-strings.Count(md, "<details>")), "md-cut")
			}
		})
	}
}

func newReader(b *testing.B, dir string) *gitsource.Reader {
	r, err := gitsource.NewReader(dir, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchRead(b *testing.B, r *gitsource.Reader, rev string) plan.Revision {
	snap, err := r.Read(rev)
	rv, err := plan.RevisionOf(snap, err, "")
	if err != nil {
		b.Fatal(err)
	}
	return rv
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
