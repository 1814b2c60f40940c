package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
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
// one first if the file does not exist, so the user can replace it.
func newNetwork(cfg *Config) (*network, error) {
	if _, err := os.Stat(cfg.CNIConfPath); errors.Is(err, os.ErrNotExist) {
		b, err := defaultConflist(cfg)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(cfg.CNIConfPath), 0o755); err != nil {
			return nil, fmt.Errorf("write CNI config: %w", err)
		}
		if err := os.WriteFile(cfg.CNIConfPath, b, 0o644); err != nil {
			return nil, fmt.Errorf("write CNI config: %w", err)
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
