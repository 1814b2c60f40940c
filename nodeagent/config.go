package nodeagent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"k8s.io/utils/clock"
)

// Config is how one agent runs. Zero fields take the defaults documented
// on each; Validate fills them in.
type Config struct {
	// ContainerdAddress is containerd's socket
	// (default /run/containerd/containerd.sock).
	ContainerdAddress string
	// Namespace is the containerd namespace holding this agent's objects
	// (default "berth"). Two agents on one machine need two namespaces.
	Namespace string
	// RuncRoot, if set, is where runc keeps container state; tests point it
	// into their private containerd's directory. Empty means runc's default.
	RuncRoot string
	// Snapshotter unpacks images and holds container root filesystems
	// (default "overlayfs").
	Snapshotter string

	// NodeName names this node in pod status and static pod UIDs
	// (default: the host name).
	NodeName string
	// RunDir holds per-pod state: network namespaces, volumes, /etc files,
	// IP leases and the CNI cache (default /run/berth/agent).
	RunDir string
	// LogDir holds container logs, one file per container and restart
	// (default /var/log/berth/pods).
	LogDir string

	// CNIConfPath is the network's conflist; when missing, the default
	// bridge network is written there (default /etc/berth/cni/<NetworkName>.conflist).
	CNIConfPath string
	// CNIBinDirs are searched for CNI plugins (default /usr/lib/cni, /opt/cni/bin).
	CNIBinDirs []string
	// NetworkName names the CNI network (default "berth").
	NetworkName string
	// Bridge is the Linux bridge of the default network (default "berth0").
	Bridge string
	// PodSubnet is where pod IPs come from; it must lie in 198.18.0.0/15
	// (default 198.18.0.0/24).
	PodSubnet string
	// PodNetwork says the cluster network (nodeagent/clusternet) carries
	// pod traffic between nodes: the default bridge network then does not
	// masquerade, so a pod on another node sees the sender's pod IP; the
	// Service rules masquerade what leaves the cluster range instead.
	PodNetwork bool
	// ClusterDNS is the address this node serves cluster DNS at and
	// ClusterDomain its zone (default cluster.local): ClusterFirst pods
	// get it as their name server. Empty: they use the node's resolvers.
	ClusterDNS    string
	ClusterDomain string

	// Configs holds the ConfigMaps and Secrets the node's pods use (by env,
	// envFrom or volumes); the server's watch fills it on a joined node
	// (default: an empty ConfigStore).
	Configs ConfigSource

	// AllowHostPath lets pods mount hostPath volumes; without it such a pod
	// fails with reason HostPathNotAllowed.
	AllowHostPath bool
	// StorageDir holds the node's PersistentVolumeClaims, one directory
	// each (nodeagent/localstorage); empty: the node takes no claim and a
	// pod using one fails with reason NoStorageDir.
	StorageDir string
	// InsecureRegistries may be pulled from over plain HTTP, besides
	// registries on loopback which always may.
	InsecureRegistries []string

	// PauseBinary is the static pause program built from nodeagent/pause
	// (default: berth-pause beside the running executable).
	PauseBinary string

	// LoggerBinary is the berth-logger program (nodeagent/containerlog/logger).
	// When set, the shim runs it per container to write logs in the CRI
	// format with times and rotation, also while no agent runs, at one
	// process (2.6 MB resident) per container. When empty (the default) the
	// agent writes them itself from the shim's FIFOs (logio.go).
	LoggerBinary string

	// GCInterval is how often berth-labelled objects no pod owns are
	// removed (default 1m).
	GCInterval time.Duration
	// ResyncInterval is how often every pod is checked even without an
	// event (default 10s).
	ResyncInterval time.Duration

	// Clock drives back-off, grace periods and probes (default: real).
	Clock clock.WithTicker
	// Logger receives the agent's logs (default slog.Default()).
	Logger *slog.Logger
}

// Pod subnets must come from the benchmarking range, never a routed one.
var allowedPodNet = &net.IPNet{IP: net.IPv4(198, 18, 0, 0).To4(), Mask: net.CIDRMask(15, 32)}

// Validate fills in defaults and reports the first invalid field.
func (c *Config) Validate() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.ContainerdAddress, "/run/containerd/containerd.sock")
	def(&c.Namespace, "berth")
	def(&c.Snapshotter, "overlayfs")
	def(&c.RunDir, "/run/berth/agent")
	def(&c.LogDir, "/var/log/berth/pods")
	def(&c.NetworkName, "berth")
	def(&c.Bridge, "berth0")
	def(&c.PodSubnet, "198.18.0.0/24")
	def(&c.ClusterDomain, "cluster.local")
	def(&c.CNIConfPath, filepath.Join("/etc/berth/cni", c.NetworkName+".conflist"))
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: %w", err)
		}
		c.NodeName = h
	}
	if len(c.CNIBinDirs) == 0 {
		c.CNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if c.PauseBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find pause binary: %w", err)
		}
		c.PauseBinary = filepath.Join(filepath.Dir(exe), "berth-pause")
	}
	if c.GCInterval == 0 {
		c.GCInterval = time.Minute
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = 10 * time.Second
	}
	if c.Configs == nil {
		c.Configs = NewConfigStore()
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	ip, subnet, err := net.ParseCIDR(c.PodSubnet)
	if err != nil {
		return fmt.Errorf("pod subnet: %w", err)
	}
	ones, _ := subnet.Mask.Size()
	if ip.To4() == nil || !allowedPodNet.Contains(subnet.IP) || ones < 15 {
		return fmt.Errorf("pod subnet %s: must lie within %s", c.PodSubnet, allowedPodNet)
	}
	if c.ClusterDNS != "" {
		if a, err := netip.ParseAddr(c.ClusterDNS); err != nil || !a.Is4() {
			return fmt.Errorf("cluster DNS %q: want an IPv4 address", c.ClusterDNS)
		}
	}
	for _, p := range []struct{ name, v string }{{"run dir", c.RunDir}, {"log dir", c.LogDir}} {
		if !filepath.IsAbs(p.v) {
			return fmt.Errorf("%s %q: must be an absolute path", p.name, p.v)
		}
	}
	if !validName(c.Namespace) || !validName(c.NetworkName) {
		return errors.New("namespace and network name must be lower-case letters, digits and '-'")
	}
	if len(c.Bridge) == 0 || len(c.Bridge) > 15 {
		return fmt.Errorf("bridge %q: must be 1 to 15 characters", c.Bridge)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
