package nodeagent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/nodeagent"
	corev1 "k8s.io/api/core/v1"
)

// A node given a new pod subnet (it rejoined a server that lost its data)
// still starts pods: berth's own CNI config from the old subnet is
// rewritten, and the old gateway address on the bridge, with which the
// bridge plugin refuses every ADD ("already has an IP address different
// from"), is removed.
func TestNewPodSubnetRewritesOwnConfigAndBridge(t *testing.T) {
	nd := newNode(t, nodeOpts{noAgent: true})
	old := nd.cfg
	old.PodSubnet = "198.18.98.0/24"
	b, err := nodeagent.DefaultConflist(&old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(old.CNIConfPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old.CNIConfPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "add", nd.cfg.Bridge, "type", "bridge"},
		{"addr", "add", "198.18.98.1/24", "dev", nd.cfg.Bridge},
		{"link", "set", nd.cfg.Bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}

	nd.start()
	pod := nd.pod("rejoined", corev1.PodSpec{Containers: []corev1.Container{sh("app", `trap 'exit 0' TERM; while true; do sleep 1; done`)}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	prefix := strings.TrimSuffix(nd.cfg.PodSubnet, "0/24")
	if !strings.HasPrefix(st.Status.PodIP, prefix) {
		t.Errorf("pod IP %s, want one in %s", st.Status.PodIP, nd.cfg.PodSubnet)
	}
	out, err := exec.Command("ip", "-4", "-o", "addr", "show", "dev", nd.cfg.Bridge).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v: %s", err, out)
	}
	if strings.Contains(string(out), "198.18.98.1/") || !strings.Contains(string(out), prefix+"1/24") {
		t.Errorf("bridge addresses:\n%s\nwant only %s1/24", out, prefix)
	}
	conf, err := os.ReadFile(nd.cfg.CNIConfPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), nd.cfg.PodSubnet) || strings.Contains(string(conf), old.PodSubnet) {
		t.Errorf("CNI config not rewritten for %s:\n%s", nd.cfg.PodSubnet, conf)
	}
}

// A CNI config the user wrote is theirs: a changed pod subnet does not
// touch it, nor the addresses of its bridge.
func TestUserConflistKeptOnNewSubnet(t *testing.T) {
	nd := newNode(t, nodeOpts{noAgent: true})
	old := nd.cfg
	old.PodSubnet = "198.18.97.0/24"
	b, err := nodeagent.DefaultConflist(&old)
	if err != nil {
		t.Fatal(err)
	}
	user := strings.Replace(string(b), `"hairpinMode": true`, `"hairpinMode": false`, 1)
	if user == string(b) {
		t.Fatal("the edit did not apply")
	}
	if err := os.MkdirAll(filepath.Dir(old.CNIConfPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old.CNIConfPath, []byte(user), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "add", nd.cfg.Bridge, "type", "bridge"},
		{"addr", "add", "198.18.97.1/24", "dev", nd.cfg.Bridge},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	nd.start()
	conf, err := os.ReadFile(nd.cfg.CNIConfPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(conf) != user {
		t.Errorf("the user's CNI config was rewritten:\n%s", conf)
	}
	out, _ := exec.Command("ip", "-4", "-o", "addr", "show", "dev", nd.cfg.Bridge).CombinedOutput()
	if !strings.Contains(string(out), "198.18.97.1/24") {
		t.Errorf("the user's bridge address was removed:\n%s", out)
	}
}
