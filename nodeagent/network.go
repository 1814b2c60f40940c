package nodeagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

// cniVersion is the newest version Debian's plugins (1.1.1) accept; with
// 1.1.0 both ADD and DEL fail with "incompatible CNI versions".
const cniVersion = "1.0.0"

// podIfName is the pod's interface inside its network namespace.
const podIfName = "eth0"

// network attaches pod network namespaces to the agent's CNI network.
type network struct {
	cni      *libcni.CNIConfig
	confPath string
}

// defaultConflist is the network written when the conf file is missing: a
// bridge with host-local addresses from the pod subnet, masqueraded to
// leave the node (unless the cluster network is on: then pod traffic
// between nodes keeps its source, and servicerules masquerades what
// leaves the cluster range), portmap for hostPort, and loopback for
// localhost.
func defaultConflist(cfg *Config) ([]byte, error) {
	_, subnet, err := net.ParseCIDR(cfg.PodSubnet)
	if err != nil {
		return nil, fmt.Errorf("pod subnet %q: %w", cfg.PodSubnet, err)
	}
	list := map[string]any{
		"cniVersion": cniVersion,
		"name":       cfg.NetworkName,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      cfg.Bridge,
				"isGateway":   true,
				"ipMasq":      !cfg.PodNetwork,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": subnet.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(cfg.RunDir, "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
			map[string]any{"type": "loopback"},
		},
	}
	return json.MarshalIndent(list, "", "  ")
}

// newNetwork loads the conflist at cfg.CNIConfPath, writing the default
// one first if the file does not exist, so the user can replace it. A file
// that is berth's own default for another pod subnet (the node was given a
// new subnet: it rejoined a server that lost its data) is rewritten for
// this one, and the bridge's addresses from the old subnet are removed, as
// the kubelet's kubenet does: the bridge plugin refuses to add a pod to a
// bridge that has "an IP address different from" its gateway, so the node
// would never start a pod again.
func newNetwork(cfg *Config) (*network, error) {
	want, err := defaultConflist(cfg)
	if err != nil {
		return nil, err
	}
	have, err := os.ReadFile(cfg.CNIConfPath)
	// own: the file on disk is now berth's default for this subnet.
	own := err == nil && bytes.Equal(have, want)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := writeConflist(cfg.CNIConfPath, want); err != nil {
			return nil, err
		}
		own = true
	case err != nil:
		return nil, fmt.Errorf("read CNI config: %w", err)
	case !own:
		if old, ok := ownConflistSubnet(cfg, have); ok {
			slog.Warn("pod subnet changed: rewriting berth's CNI config", "path", cfg.CNIConfPath, "old", old, "new", cfg.PodSubnet)
			if err := writeConflist(cfg.CNIConfPath, want); err != nil {
				return nil, err
			}
			own = true
		}
	}
	if own { // a network the user wrote is theirs to keep
		if err := clearStaleBridgeAddrs(cfg); err != nil {
			return nil, err
		}
	}
	n := &network{
		// An explicit exec: libcni fills a nil one lazily, racing when
		// several pods attach at once.
		cni: libcni.NewCNIConfigWithCacheDir(cfg.CNIBinDirs, filepath.Join(cfg.RunDir, "cni-cache"), &invoke.DefaultExec{
			RawExec:       &invoke.RawExec{Stderr: os.Stderr},
			PluginDecoder: version.PluginDecoder{},
		}),
		confPath: cfg.CNIConfPath,
	}
	if _, err := n.load(); err != nil {
		return nil, err
	}
	return n, nil
}

func writeConflist(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	return nil
}

// ownConflistSubnet reports whether b is exactly the conflist
// defaultConflist writes for cfg with some other pod subnet, and which:
// only then is the file berth's to rewrite.
func ownConflistSubnet(cfg *Config, b []byte) (string, bool) {
	var list struct {
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal(b, &list) != nil || len(list.Plugins) == 0 || list.Plugins[0].Type != "bridge" ||
		len(list.Plugins[0].IPAM.Ranges) != 1 || len(list.Plugins[0].IPAM.Ranges[0]) != 1 {
		return "", false
	}
	old := list.Plugins[0].IPAM.Ranges[0][0].Subnet
	c := *cfg
	c.PodSubnet = old
	def, err := defaultConflist(&c)
	return old, err == nil && bytes.Equal(def, b)
}

// clearStaleBridgeAddrs removes the IPv4 addresses of the default
// network's bridge other than the pod subnet's gateway (its first
// address): they are left from an earlier pod subnet, and with them the
// bridge plugin fails every ADD. A missing bridge is fine: the plugin
// creates it.
func clearStaleBridgeAddrs(cfg *Config) error {
	gw, err := subnetGateway(cfg.PodSubnet)
	if err != nil {
		return err
	}
	link, err := netlink.LinkByName(cfg.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("bridge %s: %w", cfg.Bridge, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("bridge %s addresses: %w", cfg.Bridge, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == gw.String() {
			continue
		}
		slog.Warn("removing a stale address from the pod bridge", "bridge", cfg.Bridge, "address", a.IPNet.String(), "gateway", gw.String())
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("bridge %s: remove stale address %s: %w", cfg.Bridge, a.IPNet, err)
		}
	}
	return nil
}

// subnetGateway is the address the bridge plugin gives the bridge for a
// host-local range: the subnet's first address, with its prefix.
func subnetGateway(cidr string) (*net.IPNet, error) {
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("pod subnet %q: %w", cidr, err)
	}
	ip := subnet.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("pod subnet %q: not IPv4", cidr)
	}
	gw := make(net.IP, 4)
	copy(gw, ip)
	gw[3]++
	return &net.IPNet{IP: gw, Mask: subnet.Mask}, nil
}

// load reads the conflist on every use, so an edited file applies to the
// next sandbox without restarting the agent.
func (n *network) load() (*libcni.NetworkConfigList, error) {
	b, err := os.ReadFile(n.confPath)
	if err != nil {
		return nil, fmt.Errorf("read CNI config: %w", err)
	}
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("CNI config %s: %w", n.confPath, err)
	}
	return list, nil
}

func runtimeConf(sandboxID, netnsPath string, ports []portMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: sandboxID, NetNS: netnsPath, IfName: podIfName}
	if len(ports) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// portMapping is the portmap plugin's capability argument.
type portMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// podPorts lists the hostPort mappings of every container of the pod.
func podPorts(pod *corev1.Pod) []portMapping {
	var out []portMapping
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort == 0 {
					continue
				}
				proto := strings.ToLower(string(p.Protocol))
				if proto == "" {
					proto = "tcp"
				}
				out = append(out, portMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: p.HostIP})
			}
		}
	}
	return out
}

// add attaches the netns and returns the pod's IP.
func (n *network) add(ctx context.Context, sandboxID, netnsPath string, ports []portMapping) (string, error) {
	list, err := n.load()
	if err != nil {
		return "", err
	}
	res, err := n.cni.AddNetworkList(ctx, list, runtimeConf(sandboxID, netnsPath, ports))
	if err != nil {
		return "", fmt.Errorf("CNI ADD %s: %w", list.Name, err)
	}
	return resultIP(res)
}

func resultIP(res cnitypes.Result) (string, error) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return "", fmt.Errorf("CNI result: %w", err)
	}
	for _, ip := range r.IPs {
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(r.Interfaces) && r.Interfaces[*ip.Interface].Name != podIfName {
			continue
		}
		return ip.Address.IP.String(), nil
	}
	return "", errors.New("CNI result has no IP for " + podIfName)
}

// attached reports whether libcni holds a cached attachment of the
// sandbox, i.e. an ADD succeeded and no DEL has followed.
func (n *network) attached(sandboxID string) bool {
	list, err := n.load()
	if err != nil {
		return true // cannot tell: let DEL decide
	}
	b, _, err := n.cni.GetNetworkListCachedConfig(list, runtimeConf(sandboxID, "", nil))
	return err != nil || len(b) > 0
}

// del releases the sandbox's attachment and IP lease. It runs even when the
// netns is gone (then with an empty path, which the plugins accept for DEL)
// because the lease lives on the host, not in the namespace.
func (n *network) del(ctx context.Context, sandboxID, netnsPath string) error {
	list, err := n.load()
	if err != nil {
		return err
	}
	if netnsPath != "" {
		if _, err := os.Stat(netnsPath); err != nil {
			netnsPath = ""
		}
	}
	rt := runtimeConf(sandboxID, netnsPath, nil)
	// DEL must see the port mappings of ADD to remove their rules: libcni
	// keeps them in its cache with the rest of the runtime config.
	if _, cachedRT, err := n.cni.GetNetworkListCachedConfig(list, rt); err == nil && cachedRT != nil && cachedRT.CapabilityArgs != nil {
		rt.CapabilityArgs = cachedRT.CapabilityArgs
	}
	if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("CNI DEL %s: %w", list.Name, err)
	}
	return nil
}
