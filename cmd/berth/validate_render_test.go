//go:build !berth_agent

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/manifest"
)

// TestValidateArgoCDApps: hand-written equivalents of the Argo CD example
// apps kustomize-guestbook, pre-post-sync (a kustomization with a base) and
// helm-guestbook (with values-production.yaml) validate, with their
// Services skipped while berth does not run Services.
func TestValidateArgoCDApps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "apps")
	if err := os.CopyFS(dir, os.DirFS("testdata/argocd-apps")); err != nil {
		t.Fatal(err)
	}
	cfg := "helm:\n  charts:\n    helm-guestbook: {valuesFiles: [values-production.yaml]}\n"
	if !manifest.Runs("Service") {
		cfg = "skipKinds: [Service]\n" + cfg
	}
	if err := os.WriteFile(filepath.Join(dir, ".berth.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run("validate", dir)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "valid, ") || !strings.Contains(out, "2 Deployment, 2 Job") {
		t.Errorf("validate printed:\n%s", out)
	}

	out, err = run("validate", "--rendered", dir)
	if err != nil {
		t.Fatalf("validate --rendered: %v\n%s", err, out)
	}
	for _, want := range []string{
		"# berth: helm-guestbook rendered by helm\n---\n# Source: helm-guestbook/templates/service.yaml\n",
		"  replicas: 2\n",    // values-production.yaml
		"  type: NodePort\n", // values-production.yaml
		"# berth: pre-post-sync rendered by kustomize\n",
		"  name: pre-post-sync-kustomize-guestbook-ui\n",
		"  name: pre-post-sync-before\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--rendered lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "# berth: kustomize-guestbook rendered") {
		t.Errorf("kustomize-guestbook is pre-post-sync's base, not a root of its own:\n%s", out)
	}
}
