package nodeagent_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAgentBinaryRSS runs the agent as users run it, `berth agent
// --manifests-dir` on 50 static pods (pause + 2 busybox), once as the
// full berth binary (`go build ./cmd/berth`, the control plane included,
// not stripped) and once as berth-agent (`-tags berth_agent`, stripped, as
// `just build` makes it), and reports each one's resident set with 50 pods
// running: all of it, the anonymous part (the agent's own memory) and the
// file-backed rest (the binary's pages it touched).
func BenchmarkAgentBinaryRSS(b *testing.B) {
	for i := 0; i < b.N; i++ {
		nd := newNode(b, nodeOpts{noAgent: true})
		dir := staticPods(b, nd)
		bins := b.TempDir()
		builds := []struct {
			name string
			args []string
		}{
			{"berth", []string{"build", "-o", filepath.Join(bins, "berth"), "github.com/berth-dev/berth/cmd/berth"}},
			{"berth-agent", []string{"build", "-tags", "berth_agent", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(bins, "berth-agent"), "github.com/berth-dev/berth/cmd/berth"}},
		}
		for _, bd := range builds {
			if out, err := exec.Command("go", bd.args...).CombinedOutput(); err != nil {
				b.Fatalf("go %v: %v\n%s", bd.args, err, out)
			}
		}
		for k, bd := range builds {
			c := nd.cfg
			child := exec.Command(filepath.Join(bins, bd.name), "agent", "--manifests-dir", dir,
				"--containerd-socket", c.ContainerdAddress, "--runc-root", c.RuncRoot, "--namespace", c.Namespace,
				"--node-name", c.NodeName, "--run-dir", c.RunDir, "--log-dir", c.LogDir, "--cni-conf", c.CNIConfPath,
				"--network", c.NetworkName, "--bridge", c.Bridge, "--pod-subnet", c.PodSubnet, "--pause-binary", c.PauseBinary)
			rss, anon := measureAgentRSS(b, nd, child)
			b.ReportMetric(rss, bd.name+"-rss-MB")
			b.ReportMetric(anon, bd.name+"-anon-MB")
			b.ReportMetric(rss-anon, bd.name+"-file-MB")
			// An in-process agent adopts the child's pods and removes them.
			nd.start()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			if err := nd.agent.Drain(ctx); err != nil {
				b.Fatal(err)
			}
			cancel()
			if k < len(builds)-1 {
				nd.agent.Close()
				nd.agent = nil
			}
		}
	}
}
