package chaos

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/statefulsets"
)

// Desired is what the driver last committed and berth admitted: the web
// Deployment's replicas and image tag, the db StatefulSet's (no replicas:
// no StatefulSet), the Jobs by name, and whether the CronJob and the
// Service exist.
type Desired struct {
	Replicas   int
	Tag        string
	DBReplicas int
	DBTag      string
	Jobs       []string
	Cron       bool
	Service    bool
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
	if d.DBReplicas > 0 {
		f[dbFile] = dbYAML(image, d.DBReplicas, d.DBTag)
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

// The db StatefulSet: each pod writes a marker into its claim on its
// first start (its name, its UID and the time: a second first start
// writes a different one) and never again, then waits. The marker is
// written to a temporary file and renamed, so it is there whole or not at
// all. whenDeleted: Delete removes the claims, and with them their data on
// the nodes, once the set leaves Git, so the final audit finds nothing.
const (
	dbSet = "db"
	// dbClaimTemplate is the volumeClaimTemplate's name: db-N's claim is
	// data-db-N.
	dbClaimTemplate = "data"
	dbMarker        = "marker"
	dbFile          = "apps/db.yaml"
	// dbMaxReplicas bounds the driver's scaling of db.
	dbMaxReplicas = 3
)

func dbYAML(image string, replicas int, tag string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %[4]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[4]s}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  template:
    metadata: {labels: {app: %[4]s}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: %[1]s:%[3]s
          env:
            - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
          command: [sh, -c, 'if [ ! -f /data/%[6]s ]; then echo "$POD $POD_UID $(date +%%s%%N)" > /data/.%[6]s && mv /data/.%[6]s /data/%[6]s; fi; trap "exit 0" TERM; while true; do sleep 1; done']
          readinessProbe:
            exec: {command: [test, -f, /data/%[6]s]}
            periodSeconds: 1
          volumeMounts: [{name: %[5]s, mountPath: /data}]
          resources:
            requests: {cpu: 10m, memory: 8Mi}
            limits: {memory: 32Mi}
  volumeClaimTemplates:
    - metadata: {name: %[5]s}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Mi}}
`, image, replicas, tag, dbSet, dbClaimTemplate, dbMarker)
}

// dbOrdinal is a db pod's ordinal, -1 for any other pod.
func dbOrdinal(name string) int { return statefulsets.Ordinal(dbSet, name) }

// dbClaim is the claim of db's pod at ordinal o.
func dbClaim(o int) string { return statefulsets.ClaimName(dbClaimTemplate, dbSet, o) }

// otherTag is the test image's tag that is not tag.
func otherTag(tag string) string {
	if tag == imageTagA {
		return imageTagB
	}
	return imageTagA
}

// isWeb tells the web Deployment's pods from the Jobs' pods by name.
func isWeb(name string) bool { return strings.HasPrefix(name, "web-") }
