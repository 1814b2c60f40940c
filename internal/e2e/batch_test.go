package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// TestBatch runs issue 7's end-to-end cases on real containers: a Job that
// completes with exactly its completions, a Job that fails after its
// backoffLimit, and a CronJob that runs on a real minute boundary and whose
// pod's log shows the date.
func TestBatch(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "bat", clusterCIDR: "198.19.104.0/22", nodes: 1,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
	})
	ctx := context.Background()
	sha := c.apply("batch work", map[string]string{
		"batch/ok.yaml": fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: work, image: "%[1]s:1.35", command: [sh, -c, "echo working; sleep 1"]}
`, c.image),
		"batch/fails.yaml": fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: work, image: "%[1]s:1.35", command: [sh, -c, "echo failing; exit 1"]}
`, c.image),
		"batch/date.yaml": fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: date}
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: date, image: "%[1]s:1.35", command: [date, -u, "+ran at %%Y-%%m-%%dT%%H:%%M"]}
`, c.image),
	})
	c.waitApplied(sha)

	condition := func(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
		for i := range j.Status.Conditions {
			if j.Status.Conditions[i].Type == typ && j.Status.Conditions[i].Status == corev1.ConditionTrue {
				return &j.Status.Conditions[i]
			}
		}
		return nil
	}
	podsOf := func(job string) ([]corev1.Pod, error) {
		pods, err := c.pods()
		if err != nil {
			return nil, err
		}
		var out []corev1.Pod
		for _, p := range pods {
			if p.Labels[batchv1.JobNameLabel] == job {
				out = append(out, p)
			}
		}
		return out, nil
	}

	t.Run("a job completes with exactly its completions", func(t *testing.T) {
		c.eventually("job ok complete", 2*time.Minute, func() error {
			j, err := c.admin.Job(ctx, "default", "ok")
			if err != nil {
				return err
			}
			if condition(j, batchv1.JobComplete) == nil {
				return fmt.Errorf("status %+v", j.Status)
			}
			return nil
		})
		j, err := c.admin.Job(ctx, "default", "ok")
		if err != nil {
			t.Fatal(err)
		}
		pods, err := podsOf("ok")
		if err != nil {
			t.Fatal(err)
		}
		succeeded := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodSucceeded {
				succeeded++
			}
		}
		if j.Status.Succeeded != 3 || succeeded != 3 || len(pods) != 3 {
			t.Fatalf("want exactly 3 succeeded pods, status says %d, pods %d of %d", j.Status.Succeeded, succeeded, len(pods))
		}
	})

	t.Run("a job whose pods exit 1 fails after backoffLimit", func(t *testing.T) {
		var j *batchv1.Job
		// Kubernetes' back-off: the replacement pod waits 10 s.
		c.eventually("job fails failed", 2*time.Minute, func() error {
			var err error
			if j, err = c.admin.Job(ctx, "default", "fails"); err != nil {
				return err
			}
			if condition(j, batchv1.JobFailed) == nil {
				return fmt.Errorf("status %+v", j.Status)
			}
			return nil
		})
		if cond := condition(j, batchv1.JobFailed); cond.Reason != "BackoffLimitExceeded" || j.Status.Failed != 2 {
			t.Fatalf("want Failed/BackoffLimitExceeded after 2 failed pods, got %s with %d failed", cond.Reason, j.Status.Failed)
		}
	})

	t.Run("a cronjob runs on the minute and its log shows the date", func(t *testing.T) {
		var pod corev1.Pod
		c.eventually("a date pod succeeded", 100*time.Second, func() error {
			pods, err := c.pods()
			if err != nil {
				return err
			}
			for _, p := range pods {
				if strings.HasPrefix(p.Name, "date-") && p.Status.Phase == corev1.PodSucceeded {
					pod = p
					return nil
				}
			}
			return fmt.Errorf("no succeeded date pod among %d pods", len(pods))
		})
		rc, err := c.admin.Logs(ctx, "default", pod.Name, api.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		// The Job is named for its scheduled minute; the pod ran in it.
		cj, err := c.admin.CronJobs(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		if len(cj.Items) != 1 || cj.Items[0].Status.LastScheduleTime == nil {
			t.Fatalf("cronjob status %+v", cj.Items)
		}
		sched := cj.Items[0].Status.LastScheduleTime.UTC()
		if sched.Second() != 0 {
			t.Errorf("last schedule time %s is not on a minute boundary", sched)
		}
		if !strings.Contains(string(b), "ran at 20") {
			t.Fatalf("log of %s does not show the date: %q", pod.Name, b)
		}
	})
}
