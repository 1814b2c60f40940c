package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/remotes/docker"

	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent"
)

// Separate machines on one: every agent of a cluster with hosts runs in
// its own network namespace, its "host", with one address on a link
// shared with the other hosts and with the test (a bridge in the test's
// namespace, the "switch"). Traffic between two nodes' pods crosses that
// link and needs the routes berth keeps; the test reaches NodePorts as an
// outside client would. Containerd is shared: sandboxes take their netns
// by path.
//
//	test netns:  PREFIXbr 198.18.250.1 (server API, registry on loopback)
//	               ├── veth ── host PREFIXha: eth0 198.18.250.2, bridge of node a
//	               └── veth ── host PREFIXhb: eth0 198.18.250.3, bridge of node b
//
// The names carry the cluster's prefix, so no two tests share a link; the
// addresses are the same for all (the tests run one after the other).
const (
	hostsGateway = "198.18.250.1"
	hostsPrefix  = 24
)

// hostsBridge is the "switch" of the cluster's hosts, hostName the
// network namespace of its i-th node and hostVeth that host's end in the
// test's namespace.
func (c *cluster) hostsBridge() string   { return c.opts.prefix + "br" }
func (c *cluster) hostName(i int) string { return c.opts.prefix + "h" + string(rune('a'+i)) }
func (c *cluster) hostVeth(i int) string { return c.opts.prefix + "hv" + string(rune('a'+i)) }

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// makeHosts creates the link and one host per node; cleanup removes them
// after the agents stopped.
func (c *cluster) makeHosts() {
	c.t.Helper()
	for _, b := range []string{"ip", "nsenter", "sysctl", "nft"} {
		testenv.RequireBinary(c.t, b)
	}
	c.t.Cleanup(c.removeHosts)
	c.removeHosts() // leftovers of a killed run
	steps := [][]string{
		{"link", "add", c.hostsBridge(), "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", hostsGateway, hostsPrefix), "dev", c.hostsBridge()},
		{"link", "set", c.hostsBridge(), "up"},
	}
	for i, n := range c.nodes {
		n.host = c.hostName(i)
		n.ip = fmt.Sprintf("198.18.250.%d", i+2)
		veth := c.hostVeth(i)
		steps = append(steps,
			[]string{"netns", "add", n.host},
			[]string{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.host},
			[]string{"link", "set", veth, "master", c.hostsBridge(), "up"},
			[]string{"-n", n.host, "link", "set", "lo", "up"},
			[]string{"-n", n.host, "addr", "add", fmt.Sprintf("%s/%d", n.ip, hostsPrefix), "dev", "eth0"},
			[]string{"-n", n.host, "link", "set", "eth0", "up"},
			[]string{"-n", n.host, "route", "add", "default", "via", hostsGateway},
		)
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		if err := run("ip", "netns", "exec", n.host, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *cluster) removeHosts() {
	var errs []error
	for i := range c.nodes {
		h := c.hostName(i)
		if _, err := os.Stat(filepath.Join("/run/netns", h)); err == nil {
			errs = append(errs, run("ip", "netns", "del", h))
		}
	}
	if exec.Command("ip", "link", "show", c.hostsBridge()).Run() == nil {
		errs = append(errs, run("ip", "link", "del", c.hostsBridge()))
	}
	if err := errors.Join(errs...); err != nil {
		c.t.Errorf("removing the hosts: %v", err)
	}
}

// prePull puts the test images into node n's containerd namespace: the
// registry listens on the test's loopback, which an agent in its own host
// cannot reach, and the pods' IfNotPresent policy then uses what is there.
func (c *cluster) prePull(n *node) {
	c.t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), n.ns)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
	})
	for _, tag := range []string{"1.35", "1.35-b"} {
		if _, err := c.ctd.Pull(ctx, c.image+":"+tag, containerd.WithResolver(resolver), containerd.WithPullUnpack,
			containerd.WithPullSnapshotter("overlayfs")); err != nil {
			c.t.Fatalf("pull into %s: %v", n.ns, err)
		}
	}
}

// exec runs args in the first app container of the pod named pod (a
// prefix) on node n, as `kubectl exec` would, and returns its stdout.
func (c *cluster) exec(n *node, pod string, args ...string) (string, error) {
	return c.execFor(20*time.Second, n, pod, args...)
}

// execFor is exec with a time limit.
func (c *cluster) execFor(limit time.Duration, n *node, pod string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), n.ns), limit)
	defer cancel()
	ctrs, err := c.ctd.Containers(ctx, fmt.Sprintf(`labels."%s"==container`, nodeagent.LabelRole))
	if err != nil {
		return "", err
	}
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if err != nil || !strings.HasPrefix(labels[nodeagent.LabelPodName], pod) || labels[nodeagent.LabelKind] != "app" {
			continue
		}
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			continue // an exited attempt
		}
		spec, err := ctr.Spec(ctx)
		if err != nil {
			return "", err
		}
		ps := *spec.Process
		ps.Args, ps.Terminal = args, false
		var out, errOut bytes.Buffer
		id := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
		p, err := task.Exec(ctx, id, &ps, cio.NewCreator(cio.WithStreams(nil, &out, &errOut)))
		if err != nil {
			return "", err
		}
		defer p.Delete(context.Background())
		wait, err := p.Wait(ctx)
		if err != nil {
			return "", err
		}
		if err := p.Start(ctx); err != nil {
			return "", err
		}
		st := <-wait
		p.IO().Wait()
		if code, _, _ := st.Result(); code != 0 {
			return out.String(), fmt.Errorf("%v in %s exited %d: %s", args, labels[nodeagent.LabelPodName], code, errOut.String())
		}
		return out.String(), nil
	}
	return "", fmt.Errorf("no running app container of a pod %s* on %s", pod, n.name)
}
