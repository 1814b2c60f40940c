package gitsource

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

const renderDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "busybox:IMAGE"}
`

// TestRenderedCommit: a commit's kustomize overlay and Helm chart (under a
// manifests path with its .berth.yaml) are rendered from the Git tree;
// skipped kinds land in the snapshot; a change to the base reaches the
// overlay's objects; a render error rejects the revision with the file.
func TestRenderedCommit(t *testing.T) {
	u := newUpstream(t)
	u.commitPush("rendered", map[string]string{
		"deploy/.berth.yaml":               "skipKinds: [Ingress]\nhelm: {releaseName: shop, values: {replicas: 2}}\n",
		"deploy/base/kustomization.yaml":   "resources: [deploy.yaml, ingress.yaml]\n",
		"deploy/base/deploy.yaml":          strings.Replace(renderDeployment, "IMAGE", "1.35", 1),
		"deploy/base/ingress.yaml":         "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n",
		"deploy/prod/kustomization.yaml":   "resources: [../base]\nnamePrefix: prod-\n",
		"deploy/chart/Chart.yaml":          "apiVersion: v2\nname: api\nversion: 0.1.0\n",
		"deploy/chart/templates/pod.yaml":  "apiVersion: v1\nkind: Pod\nmetadata: {name: {{ .Release.Name }}-api}\nspec:\n  containers: [{name: a, image: busybox, args: [\"{{ .Values.replicas }}\"]}]\n",
		"deploy/chart/templates/NOTES.txt": "hello",
		"other/kustomization.yaml":         "resources: [https://example.com/x.yaml]\n",
	})
	s, _ := newTestSource(t, u.bare, func(o *Options) { o.Path = "deploy" })
	snap := mustSync(t, s)
	if got := names(snap); !slices.Equal(got, []string{"Pod default/shop-api", "Deployment default/prod-web"}) {
		t.Fatalf("objects %v", got)
	}
	if len(snap.Skipped) != 1 || snap.Skipped[0].Name != "prod-web" || snap.Skipped[0].File != "base/ingress.yaml" {
		t.Fatalf("skipped %+v", snap.Skipped)
	}
	if f := snap.Objects[1].File; f != "base/deploy.yaml" {
		t.Fatalf("the overlay's Deployment names %s, want the file it was written in", f)
	}

	u.commitPush("new image", map[string]string{"deploy/base/deploy.yaml": strings.Replace(renderDeployment, "IMAGE", "1.36", 1)})
	snap = mustSync(t, s)
	if img := snap.Objects[1].Deployment.Spec.Template.Spec.Containers[0].Image; img != "busybox:1.36" {
		t.Fatalf("image %s after the base changed", img)
	}

	bad := u.commitPush("remote base", map[string]string{"deploy/prod/kustomization.yaml": "resources:\n- github.com/x/y//base?ref=v1\n"})
	err := s.Sync(context.Background())
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Revision != bad || len(rej.Errors) != 1 || !strings.Contains(rej.Errors[0].Error(), "prod: kustomize: prod/kustomization.yaml: refused: remote") {
		t.Fatalf("remote base: got %v", err)
	}
}
