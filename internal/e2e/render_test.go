package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// TestRendered runs issue 13's end-to-end case: a kustomize overlay over a
// base and a Helm chart with a production values file, both rendered by
// berth server from the commit, run on real containers; a change to the
// base rolls the overlay's Deployment.
func TestRendered(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "rnd", clusterCIDR: "198.19.116.0/22", nodes: 1,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
	})
	ctx := context.Background()
	skip := ""
	if !manifest.Runs("Service") {
		skip = "skipKinds: [Service]\n"
	}
	base := func(mode string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "%s:1.35"
        command: [sh, -c, "echo mode $MODE; exec sleep 3600"]
        env: [{name: MODE, value: %s}]
`, c.image, mode)
	}
	files := map[string]string{
		".berth.yaml":                  skip + "helm:\n  releaseName: shop\n  valuesFiles: [values-production.yaml]\n",
		"app/base/kustomization.yaml":  "resources: [deploy.yaml, svc.yaml]\n",
		"app/base/deploy.yaml":         base("one"),
		"app/base/svc.yaml":            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
		"app/prod/kustomization.yaml":  "resources: [../base]\nnamePrefix: prod-\nreplicas: [{name: web, count: 2}]\n",
		"chart/Chart.yaml":             "apiVersion: v2\nname: guestbook\nversion: 0.1.0\n",
		"chart/values.yaml":            "replicaCount: 1\n",
		"chart/values-production.yaml": "replicaCount: 2\n",
		"chart/templates/deploy.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-{{ .Chart.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: gb}}
  template:
    metadata: {labels: {app: gb}}
    spec:
      containers:
      - {name: gb, image: "%s:1.35", command: [sleep, "3600"]}
`, c.image),
	}
	sha := c.apply("kustomize and helm", files)
	c.waitApplied(sha)

	ready := func(prefix, mode string) func() error {
		return func() error {
			pods, err := c.pods()
			if err != nil {
				return err
			}
			n := 0
			for i := range pods {
				p := &pods[i]
				if !strings.HasPrefix(p.Name, prefix) || !isReady(p) {
					continue
				}
				if mode != "" && envOf(p, "MODE") != mode {
					continue
				}
				n++
			}
			if n != 2 {
				return fmt.Errorf("%d ready pods %s* (mode %q), want 2", n, prefix, mode)
			}
			return nil
		}
	}
	c.eventually("the overlay's 2 pods", 2*time.Minute, ready("prod-web-", "one"))
	c.eventually("the chart's 2 pods (values-production.yaml)", 2*time.Minute, ready("shop-guestbook-", ""))
	if pods, err := c.pods(); err == nil {
		for _, p := range pods {
			if strings.HasPrefix(p.Name, "web-") {
				t.Errorf("the base ran as an app of its own: %s", p.Name)
			}
		}
	}
	if skip != "" {
		st, err := c.admin.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Skipped) != 1 || st.Skipped[0].Name != "prod-web" || st.Skipped[0].File != "app/base/svc.yaml" {
			t.Errorf("status lists skipped %+v, want the Service prod-web from app/base/svc.yaml", st.Skipped)
		}
	}

	sha = c.apply("base: mode two", map[string]string{"app/base/deploy.yaml": base("two")})
	c.waitApplied(sha)
	c.eventually("the overlay rolled to mode two", 3*time.Minute, ready("prod-web-", "two"))

	// The cluster's cleanup removes only top-level manifest files.
	for p := range files {
		files[p] = ""
	}
	c.waitApplied(c.apply("remove the rendered apps", files))
}

func envOf(p *corev1.Pod, name string) string {
	for _, ct := range p.Spec.Containers {
		for _, e := range ct.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}
