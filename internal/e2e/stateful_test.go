package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// statefulSet is web: replicas pods that each write their name into their
// claim the first time and say "found <name>" every later start.
func statefulSet(image string, replicas int) string { return statefulSetAt(image, "1.35", replicas) }

// statefulSetAt is statefulSet with the image's tag.
func statefulSetAt(image, tag string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: "%[1]s:%[3]s"
        env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        command: [sh, -c, 'if [ -f /data/who ]; then echo "found $(cat /data/who)"; else echo "$POD" > /data/who; echo wrote; fi; trap "exit 0" TERM; while true; do sleep 1; done']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 16Mi}}
`, image, replicas, tag)
}

// claimPod is a claim of class class and a pod writing into it.
func claimPod(image, name, class string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %[2]s}
spec:
  storageClassName: %[3]s
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: use-%[2]s}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: "%[1]s:1.35"
    command: [sh, -c, 'echo kept > /d/file; trap "exit 0" TERM; while true; do sleep 1; done']
    volumeMounts: [{name: d, mountPath: /d}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: %[2]s}}]
`, image, name, class)
}

const classes = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: scratch}
provisioner: berth.dev/local
reclaimPolicy: Delete
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: berth.dev/local
reclaimPolicy: Retain
`

// TestStateful runs issue 15's end-to-end cases on real containers and
// two agents with --storage-dir: a StatefulSet of 3 writes its ordinal
// into its claim, is scaled to 1 and back to 3 and every pod finds its own
// data on the node that holds it; an agent SIGKILLed, lost past the node
// timeout and restarted keeps its StatefulSet pod (same UID) and the data; a claim removed from Git is gone from its node's disk under
// reclaimPolicy Delete and stays (Released) under Retain, until `berth
// delete pvc --delete-data` has its node remove it.
func TestStateful(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "sts", clusterCIDR: "198.19.124.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout, storage: true,
	})
	ctx := context.Background()
	byName := func() (map[string]corev1.Pod, error) {
		pods, err := c.pods()
		out := map[string]corev1.Pod{}
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				out[p.Name] = p
			}
		}
		return out, err
	}
	nodeDir := map[string]string{}
	for _, n := range c.nodes {
		nodeDir[n.name] = c.storageDir(n)
	}
	// claimFile is a file in a claim's data on the node's disk.
	claimFile := func(node, claim, file string) string {
		return filepath.Join(nodeDir[node], "default", claim, "data", file)
	}
	waitReady := func(names ...string) map[string]corev1.Pod {
		t.Helper()
		var pods map[string]corev1.Pod
		c.eventually(strings.Join(names, ", ")+" ready", 2*time.Minute, func() error {
			var err error
			if pods, err = byName(); err != nil {
				return err
			}
			for _, n := range names {
				p, ok := pods[n]
				if !ok || !isReady(&p) {
					return fmt.Errorf("%s: %+v", n, p.Status)
				}
			}
			return nil
		})
		return pods
	}
	logOf := func(pod string) string {
		t.Helper()
		rc, err := c.admin.Logs(ctx, "default", pod, api.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	sha := c.apply("a stateful set and two claims", map[string]string{
		"apps/web.yaml":      statefulSet(c.image, 3),
		"apps/classes.yaml":  classes,
		"pods/scratch.yaml":  claimPod(c.image, "scratch", "scratch"),
		"pods/keepsake.yaml": claimPod(c.image, "keepsake", "keep"),
	})
	c.waitApplied(sha)
	first := waitReady("web-0", "web-1", "web-2", "use-scratch", "use-keepsake")

	t.Run("each pod writes its name into its own claim on its node", func(t *testing.T) {
		for o := range 3 {
			pod := fmt.Sprintf("web-%d", o)
			b, err := os.ReadFile(claimFile(first[pod].Spec.NodeName, "data-"+pod, "who"))
			if err != nil || strings.TrimSpace(string(b)) != pod {
				t.Fatalf("claim of %s on %s: %q, %v", pod, first[pod].Spec.NodeName, b, err)
			}
		}
		out, err := c.berthCLI("get", "pvc")
		if err != nil || strings.Count(out, "Bound") != 5 {
			t.Fatalf("berth get pvc (%v):\n%s", err, out)
		}
	})

	t.Run("scaled to 1 and back to 3, every pod finds its data", func(t *testing.T) {
		c.waitApplied(c.apply("scale web to 1", map[string]string{"apps/web.yaml": statefulSet(c.image, 1)}))
		c.eventually("web-1 and web-2 gone", time.Minute, func() error {
			pods, err := byName()
			if err != nil {
				return err
			}
			if _, ok := pods["web-1"]; ok {
				return fmt.Errorf("web-1 still there")
			}
			if _, ok := pods["web-2"]; ok {
				return fmt.Errorf("web-2 still there")
			}
			return nil
		})
		claims, err := c.admin.PersistentVolumeClaims(ctx, "default")
		if err != nil || len(claims.Items) != 5 {
			t.Fatalf("claims after scale down: %d, %v", len(claims.Items), err)
		}
		c.waitApplied(c.apply("scale web to 3", map[string]string{"apps/web.yaml": statefulSet(c.image, 3)}))
		again := waitReady("web-0", "web-1", "web-2")
		for _, pod := range []string{"web-1", "web-2"} {
			if again[pod].Spec.NodeName != first[pod].Spec.NodeName {
				t.Errorf("%s came back on %s, its claim is on %s", pod, again[pod].Spec.NodeName, first[pod].Spec.NodeName)
			}
			c.eventually(pod+" found its data", 30*time.Second, func() error {
				if l := logOf(pod); !strings.Contains(l, "found "+pod) {
					return fmt.Errorf("log %q", l)
				}
				return nil
			})
		}
	})

	t.Run("an agent SIGKILLed, lost and restarted keeps its pod and the data", func(t *testing.T) {
		var n *node
		for _, cand := range c.nodes {
			if cand.name == first["web-1"].Spec.NodeName {
				n = cand
			}
		}
		before, err := byName()
		if err != nil {
			t.Fatal(err)
		}
		uid := before["web-1"].UID
		if err := n.proc.stop(syscall.SIGKILL, 10*time.Second); err != nil {
			t.Logf("agent stop: %v", err)
		}
		defer func() {
			if !n.proc.running() { // failed before the restart: the cleanup needs the agent to stop its pods
				c.startAgent(n)
			}
		}()
		// The node is lost: past the node timeout and the fencing grace,
		// when other pods move, web-1 stays bound there with its UID, not
		// ready, as Kubernetes leaves a StatefulSet's pod on an
		// unreachable node.
		var away corev1.Pod
		c.eventually("the server giving up on "+n.name, time.Minute, func() error {
			pods, err := byName()
			if err != nil {
				return err
			}
			away = pods["web-1"]
			for _, cond := range away.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionFalse && cond.Reason == "NodeNotReady" {
					return nil
				}
			}
			if away.UID != uid {
				return nil // replaced: fails below
			}
			return fmt.Errorf("web-1 on %s still counted ready: %+v", n.name, away.Status.Conditions)
		})
		if away.UID != uid || away.Spec.NodeName != n.name {
			t.Fatalf("while %s is NotReady web-1 is %s on %q; want %s kept on it", n.name, away.UID, away.Spec.NodeName, uid)
		}
		c.startAgent(n)
		back := waitReady("web-1")
		if back["web-1"].UID != uid {
			t.Fatalf("web-1 came back as %s, was %s", back["web-1"].UID, uid)
		}
		sb, err := c.sandboxes(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range sb {
			if x.name == "web-1" && x.uid != string(uid) {
				t.Fatalf("%s's containerd after the restart holds web-1 %s; want %s alone", n.name, x.uid, uid)
			}
		}
		// A rolling update makes every pod anew, the restarted agent's
		// included: each finds the data its claim kept.
		c.waitApplied(c.apply("web at 1.35-b", map[string]string{"apps/web.yaml": statefulSetAt(c.image, "1.35-b", 3)}))
		c.eventually("every web pod replaced at 1.35-b", 2*time.Minute, func() error {
			pods, err := byName()
			if err != nil {
				return err
			}
			for o := range 3 {
				p, ok := pods[fmt.Sprintf("web-%d", o)]
				if !ok || !isReady(&p) || !strings.HasSuffix(p.Spec.Containers[0].Image, ":1.35-b") {
					return fmt.Errorf("web-%d not ready at 1.35-b", o)
				}
			}
			return nil
		})
		pods, err := byName()
		if err != nil {
			t.Fatal(err)
		}
		if pods["web-1"].Spec.NodeName != n.name {
			t.Fatalf("web-1 moved to %s", pods["web-1"].Spec.NodeName)
		}
		for o := range 3 {
			pod := fmt.Sprintf("web-%d", o)
			c.eventually(pod+" found its data after the update", 30*time.Second, func() error {
				if l := logOf(pod); !strings.Contains(l, "found "+pod) {
					return fmt.Errorf("log %q", l)
				}
				return nil
			})
		}
		b, err := os.ReadFile(claimFile(n.name, "data-web-1", "who"))
		if err != nil || strings.TrimSpace(string(b)) != "web-1" {
			t.Fatalf("data of web-1 after the agent restart: %q, %v", b, err)
		}
	})

	t.Run("a claim removed from Git: gone under Delete, Released under Retain", func(t *testing.T) {
		scratchNode, keepNode := first["use-scratch"].Spec.NodeName, first["use-keepsake"].Spec.NodeName
		if _, err := os.Stat(claimFile(scratchNode, "scratch", "file")); err != nil {
			t.Fatalf("scratch's data before: %v", err)
		}
		c.waitApplied(c.apply("remove both claims", map[string]string{"pods/scratch.yaml": "", "pods/keepsake.yaml": ""}))
		c.eventually("scratch's directory removed", time.Minute, func() error {
			if _, err := os.Stat(filepath.Join(nodeDir[scratchNode], "default", "scratch")); !os.IsNotExist(err) {
				return fmt.Errorf("still there: %v", err)
			}
			return nil
		})
		c.eventually("keepsake Released, scratch forgotten", time.Minute, func() error {
			claims, err := c.admin.PersistentVolumeClaims(ctx, "default")
			if err != nil {
				return err
			}
			phase := map[string]corev1.PersistentVolumeClaimPhase{}
			for _, cl := range claims.Items {
				phase[cl.Name] = cl.Status.Phase
			}
			if _, ok := phase["scratch"]; ok || phase["keepsake"] != "Released" {
				return fmt.Errorf("claims %v", phase)
			}
			return nil
		})
		b, err := os.ReadFile(claimFile(keepNode, "keepsake", "file"))
		if err != nil || strings.TrimSpace(string(b)) != "kept" {
			t.Fatalf("keepsake's data under Retain: %q, %v", b, err)
		}
	})

	t.Run("berth delete pvc: a Released claim goes, a claim in Git stays", func(t *testing.T) {
		if out, err := c.berthCLI("delete", "pvc", "data-web-0"); err == nil || !strings.Contains(out, "is still in Git") {
			t.Fatalf("berth delete pvc data-web-0 (%v):\n%s", err, out)
		}
		keepNode := first["use-keepsake"].Spec.NodeName
		out, err := c.berthCLI("delete", "pvc", "keepsake", "--delete-data")
		if err != nil || !strings.Contains(out, "node "+keepNode+" removes its data") {
			t.Fatalf("berth delete pvc keepsake --delete-data (%v):\n%s", err, out)
		}
		c.eventually("keepsake's directory removed and its claim gone", time.Minute, func() error {
			if _, err := os.Stat(filepath.Join(nodeDir[keepNode], "default", "keepsake")); !os.IsNotExist(err) {
				return fmt.Errorf("directory still there: %v", err)
			}
			if _, err := c.admin.PersistentVolumeClaim(ctx, "default", "keepsake"); err == nil {
				return fmt.Errorf("claim still listed")
			}
			return nil
		})
	})
}
