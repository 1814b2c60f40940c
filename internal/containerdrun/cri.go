package containerdrun

import "fmt"

// CRI configures containerd's CRI plugin for a private daemon, the way a
// kubelet node runs it: runc v2 shims, overlayfs, CNI from BinDir with the
// first network list in ConfDir, and SandboxImage for every pod's pause
// container. Nothing can be pulled here, so SandboxImage must be imported
// into the "k8s.io" namespace before the first RunPodSandbox.
type CRI struct {
	SandboxImage string
	BinDir       string // CNI plugins; /usr/lib/cni on Debian
	ConfDir      string // holds the CNI network list the plugin uses
}

// config is the daemon's config section for the plugin. The sandbox's
// negative oom_score_adj is clamped to containerd's own
// (restrict_oom_score_adj), as root here lacks CAP_SYS_RESOURCE and runc
// fails on a negative one.
func (c CRI) config(runcRoot string) string {
	return fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, c.SandboxImage, runcRoot, c.BinDir, c.ConfDir)
}
