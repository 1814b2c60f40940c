package nodeagent_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestLogsFollowAgentRestart: the agent writes container logs from the
// shim's FIFOs; stopped and started again it attaches to them, and every
// line the container wrote meanwhile reaches the file, in order, in the
// CRI format.
func TestLogsFollowAgentRestart(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	pod := nd.pod("logs", corev1.PodSpec{Containers: []corev1.Container{
		sh("app", `i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.02; done`),
	}})
	nd.agent.Sync([]*corev1.Pod{pod})
	nd.waitFor(pod.UID, time.Minute, "running", running)
	path := nd.agent.LogPath(pod.Namespace, pod.Name, string(pod.UID), "app", 0)
	waitLines(t, path, 5)

	if err := nd.agent.Close(); err != nil {
		t.Fatal(err)
	}
	nd.agent = nil
	before := countLines(t, path)
	time.Sleep(time.Second) // ~50 lines wait in the FIFO
	if n := countLines(t, path); n != before {
		t.Fatalf("log grew from %d to %d lines with no agent", before, n)
	}
	nd.start()
	nd.agent.Sync([]*corev1.Pod{pod})
	waitLines(t, path, before+60)

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, line := range lines {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[1] != "stdout" || f[2] != "F" || f[3] != fmt.Sprintf("line-%d", i+1) {
			t.Fatalf("line %d of %s: %q, want a CRI stdout line line-%d", i+1, path, line, i+1)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("line %d: time %q: %v", i+1, f[0], err)
		}
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for countLines(t, path) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines, want %d", path, countLines(t, path), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
