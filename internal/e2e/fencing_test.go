package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/fencing"
	"github.com/berth-dev/berth/nodeagent"
)

// fenceNodeTimeout is short so the partition acts in seconds; at 10 s the
// rule leaves 2.75 s between the fenced copy's stop and the move, room for
// a loaded machine. Heartbeats go every quarter of it.
const fenceNodeTimeout = 10 * time.Second

// fenceTable is the nftables table that cuts a host off (in its own
// network namespace, so the name only has to be unique there).
const fenceTable = "f20fence"

// TestFencing cuts the node running a Deployment's only pod off the
// server (packets dropped in its host's namespace) and watches containerd
// on both nodes: the cut-off agent stops the pod when its lease runs out,
// before the server moves it, so the two copies never run at once. When
// the link heals, the node comes back without the pod, which now runs on
// the other node only.
func TestFencing(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "fen", clusterCIDR: "198.18.168.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: fenceNodeTimeout, hosts: true,
	})
	timings := fencing.Timings{NodeTimeout: fenceNodeTimeout, Flush: fenceNodeTimeout / 8}.WithDefaults()
	sha := c.apply("one web pod, free to move", map[string]string{"apps/solo.yaml": strings.Replace(
		webApp(c.image, "solo", "", 1, "1.35", "echo solo > /www/index.html"), "      nodeSelector: {kubernetes.io/hostname: }\n", "", 1)})
	c.waitApplied(sha)
	var first corev1.Pod
	c.eventually("solo ready", 90*time.Second, func() error {
		pods, err := c.pods()
		if err != nil {
			return err
		}
		solo := owned(pods, "solo-")
		if len(solo) != 1 || !isReady(&solo[0]) {
			return fmt.Errorf("want one solo pod ready: %s", podNames(pods))
		}
		first = solo[0]
		return nil
	})
	var cut, other *node
	for _, n := range c.nodes {
		if n.name == first.Spec.NodeName {
			cut = n
		} else {
			other = n
		}
	}
	if cut == nil {
		t.Fatalf("solo runs on %q, no node of the test", first.Spec.NodeName)
	}

	// Watch both nodes' containerd: when each runs a solo task.
	w := &copyWatch{c: c}
	stopWatch := sync.OnceFunc(sample(50*time.Millisecond, func() { w.look(cut, other) }).done)
	defer stopWatch()

	cutAt := time.Now()
	if err := nftIn(cut.host, fmt.Sprintf("add table inet %[1]s\nadd chain inet %[1]s in { type filter hook input priority -10; policy accept; }\n"+
		"add chain inet %[1]s out { type filter hook output priority -10; policy accept; }\n"+
		"add rule inet %[1]s in iifname eth0 drop\nadd rule inet %[1]s out oifname eth0 drop\n", fenceTable)); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal := func() {
		if !healed {
			healed = true
			if err := nftIn(cut.host, "delete table inet "+fenceTable+"\n"); err != nil {
				t.Error(err)
			}
		}
	}
	defer heal()

	c.eventually("solo running on "+other.name+" only", 2*time.Minute, func() error {
		if w.newStart().IsZero() {
			return fmt.Errorf("no solo task on %s yet", other.name)
		}
		if w.running(cut) {
			return fmt.Errorf("solo's old copy still runs on %s", cut.name)
		}
		return nil
	})
	time.Sleep(time.Second) // a last look at both
	stopWatch()
	oldEnd, newStart := w.oldEnd(), w.newStart()
	if oldEnd.IsZero() {
		t.Fatalf("solo's old copy on %s was never seen running", cut.name)
	}
	overlap := max(oldEnd.Sub(newStart), 0)
	t.Logf("fencing: node timeout %v; the agent's lease %v, kill grace %v, pods stopped by %v after the last heartbeat sent; the server moves them from %v after the last received (slack %v)",
		timings.NodeTimeout, timings.Lease(), timings.KillGrace(), timings.StoppedBy(), timings.MoveAfter(), timings.Slack())
	t.Logf("fencing: cut at 0; old copy on %s last seen running at %v; new copy on %s first seen running at %v; overlap %v (sampled every 50ms)",
		cut.name, oldEnd.Sub(cutAt).Round(time.Millisecond), other.name, newStart.Sub(cutAt).Round(time.Millisecond), overlap)
	if overlap > 0 {
		t.Errorf("two copies of solo ran at once for %v", overlap)
	}
	if got := oldEnd.Sub(cutAt); got > timings.StoppedBy()+5*time.Second {
		t.Errorf("the old copy ran %v after the cut; the rule stops it by %v after the last heartbeat", got, timings.StoppedBy())
	}

	heal()
	c.eventually(cut.name+" Ready again, without solo", time.Minute, func() error {
		if err := c.nodeReady(cut.name); err != nil {
			return err
		}
		where, err := c.podsOnNodes()
		if err != nil {
			return err
		}
		for name, at := range where {
			if strings.HasPrefix(name, "solo-") && !strings.HasPrefix(at, other.name+"/") {
				return fmt.Errorf("%s is on %s", name, at)
			}
		}
		return nil
	})
	// Back, the agent reports the fence: `berth describe node` and `berth
	// get events` show it, naming the pod it stopped.
	c.eventually(cut.name+"'s Fenced event", 30*time.Second, func() error {
		l, err := c.admin.Events(context.Background(), client.EventFilter{Kind: "Node", Name: cut.name})
		if err != nil {
			return err
		}
		for _, e := range l.Items {
			if e.Reason == "Fenced" && strings.Contains(e.Message, first.Namespace+"/"+first.Name) {
				t.Logf("fencing: %s event %q", e.Reason, e.Message)
				return nil
			}
		}
		return fmt.Errorf("no Fenced event of node %s naming %s among %d", cut.name, first.Name, len(l.Items))
	})
}

// nodeReady is nil when the server shows the node Ready.
func (c *cluster) nodeReady(name string) error {
	node, err := c.admin.Node(context.Background(), name)
	if err != nil {
		return err
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
			return fmt.Errorf("node %s is %s", name, cond.Status)
		}
	}
	return nil
}

// nftIn runs an nft script in a host's network namespace.
func nftIn(host, script string) error {
	cmd := exec.Command("nsenter", "--net=/run/netns/"+host, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", host, err, out)
	}
	return nil
}

// copyWatch records when containerd shows a running task of the solo
// Deployment's app container: the last time on the cut node, the first on
// the other.
type copyWatch struct {
	c      *cluster
	mu     sync.Mutex
	oldRun time.Time
	newRun time.Time
}

func (w *copyWatch) look(cut, other *node) {
	now := time.Now()
	onCut, onOther := w.running(cut), w.running(other)
	w.mu.Lock()
	defer w.mu.Unlock()
	if onCut {
		w.oldRun = now
	}
	if onOther && w.newRun.IsZero() {
		w.newRun = now
	}
}

func (w *copyWatch) oldEnd() time.Time   { w.mu.Lock(); defer w.mu.Unlock(); return w.oldRun }
func (w *copyWatch) newStart() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.newRun }

// running reports whether node n's containerd runs a task of a solo pod's
// app container.
func (w *copyWatch) running(n *node) bool {
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), n.ns), 5*time.Second)
	defer cancel()
	ctrs, err := w.c.ctd.Containers(ctx, fmt.Sprintf(`labels."%s"==container`, nodeagent.LabelRole))
	if err != nil {
		return false
	}
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if err != nil || !strings.HasPrefix(labels[nodeagent.LabelPodName], "solo-") {
			continue
		}
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
			return true
		}
	}
	return false
}
