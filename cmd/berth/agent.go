package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/nodeagent/containerlog"
)

// agentGCPercent is the agent's GOGC unless the environment sets one.
const agentGCPercent = 50

func newAgentCmd() *cobra.Command {
	var cfg nodeagent.Config
	var manifestsDir string
	var poll time.Duration
	var verbose bool
	var join joinOptions
	var archives []string
	var conf configFlags
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "agent (--manifests-dir DIR | --server URL --token-file FILE)",
		Short: "Run the node agent: make containerd run the pods this node should run",
		Long: `The node agent runs pods on this machine with containerd and CNI: for each
pod a network namespace with an IP from the pod subnet, a small "pause"
process holding it, then the pod's init containers, sidecars and app
containers joined to it, with their volumes, restarts and logs.

With --manifests-dir it runs static pods: every Pod found in the directory
(YAML or JSON, as 'berth validate' reads them) runs on this machine, and the
directory is read again every --poll, so adding, editing or removing a file
starts, replaces or stops its pod. Deployments, Jobs and CronJobs in the
directory are reported and skipped: they need the control plane.

With --server it joins a berth server as a node: it registers, gets its pod
subnet from the server, runs the pods the server binds to it, and reports
their status; berth logs reaches its pods' logs through it.

The agent keeps no state of its own. Stopping it (Ctrl-C, or even kill -9)
leaves the pods running; started again, it adopts them without restarting
anything and removes what is no longer wanted.

It needs root, containerd (with runc), the CNI plugins bridge, host-local,
portmap and loopback (Debian: containernetworking-plugins), and the pause
program built from this repository (bin/berth-pause, see --pause-binary).
Several agents can share one machine as separate "nodes" if each has its own
--namespace, --run-dir, --network, --bridge and --pod-subnet.`,
		Example: `  # run the example pods (images from a registry on 127.0.0.1:5000)
  sudo berth agent --manifests-dir examples-repo/pods

  # join a server as a node
  sudo berth agent --server https://10.0.0.1:7070 --token-file agent.token --ca-cert-hash sha256:... --labels zone=a

  # a second "node" on the same machine
  sudo berth agent --manifests-dir node2/ --namespace node2 --run-dir /run/berth/node2 \
      --network node2 --bridge berth1 --pod-subnet 198.18.1.0/24 --log-dir /var/log/berth/node2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if done, err := conf.load(cmd); done || err != nil {
				return err
			}
			// The agent's heap is mostly long-lived pod state and idle
			// between events: collect at half the default growth (GOGC=50)
			// unless GOGC says otherwise, for a smaller resident set on a
			// node whose memory belongs to its pods.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(agentGCPercent)
			}
			if (manifestsDir == "") == (join.server == "") {
				return errors.New("give either --manifests-dir (static pods) or --server and --token-file (join a server)")
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := startMetrics(ctx, metricsListen, cfg.Logger); err != nil {
				return err
			}
			if join.server != "" {
				token := join.token
				if token == "" {
					var err error
					if token, err = readToken(join.tokenFile); err != nil {
						return err
					}
				}
				hc, err := agentHTTPClient(join.server, join.caFile, join.caHash)
				if err != nil {
					return err
				}
				return runJoined(ctx, join.server, token, hc, cfg, join)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			a, err := nodeagent.New(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			for _, path := range archives {
				if err := importArchive(ctx, a, path, cfg.Logger); err != nil {
					return err
				}
			}
			cfg.Logger.Info("agent started", "node", cfg.NodeName, "manifests", manifestsDir, "containerd", cfg.ContainerdAddress, "namespace", cfg.Namespace)
			src := &nodeagent.DirSource{Dir: manifestsDir, NodeName: cfg.NodeName, Interval: poll, Logger: cfg.Logger}
			err = a.Run(ctx, src)
			cfg.Logger.Info("agent stopped; pods keep running")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&manifestsDir, "manifests-dir", "", "directory of static pod manifests to run (required)")
	f.DurationVar(&poll, "poll", 2*time.Second, "how often the manifests directory is read again")
	addAgentConfigFlags(f, &cfg, "")
	f.StringVar(&cfg.PodSubnet, "pod-subnet", "198.18.0.0/24", "pod IP range for static pods; must lie within 198.18.0.0/15 (a joined agent gets its subnet from the server)")
	addJoinFlags(f, &join, "", true)
	f.StringSliceVar(&archives, "image-archive", nil, "import the images of this docker-save or OCI archive at start (repeatable), for nodes without a registry")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	conf.add(cmd, "agent")
	addMetricsFlag(f, &metricsListen)
	cmd.AddCommand(newAgentLogsCmd(), newAgentPushImagesCmd(), newAgentContainerdCmd())
	return cmd
}

// importArchive logs to the agent's logger, so the line goes where the
// agent's other lines go, at the level --verbose sets.
func importArchive(ctx context.Context, a *nodeagent.Agent, path string, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	names, err := a.ImportImages(ctx, f)
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	log.Info("imported images", "archive", path, "images", names)
	return nil
}

func newAgentLogsCmd() *cobra.Command {
	var logDir, namespace, container string
	var follow, previous, timestamps bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs POD",
		Short: "Print a container's output from this node's log files",
		Long: `Print what a container of a pod on this node wrote to stdout and stderr,
read from the agent's log files (no server needed). With one container in
the pod -c may be left out. -f keeps printing new output until Ctrl-C or
until the container restarts.`,
		Example: `  berth agent logs web -c server
  berth agent logs web -c server -f
  berth agent logs web -c server --previous   # the run before the last restart`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod, err := containerlog.FindPod(logDir, namespace, args[0])
			if err != nil {
				return fmt.Errorf("pod %s/%s: %w", namespace, args[0], err)
			}
			if container == "" {
				names, err := pod.Containers(logDir)
				if err != nil {
					return err
				}
				if len(names) != 1 {
					return fmt.Errorf("pod %s has containers %v: name one with -c", args[0], names)
				}
				container = names[0]
			}
			dir, err := pod.ContainerDir(logDir, container)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err = containerlog.Read(ctx, cmd.OutOrStdout(), dir, containerlog.ReadOptions{
				Follow: follow, Previous: previous, Tail: tail, Timestamps: timestamps,
			})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&logDir, "log-dir", "/var/log/berth/pods", "the agent's --log-dir")
	f.StringVarP(&namespace, "pod-namespace", "n", "default", "the pod's Kubernetes namespace")
	f.StringVarP(&container, "container", "c", "", "container name (needed when the pod has several)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	f.BoolVarP(&previous, "previous", "p", false, "print the run before the latest restart")
	f.BoolVar(&timestamps, "timestamps", false, "prefix lines with the time they were written")
	f.IntVar(&tail, "tail", 0, "print only the last N lines (0: all)")
	return cmd
}

func newAgentPushImagesCmd() *cobra.Command {
	var registry, busyboxPath, busyboxRef string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "push-images --registry HOST:PORT",
		Short: "Build the busybox image from this machine's busybox and push it to a registry",
		Long: `Build an OCI image of busybox from the static busybox binary installed on this
machine (Debian: busybox-static), with sh, httpd, wget and every other applet
on PATH, and push it to a registry, so the example pods can run without any
public registry. The examples refer to 127.0.0.1:5000/berth/busybox:1.35.`,
		Example: `  docker-registry serve /etc/docker/registry/config.yml &   # listens on 127.0.0.1:5000
  berth agent push-images --registry 127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := images.Busybox(busyboxPath)
			if err != nil {
				return err
			}
			ref := registry + "/" + busyboxRef
			if err := images.Push(cmd.Context(), img, ref, insecure); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "pushed", ref)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&registry, "registry", "127.0.0.1:5000", "registry host:port")
	f.StringVar(&busyboxPath, "busybox", images.DefaultBusybox, "the static busybox binary")
	f.StringVar(&busyboxRef, "name", "berth/busybox:1.35", "repository and tag to push")
	f.BoolVar(&insecure, "insecure", false, "use plain HTTP even for a registry not on loopback")
	return cmd
}

func newAgentContainerdCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "containerd --dir DIR",
		Short: "Run a private containerd for demos, with everything under DIR",
		Long: `Start containerd with its own config, root, state and socket under DIR (the
socket is DIR/containerd.sock), apart from any containerd the machine runs,
and keep it running until Ctrl-C; then stop it and remove DIR. Point agents
at it with --containerd-socket DIR/containerd.sock --runc-root DIR/runc.`,
		Example: `  sudo berth agent containerd --dir /run/berth-demo &
  sudo berth agent --containerd-socket /run/berth-demo/containerd.sock --runc-root /run/berth-demo/runc --manifests-dir examples-repo/pods`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := containerdrun.Start(ctx, abs, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "containerd listening on", c.Address)
			<-ctx.Done()
			return c.Stop()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for containerd's config, state and socket (short path; required)")
	return cmd
}
