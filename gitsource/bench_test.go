package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/peakrss"
)

// The benchmark repository: 10,000 manifests in 500 files, 200 commits.
const (
	benchFiles   = 500
	benchPerFile = 20
	benchCommits = 200
	benchRounds  = 10 // one-file commits timed after the cold clone
)

// benchFile renders file f of the benchmark repository at version v: a
// mix of Deployments, Pods, Jobs and CronJobs of the size people write.
func benchFile(f, v int) string {
	var b strings.Builder
	for i := range benchPerFile {
		id := f*benchPerFile + i
		if i > 0 {
			b.WriteString("---\n")
		}
		switch id % 4 {
		case 0:
			fmt.Fprintf(&b, benchDeployment, id, id, id, id, v)
		case 1:
			fmt.Fprintf(&b, benchPod, id, id, v)
		case 2:
			fmt.Fprintf(&b, benchJob, id, v)
		case 3:
			fmt.Fprintf(&b, benchCronJob, id, v)
		}
	}
	return b.String()
}

const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%d
  namespace: shop
  labels: {app: web-%d}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web-%d}
  template:
    metadata:
      labels: {app: web-%d}
    spec:
      containers:
        - name: web
          image: 127.0.0.1:5000/shop/web:v%d
          ports:
            - {name: http, containerPort: 8080}
          env:
            - {name: MODE, value: production}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {memory: 128Mi}
        - name: log-shipper
          image: 127.0.0.1:5000/shop/shipper:1.0
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`

const benchPod = `apiVersion: v1
kind: Pod
metadata:
  name: tool-%d
  namespace: ops
  labels: {app: tool-%d}
spec:
  restartPolicy: Always
  containers:
    - name: tool
      image: 127.0.0.1:5000/ops/tool:v%d
      command: ["sh", "-c", "exec sleep 3600"]
      resources:
        requests: {cpu: 10m, memory: 16Mi}
`

const benchJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate-%d
  namespace: shop
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: 127.0.0.1:5000/shop/migrate:v%d
          resources:
            requests: {cpu: 50m, memory: 32Mi}
`

const benchCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report-%d
  namespace: ops
spec:
  schedule: "*/15 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: 127.0.0.1:5000/ops/report:v%d
              resources:
                requests: {cpu: 10m, memory: 16Mi}
`

// buildBenchRepo writes the history with git fast-import (one process,
// seconds rather than minutes of `git commit`).
func buildBenchRepo(b *testing.B, u *upstream) {
	var s bytes.Buffer
	w := bufio.NewWriter(&s)
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for c := range benchCommits {
		msg := fmt.Sprintf("change %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", when+int64(c), len(msg), msg)
		files := []int{c % benchFiles, (c * 7) % benchFiles}
		if c == 0 {
			files = nil
			for f := range benchFiles {
				files = append(files, f)
			}
		}
		for _, f := range files {
			data := benchFile(f, c)
			fmt.Fprintf(w, "M 100644 inline team-%02d/app-%03d.yaml\ndata %d\n%s\n", f%20, f, len(data), data)
		}
	}
	w.Flush()
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = u.bare, u.env, &s
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	u.git(u.work, "fetch", "-q", "origin")
	u.git(u.work, "reset", "-q", "--hard", "origin/main")
}

func resetPeakRSS() { peakrss.Reset() }

func peakRSSMB(b *testing.B) float64 {
	mb, err := peakrss.MB()
	if err != nil {
		b.Fatal(err)
	}
	return mb
}

// BenchmarkSync measures, on 10,000 manifests in 500 files with 200
// commits of history: a cold clone plus the first snapshot, and the time
// from a one-file commit to its snapshot (list, incremental fetch,
// rebuild reusing unchanged files), over a local path and over smart HTTP
// (git http-backend). peak-MB is the process's peak RSS (VmHWM) from the
// cold clone on; live-heap-MB the heap a Source holding the snapshot keeps
// after a collection.
func BenchmarkSync(b *testing.B) {
	u := newUpstream(b)
	buildBenchRepo(b, u)
	srv := serveGit(b, u.root, "", "")
	log, _ := testLogger(b)
	for _, tr := range []struct {
		name string
		url  string
	}{{"file", u.bare}, {"http", srv.URL + "/repo.git"}} {
		b.Run(tr.name, func(b *testing.B) {
			for range b.N {
				resetPeakRSS()
				s, err := New(Options{URL: tr.url, Dir: filepath.Join(b.TempDir(), "clone"), Logger: log})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := s.Sync(context.Background()); err != nil {
					b.Fatal(err)
				}
				cold := time.Since(start)
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				live := float64(ms.HeapAlloc) / (1 << 20)
				if n := len(s.Current().Objects); n != benchFiles*benchPerFile {
					b.Fatalf("%d objects, want %d", n, benchFiles*benchPerFile)
				}
				var incr []time.Duration
				for r := range benchRounds {
					f := (r * 37) % benchFiles
					sha := u.commitPush(fmt.Sprintf("bump %d", r), map[string]string{
						fmt.Sprintf("team-%02d/app-%03d.yaml", f%20, f): benchFile(f, 1000+r),
					})
					start := time.Now()
					if err := s.Sync(context.Background()); err != nil {
						b.Fatal(err)
					}
					incr = append(incr, time.Since(start))
					if s.Current().Revision != sha {
						b.Fatal("the new commit was not applied")
					}
				}
				slices.Sort(incr)
				b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
				b.ReportMetric(float64(incr[len(incr)/2].Microseconds())/1000, "incremental-p50-ms")
				b.ReportMetric(float64(incr[len(incr)-1].Microseconds())/1000, "incremental-max-ms")
				b.ReportMetric(peakRSSMB(b), "peak-MB")
				b.ReportMetric(live, "live-heap-MB")
			}
		})
	}
}
