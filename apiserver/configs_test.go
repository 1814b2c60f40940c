package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/internal/sopstest"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/reconciler"
)

// fixedSource is one revision that never changes.
type fixedSource struct{ d *reconciler.Desired }

func (s fixedSource) Current() *reconciler.Desired { return s.d }
func (s fixedSource) Updated() <-chan struct{}     { return nil }
func (s fixedSource) Info() api.SyncStatus         { return api.SyncStatus{Repository: "test"} }

const (
	secretOfA       = "s3cr3t-only-for-node-a"
	configsRevision = `apiVersion: v1
kind: Secret
metadata: {name: sec-a}
stringData: {token: ` + secretOfA + `}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-b}
data: {mode: replica}
---
apiVersion: v1
kind: Pod
metadata: {name: pa}
spec:
  nodeSelector: {kubernetes.io/hostname: a}
  containers:
  - name: c
    image: busybox:1
    env:
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: sec-a, key: token}}
---
apiVersion: v1
kind: Pod
metadata: {name: pb}
spec:
  nodeSelector: {kubernetes.io/hostname: b}
  containers:
  - name: c
    image: busybox:1
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
  volumes:
  - {name: cfg, configMap: {name: cm-b}}
`
)

// rawGet returns the body of a GET as the given token (and node).
func (h *apiHarness) rawGet(path, token, node string) (int, string) {
	h.t.Helper()
	code, b := h.request(http.MethodGet, path, token, node, "")
	return code, string(b)
}

// TestAPISecretsReachOnlyTheirNode runs the reconciler over a revision
// with a Secret used by a pod on node a and a ConfigMap used by a pod on
// node b: a's watch carries the Secret, b's never does, and no user read
// shows its value (keys and sizes only).
func TestAPISecretsReachOnlyTheirNode(t *testing.T) {
	feed := reconciler.NewConfigFeed()
	h := newAPIHarness(t, func(c *harnessConfig) { c.configs = feed })
	ctx := context.Background()
	for _, node := range []string{"a", "b"} {
		resp, err := h.agent(node).Register(ctx, api.RegisterRequest{
			Name:        node,
			Labels:      map[string]string{"kubernetes.io/hostname": node},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("10")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("10")},
		})
		if err != nil {
			t.Fatal(err)
		}
		h.nodeTokens[node] = resp.NodeToken
	}
	objs, errs := manifest.DecodeFile("configs.yaml", []byte(configsRevision))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	h.mu.Lock()
	h.objects = objs
	h.mu.Unlock()
	rec, err := reconciler.New(reconciler.Config{Store: h.store, Source: fixedSource{&reconciler.Desired{Revision: "r1", Objects: objs}},
		Clock: h.clock, Configs: feed, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := rec.ReconcileOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	watch := func(node string) (*api.PodList, string) {
		t.Helper()
		code, body := h.rawGet(api.PathAgentPods+"?timeoutSeconds=0", h.nodeTokens[node], node)
		if code != http.StatusOK {
			t.Fatalf("watch of %s: %d %s", node, code, body)
		}
		var l api.PodList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		return &l, body
	}
	leaks := func(text string) bool {
		for _, f := range sopstest.Forms(secretOfA) {
			if strings.Contains(text, f) {
				return true
			}
		}
		return false
	}
	la, bodyA := watch("a")
	if !leaks(bodyA) {
		t.Errorf("node a's watch does not carry its Secret in any form the leak check looks for: %s", bodyA)
	}
	lb, bodyB := watch("b")
	keys := func(l *api.PodList) string {
		var out []string
		for _, c := range l.Configs {
			out = append(out, c.Key())
		}
		return fmt.Sprintf("pods %v configs %v", podNames(l.Items), out)
	}
	if got := keys(la); got != "pods [pa] configs [Secret/default/sec-a]" {
		t.Errorf("node a: %s", got)
	}
	if got := keys(lb); got != "pods [pb] configs [ConfigMap/default/cm-b]" {
		t.Errorf("node b: %s", got)
	}
	if len(la.Configs) == 1 && string(la.Configs[0].Data["token"]) != secretOfA {
		t.Errorf("node a's secret token = %q", la.Configs[0].Data["token"])
	}
	if leaks(bodyB) || strings.Contains(bodyB, "sec-a") {
		t.Errorf("node b's watch names or holds node a's Secret: %s", bodyB)
	}

	// Users read keys and sizes, never a value, wherever they look.
	for _, path := range []string{
		api.PathSecrets, api.NamespacedPath(api.PathSecrets, "default", ""), api.NamespacedPath(api.PathSecrets, "default", "sec-a"),
		api.PathConfigMaps, api.PathPods, api.PathEvents, api.PathStatus,
	} {
		code, body := h.rawGet(path, testTokens.Admin, "")
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
		if leaks(body) {
			t.Errorf("GET %s shows the secret's value: %s", path, body)
		}
	}
	s, err := h.admin().Secret(ctx, "default", "sec-a")
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeOpaque || fmt.Sprint(s.Sizes) != fmt.Sprintf("map[token:%d]", len(secretOfA)) {
		t.Errorf("secret summary: type %q sizes %v", s.Type, s.Sizes)
	}
	cms, err := h.admin().ConfigMaps(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 1 || cms.Items[0].Data["mode"] != "replica" {
		t.Errorf("configmaps: %+v", cms.Items)
	}
	if code, _ := h.rawGet(api.NamespacedPath(api.PathSecrets, "default", "nope"), testTokens.Admin, ""); code != http.StatusNotFound {
		t.Errorf("a missing secret: %d, want 404", code)
	}
	// A node cannot read the users' API, Secrets included.
	if code, _ := h.rawGet(api.PathSecrets, h.nodeTokens["b"], "b"); code != http.StatusForbidden && code != http.StatusUnauthorized {
		t.Errorf("node b reading secrets: %d, want a refusal", code)
	}
}
