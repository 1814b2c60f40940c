package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/nodeagent"
)

// daemonSets are two DaemonSets: logs on every node, edge only on nodes
// labelled role=edge.
func daemonSets(image string) string {
	ds := func(name, selector string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: %[1]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 2
%[3]s      containers:
      - name: c
        image: "%[2]s:1.35"
        command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
`, name, image, selector)
	}
	return ds("logs", "") + "---\n" + ds("edge", "      nodeSelector: {role: edge}\n")
}

// TestDaemonSetFollowsNodes runs issue 15's DaemonSet case on real
// containers: a DaemonSet runs one pod on each of two agents; a third
// agent that joins after the cluster is up (labelled role=edge) gets its
// pod and the pod of a DaemonSet selecting role=edge, running in its
// containerd; when that machine leaves as an operator retires one (its
// agent stopped with --drain-on-exit, then `berth node delete`), its
// daemon pods are gone from the desired state, and the other two nodes'
// pods keep running untouched, with the same UIDs.
func TestDaemonSetFollowsNodes(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "dsn", clusterCIDR: "198.19.132.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
	})
	ctx := context.Background()
	// daemonPods maps "set/node" to the pod, for the live pods of both sets.
	daemonPods := func() (map[string]corev1.Pod, error) {
		pods, err := c.pods()
		out := map[string]corev1.Pod{}
		for _, p := range pods {
			set := p.Labels["app"]
			if p.DeletionTimestamp == nil && (set == "logs" || set == "edge") {
				out[set+"/"+p.Spec.NodeName] = p
			}
		}
		return out, err
	}
	// waitPods waits until exactly the pods named "set/node" exist, ready.
	waitPods := func(what string, want ...string) map[string]corev1.Pod {
		t.Helper()
		var got map[string]corev1.Pod
		c.eventually(what, 2*time.Minute, func() error {
			var err error
			if got, err = daemonPods(); err != nil {
				return err
			}
			for _, k := range want {
				if p, ok := got[k]; !ok || !isReady(&p) {
					return fmt.Errorf("%s not ready (%d daemon pods)", k, len(got))
				}
			}
			if len(got) != len(want) {
				return fmt.Errorf("daemon pods %v, want %v", keys(got), want)
			}
			return nil
		})
		return got
	}
	a, b := c.nodes[0].name, c.nodes[1].name

	c.waitApplied(c.apply("two daemon sets", map[string]string{"apps/daemons.yaml": daemonSets(c.image)}))
	first := waitPods("logs on both nodes", "logs/"+a, "logs/"+b)

	n := c.addNode("--labels", "role=edge", "--drain-on-exit")
	joined := waitPods(n.name+" gets its daemon pods", "logs/"+a, "logs/"+b, "logs/"+n.name, "edge/"+n.name)
	for _, k := range []string{"logs/" + a, "logs/" + b} {
		if joined[k].UID != first[k].UID {
			t.Errorf("%s was replaced when %s joined: uid %s, was %s", k, n.name, joined[k].UID, first[k].UID)
		}
	}
	c.eventually(n.name+"'s daemon pods running in its containerd", time.Minute, func() error {
		return wantTasks(c, n, string(joined["logs/"+n.name].UID), string(joined["edge/"+n.name].UID))
	})

	// The machine leaves: its agent drains and stops, the admin deletes
	// the node.
	if err := n.proc.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatal(err)
	}
	if out, err := c.berthCLI("node", "delete", n.name); err != nil {
		t.Fatalf("berth node delete %s: %v\n%s", n.name, err, out)
	}
	left := waitPods(n.name+"'s daemon pods gone", "logs/"+a, "logs/"+b)
	for _, k := range []string{"logs/" + a, "logs/" + b} {
		if left[k].UID != first[k].UID {
			t.Errorf("%s was replaced when %s left: uid %s, was %s", k, n.name, left[k].UID, first[k].UID)
		}
	}
	for _, other := range c.nodes[:2] {
		if err := wantTasks(c, other, string(first["logs/"+other.name].UID)); err != nil {
			t.Error(err)
		}
	}
	if sb, err := c.sandboxes(n); err != nil || len(sb) != 0 {
		t.Errorf("%s drained on exit, yet containerd holds %+v (%v)", n.name, sb, err)
	}
	c.eventually("DaemonSet status without "+n.name, 30*time.Second, func() error {
		for set, want := range map[string]int32{"logs": 2, "edge": 0} {
			ds, err := c.admin.DaemonSet(ctx, "default", set)
			if err != nil {
				return err
			}
			if ds.Status.DesiredNumberScheduled != want || ds.Status.CurrentNumberScheduled != want {
				return fmt.Errorf("%s: desired %d, current %d; want %d", set, ds.Status.DesiredNumberScheduled, ds.Status.CurrentNumberScheduled, want)
			}
		}
		return nil
	})
}

// wantTasks checks that node n's containerd runs exactly the pods of
// uids, each with its pause and app tasks running.
func wantTasks(c *cluster, n *node, uids ...string) error {
	ctx := namespaces.WithNamespace(context.Background(), n.ns)
	ctrs, err := c.ctd.Containers(ctx)
	if err != nil {
		return err
	}
	running := map[string]int{}
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if err != nil || labels[nodeagent.LabelPodUID] == "" {
			continue
		}
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
			running[labels[nodeagent.LabelPodUID]]++
		}
	}
	for _, uid := range uids {
		if running[uid] < 2 {
			return fmt.Errorf("%s: pod %s has %d tasks running, want pause and app", n.name, uid, running[uid])
		}
		delete(running, uid)
	}
	if len(running) > 0 {
		return fmt.Errorf("%s: other pods running: %v", n.name, running)
	}
	return nil
}

func keys(m map[string]corev1.Pod) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}
