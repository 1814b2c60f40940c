package main

import (
	"context"
	"fmt"
	"github.com/berth-dev/berth/nodeagent/podroutes"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/internal/version"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/nodeagent/localstorage"
	"github.com/berth-dev/berth/nodeagent/remote"
)

// addAgentConfigFlags declares the flags of a node agent's configuration,
// each name prefixed (so `berth server` offers them as --agent-NAME).
func addAgentConfigFlags(f *pflag.FlagSet, cfg *nodeagent.Config, prefix string) {
	f.StringVar(&cfg.ContainerdAddress, prefix+"containerd-socket", "/run/containerd/containerd.sock", "containerd's socket")
	f.StringVar(&cfg.Namespace, prefix+"namespace", "berth", "containerd namespace for this agent's containers and images")
	f.StringVar(&cfg.RuncRoot, prefix+"runc-root", "", "runc state directory (default: runc's own)")
	f.StringVar(&cfg.NodeName, prefix+"node-name", "", "this node's name (default: the host name)")
	f.StringVar(&cfg.RunDir, prefix+"run-dir", "/run/berth/agent", "per-pod state: network namespaces, volumes, IP leases")
	f.StringVar(&cfg.LogDir, prefix+"log-dir", "/var/log/berth/pods", "container logs, one file per container and restart")
	f.StringVar(&cfg.CNIConfPath, prefix+"cni-conf", "", "CNI conflist; written with the default bridge network if missing (default /etc/berth/cni/NETWORK.conflist)")
	f.StringSliceVar(&cfg.CNIBinDirs, prefix+"cni-bin-dir", []string{"/usr/lib/cni", "/opt/cni/bin"}, "directories holding the CNI plugins")
	f.StringVar(&cfg.NetworkName, prefix+"network", "berth", "CNI network name")
	f.StringVar(&cfg.Bridge, prefix+"bridge", "berth0", "Linux bridge of the default network")
	f.BoolVar(&cfg.AllowHostPath, prefix+"allow-host-path", false, "let pods mount hostPath volumes (off: such pods fail)")
	f.StringVar(&cfg.StorageDir, prefix+"storage-dir", "", "directory for PersistentVolumeClaims, one directory each (empty: this node takes no claims)")
	f.StringSliceVar(&cfg.InsecureRegistries, prefix+"insecure-registry", nil, "registry host:port to pull from over plain HTTP (loopback registries always may)")
	f.StringVar(&cfg.PauseBinary, prefix+"pause-binary", "", "the pause program (default: berth-pause beside this executable)")
	f.StringVar(&cfg.LoggerBinary, prefix+"logger-binary", "", "berth-logger, run by the shim per container to write its log also while no agent runs (default: the agent writes logs itself from the shim's FIFOs)")
	f.DurationVar(&cfg.GCInterval, prefix+"gc-interval", time.Minute, "how often leftovers nobody owns are removed")
}

// joinOptions are how an agent joins a server.
type joinOptions struct {
	server    string
	tokenFile string
	token     string
	caFile    string
	caHash    string
	labels    []string
	logListen string
	// drain makes the agent remove its pods when it stops, instead of
	// leaving them running for the next start to adopt.
	drain bool
	// allocatable overrides what the node offers the scheduler, for
	// machines shared with other work (and for tests of admission).
	allocatable map[string]string
	// podNetwork turns on the cluster network: "" (off), auto, vxlan or
	// host-gw.
	podNetwork string
	// nodeIP is the node's address for other nodes' routes and NodePorts
	// (default: the host of the advertised log address).
	nodeIP string
	// fence and fenceMargin are the node's side of the partition rule
	// (package fencing).
	fence       bool
	fenceMargin time.Duration
}

const defaultLogListen = "127.0.0.1:0"

func addJoinFlags(f *pflag.FlagSet, o *joinOptions, prefix string, withServer bool) {
	if withServer {
		f.StringVar(&o.server, prefix+"server", "", "join this berth server (https://host:port; http:// only for a server on loopback run with --insecure-http) instead of running static pods")
		f.StringVar(&o.tokenFile, prefix+"token-file", "", "file holding the server's agent join token (agent.token in its data dir)")
		f.StringVar(&o.token, prefix+"token", "", "the join token, as `berth server` prints it (instead of --token-file)")
		f.StringVar(&o.caHash, prefix+"ca-cert-hash", "", "sha256:HEX pin of the cluster CA, as `berth server` prints it: the server is verified by it before anything is sent")
		f.StringVar(&o.caFile, prefix+"ca-file", "", "the cluster CA certificate (pki/ca.crt in the server's data dir), instead of --ca-cert-hash")
	}
	f.StringSliceVar(&o.labels, prefix+"labels", nil, "node labels for nodeSelector, as key=value")
	f.StringVar(&o.logListen, prefix+"log-listen", defaultLogListen, "where the agent serves its pods' logs to the server")
	f.BoolVar(&o.drain, prefix+"drain-on-exit", false, "stop and remove every pod when the agent stops (default: they keep running)")
	f.StringVar(&o.podNetwork, prefix+"pod-network", "", "program Services, cluster DNS and routes to other nodes' pods: auto (direct routes on a shared link, VXLAN elsewhere), vxlan or host-gw; empty: off. Needs nft (Debian nftables)")
	f.StringVar(&o.nodeIP, prefix+"node-ip", "", "this node's address: other nodes route its pods' subnet to it and NodePorts answer on it; the log server listens there too unless --"+prefix+"log-listen is given (default: the host of the log address)")
	f.BoolVar(&o.fence, prefix+"fence", true, "stop the pods the server would move (all but DaemonSet pods, pods with a claim and finished pods) when the server has been unreachable for the node's lease, so no pod runs on two nodes at once; off: they keep running")
	f.DurationVar(&o.fenceMargin, prefix+"fence-margin", 0, "how much before the server's --node-timeout the lease ends (0: a quarter of it)")
	f.StringToStringVar(&o.allocatable, prefix+"allocatable", nil, "what this node offers to pods, e.g. cpu=2,memory=4Gi,pods=50; resources not named keep the machine's (default: all of the machine)")
}

// parseAllocatable turns --allocatable into the node's allocatable
// resources: the machine's, with the named ones replaced. Nil when the
// flag is not given, so the link reports the machine as it is.
func parseAllocatable(kv map[string]string, machine corev1.ResourceList) (corev1.ResourceList, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	rl := machine.DeepCopy()
	for name, v := range kv {
		switch corev1.ResourceName(name) {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage:
		default:
			return nil, fmt.Errorf("allocatable %s: want cpu, memory, pods or ephemeral-storage", name)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("allocatable %s=%s: %w", name, v, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("allocatable %s=%s: must not be negative", name, v)
		}
		if m, ok := machine[corev1.ResourceName(name)]; ok && q.Cmp(m) > 0 {
			return nil, fmt.Errorf("allocatable %s=%s: more than the machine has (%s)", name, v, m.String())
		}
		rl[corev1.ResourceName(name)] = q
	}
	return rl, nil
}

// runJoined runs an agent joined to a server until ctx ends.
func runJoined(ctx context.Context, server, token string, hc *http.Client, cfg nodeagent.Config, o joinOptions) error {
	labels := map[string]string{}
	for _, kv := range o.labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("label %q: want key=value", kv)
		}
		labels[k] = v
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if o.fenceMargin < 0 {
		return fmt.Errorf("--fence-margin %v: must not be negative", o.fenceMargin)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, ok := labels["kubernetes.io/hostname"]; !ok {
		labels["kubernetes.io/hostname"] = cfg.NodeName
	}
	machine := remote.MachineResources()
	if cfg.StorageDir != "" {
		q, err := claimStorage(cfg.StorageDir)
		if err != nil {
			return err
		}
		machine[api.ResourceClaimStorage] = q
	}
	allocatable, err := parseAllocatable(o.allocatable, machine)
	if err != nil {
		return err
	}
	var network *remote.NetworkOptions
	if o.podNetwork != "" {
		mode, err := podroutes.ParseMode(o.podNetwork)
		if err != nil {
			return fmt.Errorf("--pod-network: %w", err)
		}
		network = &remote.NetworkOptions{Mode: mode}
	}
	var nodeIP netip.Addr
	if o.nodeIP != "" {
		if nodeIP, err = netip.ParseAddr(o.nodeIP); err != nil || !nodeIP.Is4() {
			return fmt.Errorf("--node-ip %q: want an IPv4 address", o.nodeIP)
		}
		if o.logListen == defaultLogListen {
			o.logListen = net.JoinHostPort(nodeIP.String(), "0")
		}
	}
	return remote.RunAgent(ctx, remote.Config{
		Server: server, Token: token, HTTPClient: hc, NodeName: cfg.NodeName, Labels: labels,
		Capacity: machine, Allocatable: allocatable, NodeIP: nodeIP,
		LogListen: o.logListen, DrainOnExit: o.drain, Network: network, Build: version.Get(),
		NoFence: !o.fence, FenceMargin: o.fenceMargin,
	}, cfg)
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}

// claimStorage is what the node offers claims: the free space of the
// filesystem under dir plus what the claims already there use (they are
// charged by their requests, not their use).
func claimStorage(dir string) (resource.Quantity, error) {
	st, err := localstorage.Open(dir)
	if err != nil {
		return resource.Quantity{}, err
	}
	c, err := st.Capacity()
	if err != nil {
		return resource.Quantity{}, err
	}
	claims, err := st.List()
	if err != nil {
		return resource.Quantity{}, err
	}
	offer := c.Available
	for _, u := range claims {
		offer += u.Used
	}
	return *resource.NewQuantity(min(offer, c.Total), resource.BinarySI), nil
}
