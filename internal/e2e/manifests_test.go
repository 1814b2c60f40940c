package e2e

import (
	"fmt"
	"strings"
)

// The test repository's manifests: examples-repo/'s, with images from the
// test's registry, short grace periods (busybox httpd as PID 1 ignores
// SIGTERM, so every stop would otherwise wait out the default 30 s) and a
// Job that completes quickly. The CronJob is left out: it makes pods on
// the minute, which would blur "exactly these pods" checks.

func twoContainers(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: two-containers
  labels: {app: two-containers}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
    - name: html
      emptyDir: {}
  containers:
    - name: writer
      image: %[1]s:1.35
      command: ["sh", "-c"]
      args:
        - |
          while true; do
            echo "<h1>Hello from $(hostname)</h1>" > /html/index.html
            sleep 5
          done
      volumeMounts:
        - {name: html, mountPath: /html}
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {memory: 32Mi}
    - name: server
      image: %[1]s:1.35
      command: ["httpd", "-f", "-p", "80", "-h", "/usr/share/www"]
      ports:
        - {name: http, containerPort: 80}
      volumeMounts:
        - {name: html, mountPath: /usr/share/www, readOnly: true}
      readinessProbe:
        httpGet: {path: /index.html, port: http}
        periodSeconds: 1
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {memory: 32Mi}
`, image)
}

func webappInit(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: webapp
  labels: {app: webapp}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
    - name: site
      emptyDir: {}
  initContainers:
    - name: fetch-artifact
      image: %[1]s:1.35
      command: ["sh", "-c", "echo 'webapp build 42' > /site/index.html"]
      volumeMounts:
        - {name: site, mountPath: /site}
  containers:
    - name: server
      image: %[1]s:1.35
      command: ["httpd", "-f", "-p", "8080", "-h", "/site"]
      ports:
        - containerPort: 8080
      volumeMounts:
        - {name: site, mountPath: /site}
      livenessProbe:
        tcpSocket: {port: 8080}
        periodSeconds: 5
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {memory: 32Mi}
`, image)
}

func loggingSidecar(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: logging
  labels: {app: logging}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
    - name: logs
      emptyDir: {}
  initContainers:
    - name: log-shipper
      image: %[1]s:1.35
      restartPolicy: Always
      command: ["sh", "-c", "touch /var/log/app/app.log && tail -n +1 -f /var/log/app/app.log"]
      volumeMounts:
        - {name: logs, mountPath: /var/log/app}
  containers:
    - name: app
      image: %[1]s:1.35
      command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo request $i >> /var/log/app/app.log; sleep 2; done"]
      volumeMounts:
        - {name: logs, mountPath: /var/log/app}
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {memory: 32Mi}
`, image)
}

func crunchJob(image string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: crunch
spec:
  completions: 2
  parallelism: 2
  backoffLimit: 4
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: crunch
          image: %s:1.35
          command: ["sh", "-c", "echo crunching; sleep 1; echo done"]
          resources:
            requests: {cpu: 10m, memory: 8Mi}
            limits: {memory: 16Mi}
`, image)
}

// deployment is a Deployment of busybox httpd serving message on 8080,
// ready when it answers, rolled out one surge and one unavailable at a
// time.
type deployment struct {
	name     string
	replicas int
	tag      string // image tag
	message  string
	cpu      string // request per pod
}

func (d deployment) yaml(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: %[3]s:%[4]s
          env:
            - {name: MESSAGE, value: %[5]q}
          command: ["sh", "-c", "mkdir -p /www && echo \"$MESSAGE\" > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 1
          resources:
            requests: {cpu: %[6]s, memory: 8Mi}
            limits: {memory: 32Mi}
`, d.name, d.replicas, image, d.tag, d.message, d.cpu)
}

// sleeper is a Pod that only sleeps.
func sleeper(image, name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: %s:1.35
      command: ["sleep", "3600"]
      resources:
        requests: {cpu: 10m, memory: 8Mi}
        limits: {memory: 16Mi}
`, name, image)
}

// brokenPod has an unknown field on line brokenLine.
func brokenPod(image string) string {
	return strings.Replace(sleeper(image, "fixed"), `command: ["sleep", "3600"]`, `comand: ["sleep", "3600"]`, 1)
}

const brokenLine = 10
