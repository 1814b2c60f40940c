package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/version"
)

// upgradedVersion is stamped into bins.upgraded.
const upgradedVersion = "v0.0.0-e2e-upgraded"

// agentUpgraded replaces node a's agent by another build of berth, as a
// package upgrade does (stop the service, replace the binary, start it),
// and checks that the node reports the new version and that every pod's
// processes are the very ones that ran before: adopted, not restarted.
func (s *scenario) agentUpgraded(t *testing.T) {
	c := s.c
	a := c.nodes[0]
	before, err := c.taskPIDs(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 {
		t.Fatalf("%s runs no containers to adopt", a.name)
	}
	restarts, err := c.restartCounts(a.name)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.nodeVersion(t, a.name); got != version.Get().Version {
		t.Fatalf("node %s reports version %q before the upgrade, want %q", a.name, got, version.Get().Version)
	}

	if err := a.proc.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatal(err)
	}
	a.bin = bins.upgraded
	c.startAgent(a)
	c.eventually(a.name+" to come back with version "+upgradedVersion, time.Minute, func() error {
		if got := c.nodeVersion(t, a.name); got != upgradedVersion {
			return fmt.Errorf("node %s reports version %q", a.name, got)
		}
		return nil
	})
	// Give the new agent a few passes over its pods to restart what it
	// (wrongly) would.
	time.Sleep(5 * time.Second)
	after, err := c.taskPIDs(a)
	if err != nil {
		t.Fatal(err)
	}
	for id, pid := range before {
		if after[id] != pid {
			t.Errorf("container %s: pid %d before the upgrade, %d after: restarted", id, pid, after[id])
		}
	}
	for id := range after {
		if _, ok := before[id]; !ok {
			t.Errorf("container %s is new after the upgrade", id)
		}
	}
	now, err := c.restartCounts(a.name)
	if err != nil {
		t.Fatal(err)
	}
	for pod, n := range restarts {
		if now[pod] != n {
			t.Errorf("pod %s: restart count %d before the upgrade, %d after", pod, n, now[pod])
		}
	}
}

// taskPIDs maps every container in n's containerd namespace to its task's
// process ID.
func (c *cluster) taskPIDs(n *node) (map[string]uint32, error) {
	ctx := namespaces.WithNamespace(context.Background(), n.ns)
	ctrs, err := c.ctd.Containers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]uint32{}
	for _, ctr := range ctrs {
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			continue // not running: nothing to restart
		}
		st, err := task.Status(ctx)
		if err != nil || st.Status != "running" {
			continue
		}
		out[ctr.ID()] = task.Pid()
	}
	return out, nil
}

// restartCounts maps the pods bound to node to their containers' summed
// restart counts, as the server reports them.
func (c *cluster) restartCounts(node string) (map[string]int32, error) {
	pods, err := c.pods()
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	for _, p := range pods {
		if p.Spec.NodeName != node || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			out[p.Name] += cs.RestartCount
		}
	}
	return out, nil
}

func (c *cluster) nodeVersion(t *testing.T, name string) string {
	t.Helper()
	n, err := c.admin.Node(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return n.Status.NodeInfo.KubeletVersion
}

// syncWait commits without telling the server and runs `berth sync
// --wait`: it must report the commit applied, and for a broken commit
// exit non-zero naming the file and line.
func (s *scenario) syncWait(t *testing.T) {
	c := s.c
	good := c.repo.Commit("a pod for sync", map[string]string{"pods/synced.yaml": sleeper(c.image, "synced")})
	c.repo.Push()
	out, err := c.berthCLI("sync", "--wait", "--timeout", "2m")
	if err != nil {
		t.Fatalf("sync --wait: %v\n%s", err, out)
	}
	if !strings.Contains(out, "fetched "+good[:12]) || !strings.Contains(out, good[:12]) || !strings.Contains(out, "Synced") {
		t.Errorf("sync --wait did not report %s applied:\n%s", good[:12], out)
	}
	bad := c.repo.Commit("a broken pod", map[string]string{"pods/synced.yaml": brokenPod(c.image)})
	c.repo.Push()
	out, err = c.berthCLI("sync", "--wait", "--timeout", "2m")
	if err == nil {
		t.Errorf("sync --wait of a broken commit exited 0:\n%s", out)
	}
	if want := fmt.Sprintf("pods/synced.yaml:%d", brokenLine); !strings.Contains(out, want) || !strings.Contains(out, bad[:12]) {
		t.Errorf("sync --wait of %s does not say %s:\n%s", bad[:12], want, out)
	}
	fixed := c.repo.Commit("remove the pod for sync", map[string]string{"pods/synced.yaml": ""})
	c.repo.Push()
	if out, err := c.berthCLI("sync", "--wait"); err != nil {
		t.Fatalf("sync --wait of %s: %v\n%s", fixed[:12], err, out)
	}
}

// backupRestore copies the running server's store, then changes the
// cluster (a commit adds a pod; sync --wait applies it), stops the server
// and starts it from the copy. The store must be the backup's: its pods
// keep their UIDs on the API and on the nodes, and the pod added after
// the backup is not in it, so the server, reconciling Git again, makes
// that pod anew (another UID) and its node drops the one it ran. Had the
// server reopened its own store, it would have kept that pod as it was.
func (s *scenario) backupRestore(t *testing.T) {
	c := s.c
	// What the step before removed may still be going: back up a store
	// whose pods all stay.
	c.eventually("no pod being removed before the backup", 2*time.Minute, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		api := uids(pods)
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s is being removed", p.Name)
			}
		}
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		for name, at := range on {
			if api[name] == "" || !strings.HasSuffix(at, "/"+api[name]) {
				return fmt.Errorf("a node runs pod %s as %s, the API says %q", name, at, api[name])
			}
		}
		return nil
	})
	file := filepath.Join(c.dir, "backup.db")
	if out, err := c.berthCLI("backup", file); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	before := s.state(t)

	const added = "after-backup"
	c.repo.Commit("a pod after the backup", map[string]string{"pods/after-backup.yaml": sleeper(c.image, added)})
	c.repo.Push()
	if out, err := c.berthCLI("sync", "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("sync --wait: %v\n%s", err, out)
	}
	var addedUID string
	c.eventually("the pod added after the backup to run", 2*time.Minute, func() error {
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		if addedUID = on[added]; addedUID == "" {
			return fmt.Errorf("no node runs %s", added)
		}
		return nil
	})

	if err := c.server.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	args := c.srvArgs
	c.srvArgs = append(append([]string(nil), args...), "--restore", file)
	c.startServer()
	c.srvArgs = args // later restarts start from the store, not the copy
	c.eventually("the restored server to show the backup's pods and make the later one anew", 2*time.Minute, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		api := uids(pods)
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		for name, uid := range before.api {
			if api[name] != uid {
				return fmt.Errorf("pod %s of the backup: UID %s, the API says %q", name, uid, api[name])
			}
		}
		for name, at := range before.nodes {
			if on[name] != at {
				return fmt.Errorf("pod %s of the backup ran as %s, the nodes run %q", name, at, on[name])
			}
		}
		if api[added] == "" || on[added] == "" {
			return fmt.Errorf("pod %s: API UID %q, on the nodes %q", added, api[added], on[added])
		}
		if on[added] == addedUID {
			return fmt.Errorf("pod %s still runs as %s: the restored store knew it", added, addedUID)
		}
		return nil
	})
	fixed := c.repo.Commit("remove the pod added after the backup", map[string]string{"pods/after-backup.yaml": ""})
	c.repo.Push()
	if out, err := c.berthCLI("sync", "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("sync --wait of %s: %v\n%s", fixed[:12], err, out)
	}
	c.eventually("the pod added after the backup to be gone", 2*time.Minute, func() error {
		on, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		if on[added] != "" {
			return fmt.Errorf("a node still runs %s (%s)", added, on[added])
		}
		return nil
	})
}
