//go:build accept

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/images"
)

// This file is acceptance against a repository nobody here wrote, so it
// is never committed with its material: `just accept` points
// BERTH_KUBERNETES_EXAMPLES at a clone of kubernetes/examples (a work tree
// or a bare repository) and builds with -tags accept.

// cassandraDir is where kubernetes/examples keeps the example.
const cassandraDir = "databases/cassandra"

// cassandraImage is the image the example names; the test swaps it for a
// stand-in built from local files, as nothing can be pulled here.
const cassandraImage = "gcr.io/google-samples/cassandra:v14"

// cassandraStandIn is what the stand-in image adds to busybox: the
// commands the example's probes and hook call (/bin/bash, /ready-probe.sh,
// nodetool) and a run.sh that keeps the pod's identity in its claim, as
// cassandra keeps its data in /var/lib/cassandra.
var cassandraStandIn = map[string]string{
	"/bin/bash": "#!/bin/sh\n# stand-in: the example's probes run /bin/bash -c CMD\nexec /bin/sh \"$@\"\n",
	"/run.sh": `#!/bin/sh
d=/var/lib/cassandra
if [ -f $d/who ]; then echo "found $(cat $d/who)"; else hostname > $d/who; echo "wrote $(hostname)"; fi
echo "seeds=$CASSANDRA_SEEDS ip=$POD_IP heap=$MAX_HEAP_SIZE"
date +%s > $d/started
trap 'echo TERM; exit 0' TERM
while true; do sleep 1; done
`,
	"/ready-probe.sh": "#!/bin/sh\n[ -f /var/lib/cassandra/started ]\n",
	"/usr/local/bin/nodetool": `#!/bin/sh
case "$1" in
status) echo "UN  $POD_IP  stand-in"; exit 0 ;;
drain) date +%s > /var/lib/cassandra/drained; echo drained; exit 0 ;;
*) echo "nodetool stand-in: $1 unknown" >&2; exit 1 ;;
esac
`,
}

// readExample reads path from the clone at root: a file of a work tree,
// or HEAD's blob in a bare repository.
func readExample(t *testing.T, root, path string) string {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path))); err == nil {
		return string(b)
	}
	out, err := exec.Command("git", "--git-dir", root, "show", "HEAD:"+path).Output()
	if err != nil {
		t.Fatalf("read %s from %s (a clone of kubernetes/examples): %v", path, root, err)
	}
	return string(out)
}

// TestAcceptCassandra: the cassandra example of kubernetes/examples (a
// headless Service, a StatefulSet of 3 with volumeClaimTemplates, a
// preStop hook, exec probes, and a StorageClass for minikube's hostpath
// provisioner) validates as published and, with its image swapped for a
// stand-in, runs three ordered pods with their own claims on two agents;
// scaled to 1, the stopped pods drain through their preStop hook.
func TestAcceptCassandra(t *testing.T) {
	root := os.Getenv("BERTH_KUBERNETES_EXAMPLES")
	if root == "" {
		t.Fatal("BERTH_KUBERNETES_EXAMPLES must name a clone of kubernetes/examples (just accept sets it)")
	}
	files := map[string]string{}
	for _, f := range []string{"cassandra-service.yaml", "cassandra-statefulset.yaml"} {
		files["apps/"+f] = readExample(t, root, cassandraDir+"/"+f)
	}

	c := newCluster(t, clusterOptions{
		prefix: "acc", clusterCIDR: "198.19.132.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout, storage: true,
	})
	ctx := context.Background()

	t.Run("validates as published", func(t *testing.T) {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := c.berthCLI("validate", dir)
		if err != nil {
			t.Fatalf("berth validate %s: %v\n%s", cassandraDir, err, out)
		}
		t.Logf("berth validate:\n%s", out)
	})

	base, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	standIn, err := images.WithFiles(base, cassandraStandIn, []string{"/run.sh"})
	if err != nil {
		t.Fatal(err)
	}
	ref := c.reg.Host + "/berth/cassandra-stand-in:v14"
	if err := images.Push(ctx, standIn, ref, false); err != nil {
		t.Fatal(err)
	}
	sts := files["apps/cassandra-statefulset.yaml"]
	if strings.Count(sts, cassandraImage) != 1 {
		t.Fatalf("the example no longer names %s once", cassandraImage)
	}
	files["apps/cassandra-statefulset.yaml"] = strings.Replace(sts, cassandraImage, ref, 1)
	c.waitApplied(c.apply("kubernetes/examples' cassandra, image swapped for a stand-in", files))

	names := []string{"cassandra-0", "cassandra-1", "cassandra-2"}
	var pods map[string]corev1.Pod
	c.eventually("three cassandra pods ready", 5*time.Minute, func() error {
		all, err := c.pods()
		if err != nil {
			return err
		}
		pods = map[string]corev1.Pod{}
		for _, p := range all {
			pods[p.Name] = p
		}
		for _, n := range names {
			p, ok := pods[n]
			if !ok || !isReady(&p) {
				return fmt.Errorf("%s not ready: %s %s", n, p.Status.Phase, p.Status.Message)
			}
		}
		return nil
	})

	t.Run("OrderedReady: each pod starts once the one before is ready", func(t *testing.T) {
		for i := 1; i < len(names); i++ {
			prev, cur := pods[names[i-1]], pods[names[i]]
			ready := readySince(&prev)
			if cur.Status.StartTime == nil || ready.IsZero() || cur.Status.StartTime.Time.Before(ready.Truncate(time.Second)) {
				t.Errorf("%s started %v, before %s was ready (%v)", cur.Name, cur.Status.StartTime, prev.Name, ready)
			}
		}
	})

	nodeDir := map[string]string{}
	for _, n := range c.nodes {
		nodeDir[n.name] = c.storageDir(n)
	}
	claimFile := func(p corev1.Pod, file string) string {
		return filepath.Join(nodeDir[p.Spec.NodeName], "default", "cassandra-data-"+p.Name, "data", file)
	}
	t.Run("each pod has its own claim on its node", func(t *testing.T) {
		for _, n := range names {
			b, err := os.ReadFile(claimFile(pods[n], "who"))
			if err != nil || strings.TrimSpace(string(b)) != n {
				t.Errorf("claim of %s on %s: %q, %v", n, pods[n].Spec.NodeName, b, err)
			}
		}
		claims, err := c.admin.PersistentVolumeClaims(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		bound := 0
		for _, cl := range claims.Items {
			if cl.Status.Phase == corev1.ClaimBound && strings.HasPrefix(cl.Name, "cassandra-data-cassandra-") {
				bound++
			}
		}
		if bound != 3 {
			t.Errorf("%d cassandra claims Bound, want 3", bound)
		}
	})

	t.Run("scaled to 1, the stopped pods drain through preStop", func(t *testing.T) {
		one := strings.Replace(files["apps/cassandra-statefulset.yaml"], "replicas: 3", "replicas: 1", 1)
		c.waitApplied(c.apply("cassandra: 1 replica", map[string]string{"apps/cassandra-statefulset.yaml": one}))
		for _, n := range names[1:] {
			c.eventually(n+" drained", 2*time.Minute, func() error {
				if _, err := os.Stat(claimFile(pods[n], "drained")); err != nil {
					return err
				}
				return nil
			})
		}
		if _, err := os.Stat(claimFile(pods["cassandra-0"], "drained")); err == nil {
			t.Error("cassandra-0, still desired, was drained")
		}
	})
}

// readySince is when the pod's Ready condition last turned true.
func readySince(p *corev1.Pod) time.Time {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			return cond.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
