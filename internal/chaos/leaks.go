package chaos

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
)

// auditLeaks counts, per node, everything a pod leaves behind when it is
// not torn down: the run's final audit compares the counts with those
// taken before any workload ran.
func (c *Cluster) auditLeaks() map[string]map[string]int {
	out := map[string]map[string]int{}
	mounts := readLines("/proc/self/mountinfo")
	shims := shimNamespaces()
	for _, n := range c.nodes {
		m := map[string]int{}
		m["pod dirs"] = countEntries(filepath.Join(n.RunDir, "pods"))
		m["claim dirs"] = countEntries(filepath.Join(n.StorageDir, "default"))
		for _, l := range mounts {
			if strings.Contains(l, " "+n.RunDir+"/") {
				m["mounts (netns pins, volumes)"]++
			}
		}
		for _, e := range listNames(filepath.Join("/var/lib/cni/networks", n.Network)) {
			if e != "lock" && !strings.HasPrefix(e, "last_reserved_ip") {
				m["ip leases"]++
			}
		}
		if out, err := exec.Command("ip", "-n", n.Host, "-o", "link", "show", "type", "veth").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if l != "" && !strings.Contains(l, " eth0@") {
					m["veth pairs"]++
				}
			}
		}
		cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + n.NS)
		cgs = append(cgs, "/sys/fs/cgroup/"+n.NS)
		for _, cg := range cgs {
			_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && p != cg {
					m["cgroups"]++
				}
				return nil
			})
		}
		_ = filepath.WalkDir(n.LogDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				m["log files"]++
			}
			return nil
		})
		m["shims"] = shims[n.NS]
		if out, err := exec.Command("ip", "netns", "exec", n.Host, "nft", "list", "ruleset").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "dnat") || strings.Contains(l, "numgen") || strings.Contains(l, "elements") {
					m["nftables rules"]++
				}
			}
		}
		ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), n.NS), 10*time.Second)
		if ctrs, err := c.ctd.Containers(ctx); err == nil {
			m["containers"] = len(ctrs)
		}
		_ = c.ctd.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, i snapshots.Info) error {
			if i.Kind == snapshots.KindActive {
				m["active snapshots"]++
			}
			return nil
		})
		cancel()
		out[n.Name] = m
	}
	return out
}

// shimNamespaces counts runc shims by the containerd namespace on their
// command line.
func shimNamespaces() map[string]int {
	out := map[string]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "containerd-shim-runc-v2") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-namespace" {
				out[args[i+1]]++
			}
		}
	}
	return out
}

func countEntries(dir string) int { return len(listNames(dir)) }

func listNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}
