package reconciler

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/api"
)

// configsYAML is two ConfigMaps and two Secrets, and a pod on each of two
// nodes: web on n1 uses cm-web (env) and sec-web (volume); db on n2 uses
// cm-db (envFrom) and sec-db (projected), and an optional ConfigMap that
// does not exist.
func configsYAML(webValue string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: cm-web}
data: {greeting: %q}
binaryData: {blob: AAE=}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-db}
data: {mode: primary}
---
apiVersion: v1
kind: Secret
metadata: {name: sec-web}
stringData: {token: web-secret-value}
---
apiVersion: v1
kind: Secret
metadata: {name: sec-db}
data: {password: ZGItc2VjcmV0}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeSelector: {kubernetes.io/hostname: n1}
  containers:
  - name: app
    image: busybox:1
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: cm-web, key: greeting}}
  volumes:
  - {name: s, secret: {secretName: sec-web}}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  nodeSelector: {kubernetes.io/hostname: n2}
  initContainers:
  - name: init
    image: busybox:1
    envFrom: [{configMapRef: {name: cm-db}}]
  containers:
  - {name: app, image: busybox:1}
  volumes:
  - name: p
    projected:
      sources:
      - secret: {name: sec-db}
      - configMap: {name: cm-absent, optional: true}
---
`, webValue)
}

func configKeys(l *api.PodList) []string {
	var out []string
	for _, c := range l.Configs {
		out = append(out, c.Key())
	}
	return out
}

// newConfigsHarness is a reconciler with a ConfigFeed, two nodes, and
// configsYAML("hello") applied as r1, with the agents' lists over it.
func newConfigsHarness(t *testing.T) (*harness, *AgentPods) {
	t.Helper()
	h := newHarness(t)
	h.configs = NewConfigFeed()
	h.restart()
	h.addNode("n1", "2", "2Gi")
	h.addNode("n2", "2", "2Gi")
	h.src.push("r1", decodeObjs(t, configsYAML("hello")))
	h.converge("n1", "n2")
	return h, NewAgentPodsWithConfigs(h.store, h.configs)
}

func TestNodeListsCarryOnlyTheirPodsConfigs(t *testing.T) {
	h, feed := newConfigsHarness(t)

	list := func(node string) *api.PodList {
		t.Helper()
		l, _, err := feed.NodePods(node)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	n1, n2 := list("n1"), list("n2")
	for _, tc := range []struct {
		node string
		list *api.PodList
		want string
	}{
		{node: "n1", list: n1, want: "[ConfigMap/default/cm-web Secret/default/sec-web]"},
		{node: "n2", list: n2, want: "[ConfigMap/default/cm-db Secret/default/sec-db]"},
	} {
		if got := fmt.Sprint(configKeys(tc.list)); got != tc.want {
			t.Errorf("%s configs = %s, want %s", tc.node, got, tc.want)
		}
	}
	if got := string(n1.Configs[0].Data["greeting"]) + fmt.Sprint(n1.Configs[0].Data["blob"]); got != "hello[0 1]" {
		t.Errorf("cm-web data merged = %q, want data and binaryData", got)
	}
	if got := string(n1.Configs[1].Data["token"]); got != "web-secret-value" {
		t.Errorf("sec-web token = %q (stringData folded in)", got)
	}
	if got := string(n2.Configs[1].Data["password"]); got != "db-secret" {
		t.Errorf("sec-db password = %q", got)
	}

	// A new revision changes only cm-web's data: no pod record changes,
	// yet n1's list moves (new resourceVersion, new config version) and
	// n2's stays exactly as it was.
	h.src.push("r2", decodeObjs(t, configsYAML("bonjour")))
	h.converge("n1", "n2")
	n1b, n2b := list("n1"), list("n2")
	if n1b.ResourceVersion <= n1.ResourceVersion {
		t.Errorf("n1 resourceVersion %d after the ConfigMap changed, was %d", n1b.ResourceVersion, n1.ResourceVersion)
	}
	if n1b.Configs[0].ResourceVersion == n1.Configs[0].ResourceVersion || string(n1b.Configs[0].Data["greeting"]) != "bonjour" {
		t.Errorf("cm-web after the change: version %s (was %s), greeting %q", n1b.Configs[0].ResourceVersion, n1.Configs[0].ResourceVersion, n1b.Configs[0].Data["greeting"])
	}
	if n1b.Configs[1].ResourceVersion != n1.Configs[1].ResourceVersion {
		t.Errorf("sec-web's version moved though its data did not")
	}
	if n2b.ResourceVersion != n2.ResourceVersion {
		t.Errorf("n2 resourceVersion %d moved from %d, though none of its configs changed", n2b.ResourceVersion, n2.ResourceVersion)
	}
}

func TestRefusedRevisionChangesNoConfig(t *testing.T) {
	h, feed := newConfigsHarness(t)
	before, _, err := feed.NodePods("n1")
	if err != nil {
		t.Fatal(err)
	}
	// r2 changes cm-web but adds a pod no node can hold: the revision is
	// refused whole, and n1 goes on with r1's ConfigMap.
	h.src.push("r2", decodeObjs(t, configsYAML("bonjour")+podYAML("huge", "64Gi")))
	h.converge("n1", "n2")
	if st := h.sync(); st.Applied == nil || st.Applied.SHA != "r1" || st.Rejected == nil {
		t.Fatalf("r2 not refused: applied %+v, rejected %+v", st.Applied, st.Rejected)
	}
	after, _, err := feed.NodePods("n1")
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || string(after.Configs[0].Data["greeting"]) != "hello" {
		t.Errorf("after a refused revision n1 has greeting %q at %d, was %q at %d",
			after.Configs[0].Data["greeting"], after.ResourceVersion, before.Configs[0].Data["greeting"], before.ResourceVersion)
	}
}

func TestNodeListsAfterRestartWaitForTheAdmittedRevision(t *testing.T) {
	h, feed := newConfigsHarness(t)
	before, _, err := feed.NodePods("n1")
	if err != nil {
		t.Fatal(err)
	}

	// A restart: a new feed, nothing admitted yet. n1's pods use configs
	// the server does not know yet: no list rather than a list without
	// them.
	h.configs = NewConfigFeed()
	h.restart()
	feed = NewAgentPodsWithConfigs(h.store, h.configs)
	if _, _, err := feed.NodePods("n1"); !errors.Is(err, ErrConfigsUnknown) {
		t.Fatalf("n1 before the first pass after a restart: err %v, want ErrConfigsUnknown", err)
	}
	h.reconcile()
	after, _, err := feed.NodePods("n1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(configKeys(after)) != fmt.Sprint(configKeys(before)) || after.ResourceVersion < before.ResourceVersion {
		t.Errorf("after the restart n1 has %v at %d, before %v at %d", configKeys(after), after.ResourceVersion, configKeys(before), before.ResourceVersion)
	}
}
