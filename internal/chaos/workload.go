package chaos

import (
	"fmt"
	"strings"
)

// Desired is what the driver last committed and berth admitted: the web
// Deployment's replicas and image tag, the Jobs by name, and whether the
// CronJob and the Service exist.
type Desired struct {
	Replicas int
	Tag      string
	Jobs     []string
	Cron     bool
	Service  bool
}

// webCPU is each web pod's CPU request; three nodes of cpu=1 hold at most
// 3000/webCPU of them beside the Jobs.
const webCPU = 50

// files renders d as the repository's files ("" deletes a file).
func (d Desired) files(image string) map[string]string {
	f := map[string]string{"apps/web.yaml": webYAML(image, d.Replicas, d.Tag, "command")}
	if d.Service {
		f["apps/web-svc.yaml"] = serviceYAML
	}
	if d.Cron {
		f["batch/tick.yaml"] = cronYAML(image)
	}
	for _, j := range d.Jobs {
		f["batch/"+j+".yaml"] = jobYAML(image, j)
	}
	return f
}

// webYAML is the web Deployment; cmdKey "comand" makes a commit that
// fails validation.
func webYAML(image string, replicas int, tag, cmdKey string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %[1]d
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: %[2]s:%[3]s
          %[4]s: [sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 1
          resources:
            requests: {cpu: %[5]dm, memory: 8Mi}
            limits: {memory: 32Mi}
`, replicas, image, tag, cmdKey, webCPU)
}

const serviceYAML = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {port: 80, targetPort: http}
`

// jobCompletions is every driver Job's completions.
const jobCompletions = 3

func jobYAML(image, name string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: %[2]s}
spec:
  completions: %[3]d
  parallelism: 2
  backoffLimit: 20
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: work
          image: %[1]s:v1
          command: [sh, -c, "sleep 2"]
          resources:
            requests: {cpu: 10m, memory: 8Mi}
`, image, name, jobCompletions)
}

func cronYAML(image string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 100
  jobTemplate:
    spec:
      backoffLimit: 20
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: tick
              image: %[1]s:v1
              command: [sh, -c, "date -u; sleep 1"]
              resources:
                requests: {cpu: 10m, memory: 8Mi}
`, image)
}

// isWeb tells the web Deployment's pods from the Jobs' pods by name.
func isWeb(name string) bool { return strings.HasPrefix(name, "web-") }
