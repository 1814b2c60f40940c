//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/reconciler"
)

const exampleManifests = `apiVersion: apps/v1
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
      - name: httpd
        image: registry.local/busybox:1
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.local/busybox:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
  namespace: ops
spec:
  schedule: "30 2 * * *"
  timeZone: America/New_York
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: backup
            image: registry.local/busybox:1
`

func podRec(ns, name, node string, created time.Time, st corev1.PodStatus, mod func(*corev1.Pod)) *reconciler.PodRecord {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		Status:     st,
	}
	if mod != nil {
		mod(&p)
	}
	return &reconciler.PodRecord{Pod: p, Created: created}
}

func running(ready bool, restarts int32, lastExit time.Time) corev1.PodStatus {
	cs := corev1.ContainerStatus{Name: "main", Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0.Add(-time.Hour))}}}
	if !lastExit.IsZero() {
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: metav1.NewTime(lastExit)}
	}
	st := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "198.18.0.7", ContainerStatuses: []corev1.ContainerStatus{cs}}
	if ready {
		st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return st
}

// fillCluster makes two nodes and pods in every state `get pods` names.
func fillCluster(s *cliServer) {
	s.register("node-1", "4", "8Gi")
	s.register("node-2", "2", "4Gi")
	s.load(exampleManifests)
	s.load("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: log-ship}\nspec:\n  selector: {matchLabels: {app: ls}}\n  template:\n    metadata: {labels: {app: ls}}\n    spec:\n      nodeSelector: {disk: ssd}\n      containers: [{name: c, image: busybox}]\n")
	deleting := metav1.NewTime(t0)
	pods := []*reconciler.PodRecord{
		podRec("default", "web-0", "node-1", t0.Add(-2*time.Hour), running(true, 1, t0.Add(-5*time.Minute)), nil),
		podRec("default", "crashy", "node-2", t0.Add(-10*time.Minute), corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "main", RestartCount: 4, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		}}}, nil),
		podRec("default", "with-init", "node-1", t0.Add(-30*time.Second), corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "setup", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "setup"}} }),
		podRec("default", "going", "node-2", t0.Add(-3*24*time.Hour), running(true, 0, time.Time{}), func(p *corev1.Pod) { p.DeletionTimestamp = &deleting }),
		podRec("ops", "big", "", t0.Add(-time.Minute), corev1.PodStatus{}, nil),
	}
	pods[4].Unschedulable = "0/2 nodes are available: 2 Insufficient memory."
	s.update(func(tx reconciler.Tx) error {
		for _, p := range pods {
			if err := tx.PutPod(p); err != nil {
				return err
			}
		}
		if err := tx.PutDeployment(&reconciler.DeploymentRecord{Namespace: "default", Name: "web", RolloutRevision: 2, Revision: "0123456789abcdef",
			Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}}); err != nil {
			return err
		}
		if err := tx.PutDaemonSet(&reconciler.DaemonSetRecord{Namespace: "default", Name: "log-ship", Created: t0.Add(-5 * time.Minute),
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 1, UpdatedNumberScheduled: 2, NumberAvailable: 1}}); err != nil {
			return err
		}
		start := metav1.NewTime(t0.Add(-90 * time.Second))
		return tx.PutJob(&reconciler.JobRecord{Job: batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "migrate", CreationTimestamp: start},
			Spec:       batchv1.JobSpec{Completions: ptr.To(int32(2))},
			Status:     batchv1.JobStatus{StartTime: &start, Succeeded: 1, Active: 1},
		}})
	})
}

func TestGetTables(t *testing.T) {
	s := newCLIServer(t)
	fillCluster(s)
	c := s.admin()
	tests := []struct {
		name   string
		res    resKind
		ns     namespaceFlags
		output string
		want   string
	}{
		{
			name: "pods", res: resPods, ns: namespaceFlags{namespace: "default"},
			want: `NAME        READY   STATUS             RESTARTS     AGE
crashy      0/1     CrashLoopBackOff   4            10m
going       1/1     Terminating        0            3d
web-0       1/1     Running            1 (5m ago)   120m
with-init   0/1     Init:0/1           0            30s
`,
		},
		{
			name: "pods wide, all namespaces", res: resPods, ns: namespaceFlags{all: true}, output: "wide",
			want: `NAMESPACE   NAME        READY   STATUS             RESTARTS     AGE    IP           NODE
default     crashy      0/1     CrashLoopBackOff   4            10m    <none>       node-2
default     going       1/1     Terminating        0            3d     198.18.0.7   node-2
default     web-0       1/1     Running            1 (5m ago)   120m   198.18.0.7   node-1
default     with-init   0/1     Init:0/1           0            30s    <none>       node-1
ops         big         0/1     Pending            0            60s    <none>       <none>
`,
		},
		{
			name: "nodes wide", res: resNodes, output: "wide",
			want: `NAME     STATUS   ROLES    AGE   VERSION   INTERNAL-IP   POD-CIDR        CPU   MEMORY
node-1   Ready    <none>   0s    v0.3.0    127.0.0.1     198.18.0.0/24   4     8Gi
node-2   Ready    <none>   0s    v0.3.0    127.0.0.1     198.18.1.0/24   2     4Gi
`,
		},
		{
			name: "deployments", res: resDeployments, ns: namespaceFlags{namespace: "default"},
			want: `NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    2/3     3            2           <unknown>
`,
		},
		{
			name: "daemonsets", res: resDaemonSets, ns: namespaceFlags{namespace: "default"},
			want: `NAME       DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE
log-ship   2         2         1       2            1           disk=ssd        5m
`,
		},
		{
			name: "jobs wide", res: resJobs, ns: namespaceFlags{namespace: "default"}, output: "wide",
			want: `NAME      STATUS    COMPLETIONS   DURATION   AGE   CONTAINERS   IMAGES   SELECTOR
migrate   Running   1/2           90s        90s   <none>       <none>   <none>
`,
		},
		{
			name: "cronjobs", res: resCronJobs, ns: namespaceFlags{namespace: "ops"},
			want: `NAME     SCHEDULE     TIMEZONE           SUSPEND   ACTIVE   LAST SCHEDULE   AGE
backup   30 2 * * *   America/New_York   False     0        <none>          <unknown>
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runGet(context.Background(), c, &out, &errOut, tc.res, "", getOptions{ns: tc.ns, output: tc.output}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestGetOutputs(t *testing.T) {
	s := newCLIServer(t)
	fillCluster(s)

	t.Run("yaml of one pod", func(t *testing.T) {
		out, _, err := s.run("get", "pod", "web-0", "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		var p corev1.Pod
		if err := yaml.Unmarshal([]byte(out), &p); err != nil || p.Name != "web-0" || p.Kind != "Pod" || p.Spec.NodeName != "node-1" {
			t.Fatalf("pod %+v, %v\n%s", p, err, out)
		}
	})
	t.Run("json of a list", func(t *testing.T) {
		out, _, err := s.run("get", "deploy", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var l appsv1.DeploymentList
		if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 1 || l.Items[0].Status.ReadyReplicas != 2 {
			t.Fatalf("list %+v, %v", l, err)
		}
	})
	t.Run("empty namespace", func(t *testing.T) {
		out, errOut, err := s.run("get", "pods", "-n", "nobody")
		if err != nil || out != "" || errOut != "No resources found in nobody namespace.\n" {
			t.Fatalf("out %q err %q %v", out, errOut, err)
		}
	})
	t.Run("missing object", func(t *testing.T) {
		_, _, err := s.run("get", "pod", "nope")
		if err == nil || err.Error() != `pod "nope" not found` {
			t.Fatalf("err = %v", err)
		}
	})
	bad := []struct {
		name string
		args []string
	}{
		{name: "unknown kind", args: []string{"get", "services"}},
		{name: "unknown output", args: []string{"get", "pods", "-o", "xml"}},
		{name: "name with -A", args: []string{"get", "pod", "web-0", "-A"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.run(tc.args...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestPodSummary(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name                    string
		pod                     corev1.Pod
		ready, status, restarts string
	}{
		{
			name:  "completed job pod",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name:  "killed by a signal",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9}}}}}},
			ready: "0/1", status: "Signal:9", restarts: "0",
		},
		{
			name: "sidecar counts toward ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "log", RestartPolicy: &always}}, Containers: []corev1.Container{{Name: "c"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "log", Ready: true, Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
					ContainerStatuses:     []corev1.ContainerStatus{{Name: "c", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			},
			ready: "2/2", status: "Running", restarts: "0",
		},
		{
			name:  "image pull",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}}},
			ready: "0/1", status: "ImagePullBackOff", restarts: "0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready, status, restarts := podSummary(&tc.pod, t0)
			if ready != tc.ready || status != tc.status || restarts != tc.restarts {
				t.Fatalf("got %s %s %s, want %s %s %s", ready, status, restarts, tc.ready, tc.status, tc.restarts)
			}
		})
	}
}

func TestResourceNames(t *testing.T) {
	for in, want := range map[string]resKind{"po": resPods, "Pods": resPods, "deploy": resDeployments, "cj": resCronJobs, "no": resNodes, "job": resJobs, "svc": resServices, "ep": resEndpoints, "ds": resDaemonSets} {
		if got, err := parseResource(in); err != nil || got != want {
			t.Errorf("%s: %s, %v", in, got, err)
		}
	}
	if _, err := parseResource("ingresses"); err == nil || !strings.Contains(err.Error(), "unknown resource type") {
		t.Errorf("ingresses: %v", err)
	}
}
