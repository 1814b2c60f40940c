package manifest

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// genTree builds a tree of n objects in files files: Deployments, Pods,
// Jobs and CronJobs of the size people write (two containers, probes,
// resources, env, volumes), so the figures mean something.
func genTree(n, files int) fstest.MapFS {
	fsys := fstest.MapFS{}
	per := n / files
	for f := 0; f < files; f++ {
		var b strings.Builder
		for i := 0; i < per; i++ {
			id := f*per + i
			if i > 0 {
				b.WriteString("---\n")
			}
			switch id % 4 {
			case 0:
				fmt.Fprintf(&b, deploymentTmpl, id, id, id, id, id)
			case 1:
				fmt.Fprintf(&b, podTmpl, id, id)
			case 2:
				fmt.Fprintf(&b, jobTmpl, id)
			case 3:
				fmt.Fprintf(&b, cronTmpl, id)
			}
		}
		fsys[fmt.Sprintf("team-%02d/app-%03d.yaml", f%20, f)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

const deploymentTmpl = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%d
  namespace: shop
  labels: {app: web-%d, tier: frontend}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web-%d}
  template:
    metadata:
      labels: {app: web-%d, tier: frontend}
      annotations: {team: shop}
    spec:
      volumes:
        - name: cache
          emptyDir: {sizeLimit: 64Mi}
      containers:
        - name: web
          image: registry.example:5000/shop/web:1.%d
          command: ["/bin/web", "--port=8080"]
          env:
            - {name: MODE, value: production}
            - {name: CACHE_DIR, value: /cache}
          ports:
            - {name: http, containerPort: 8080}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
          volumeMounts:
            - {name: cache, mountPath: /cache}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
          livenessProbe:
            tcpSocket: {port: 8080}
        - name: metrics
          image: registry.example:5000/shop/exporter:2.1
          args: ["--listen=:9100"]
          ports:
            - {containerPort: 9100}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`

const podTmpl = `apiVersion: v1
kind: Pod
metadata:
  name: tool-%d
  labels: {app: tool-%d}
spec:
  volumes:
    - name: logs
      emptyDir: {}
  initContainers:
    - name: shipper
      image: registry.example:5000/ops/shipper:3
      restartPolicy: Always
      volumeMounts: [{name: logs, mountPath: /logs}]
  containers:
    - name: tool
      image: registry.example:5000/ops/tool:3
      command: ["sh", "-c", "while true; do date >> /logs/out; sleep 5; done"]
      volumeMounts: [{name: logs, mountPath: /logs}]
      resources:
        limits: {memory: 64Mi}
`

const jobTmpl = `apiVersion: batch/v1
kind: Job
metadata:
  name: report-%d
spec:
  completions: 5
  parallelism: 2
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: registry.example:5000/batch/report:7
          args: ["--all"]
          resources:
            requests: {cpu: 250m, memory: 64Mi}
`

const cronTmpl = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-%d
spec:
  schedule: "30 2 * * *"
  timeZone: Europe/Berlin
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: backup
              image: registry.example:5000/ops/backup:1
              command: ["backup", "--all"]
`

// peakHeap samples the live heap while f runs and returns the highest
// value seen, in bytes, counting only what f added over the heap at start.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

func maxRSS() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}

// BenchmarkLoad10k is the benchmark: a tree of 10,000 objects in
// 200 files loaded and validated. Targets: under 1 s, under 150 MB.
func BenchmarkLoad10k(b *testing.B) {
	fsys := genTree(10000, 200)
	b.ResetTimer()
	var elapsed time.Duration
	var peak uint64
	for i := 0; i < b.N; i++ {
		var objs []Object
		var err error
		peak = max(peak, peakHeap(func() {
			start := time.Now()
			objs, err = Load(fsys, ".")
			elapsed += time.Since(start)
		}))
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 10000 {
			b.Fatalf("loaded %d objects", len(objs))
		}
	}
	per := elapsed / time.Duration(b.N)
	b.ReportMetric(10000/per.Seconds(), "objects/s")
	b.ReportMetric(float64(per.Milliseconds()), "total-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(maxRSS(), "max-RSS-MB")
}

// BenchmarkDecodeFile measures one file of 50 objects, the unit gitsource
// re-decodes when a blob changes.
func BenchmarkDecodeFile(b *testing.B) {
	fsys := genTree(50, 1)
	var data []byte
	for _, f := range fsys {
		data = f.Data
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, errs := DecodeFile("f.yaml", data); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
