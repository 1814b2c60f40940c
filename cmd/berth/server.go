//go:build !berth_agent

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/endpoints"
	"github.com/berth-dev/berth/nodeagent/clusterdns"
	"github.com/berth-dev/berth/serviceaddr"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/apiserver"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/nodeagent"
	"github.com/berth-dev/berth/pki"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/scheduler"
)

// serverOptions are the flags of `berth server`.
type serverOptions struct {
	repo, ref, path string
	interval        time.Duration
	dataDir         string
	restore         string
	listen          string
	advertise       string
	insecureHTTP    bool
	clusterCIDR     string
	serviceCIDR     string
	nodeTimeout     time.Duration
	fenceGrace      time.Duration
	strategy        string
	agent           bool
	agentCfg        nodeagent.Config
	join            joinOptions

	gitUsername, gitPasswordFile, gitPasswordEnv string
	sshKeyFile, knownHosts                       string
	verify, gpgKeyring, sshAllowedSigners        string
	githubSecret, gitlabSecret, giteaSecret      string
	webhookToken                                 string
	metricsListen                                string
}

func newServerCmd() *cobra.Command {
	o := serverOptions{}
	var conf configFlags
	cmd := &cobra.Command{
		Use:   "server --repo URL",
		Short: "Run the control plane (and, by default, an agent for this machine)",
		Long: `berth server watches a Git repository of Kubernetes manifests and keeps
the nodes running exactly what it says.

It polls the repository (and fetches at once on a push webhook), admits a
new revision only if all the pods it needs fit on the cluster, places every
pod on a node, and serves the API that agents and the CLI speak. By default
it also runs an agent for the machine it is on, so one command runs berth
on one machine; --agent=false makes it a pure control plane.

On first start it creates an agent join token and an admin token in the
data dir (files with mode 0600), and writes ~/.config/berth/config.json so
berth get/describe/logs/status on this machine find the server.

SOPS-encrypted Secrets are decrypted in memory with the age identity in
<data>/age.key (age-keygen -o <data>/age.key; mode 0600), read again for
every revision; without it a revision holding an encrypted Secret is refused.

Webhooks are served at /hooks/github, /hooks/gitlab, /hooks/gitea and
/hooks/generic when their secret is given.`,
		Example: `  # one machine, the examples in this repository
  berth server --repo . --path examples-repo

  # a remote repository over HTTPS with a token, and GitHub webhooks
  berth server --repo https://git.example.com/ops/cluster.git \
      --git-password-file /etc/berth/git-token --github-secret-file /etc/berth/hook-secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if done, err := conf.load(cmd); done || err != nil {
				return err
			}
			if o.repo == "" {
				return errors.New("--repo is required (or the key repo in --config)")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServer(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "Git repository to follow: a path, file://, http(s)://, ssh:// or git@host:path (required)")
	f.StringVar(&o.ref, "ref", "", "branch, tag or full commit SHA to follow (default: the remote's HEAD branch)")
	f.StringVar(&o.path, "path", "", "directory inside the repository holding the manifests (default: the whole tree)")
	f.DurationVar(&o.interval, "interval", gitsource.DefaultInterval, "how often to poll the repository")
	f.StringVar(&o.dataDir, "data", "/var/lib/berth", "directory for the store, the Git clone and the tokens")
	f.StringVar(&o.restore, "restore", "", "start from this backup (made by `berth backup FILE`) instead of the store in --data; the store there is kept beside it as berth.db.before-restore-TIME")
	f.StringVar(&o.listen, "listen", "127.0.0.1:7070", "address of the API and webhooks")
	f.StringVar(&o.advertise, "advertise-address", "", "host[:port] other machines reach the server at: in the API certificate and the printed join command (default: the listen address)")
	f.BoolVar(&o.insecureHTTP, "insecure-http", false, "serve plain HTTP instead of HTTPS (only with a loopback --listen)")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", "198.18.0.0/16", "range the nodes' /24 pod subnets are allocated from")
	f.StringVar(&o.serviceCIDR, "service-cidr", serviceaddr.DefaultServiceCIDR.String(), "range Services' cluster IPs are allocated from (its tenth address serves cluster DNS)")
	f.DurationVar(&o.nodeTimeout, "node-timeout", 40*time.Second, "how long a node may miss heartbeats before it is NotReady")
	f.DurationVar(&o.fenceGrace, "fence-grace", 0, "how much longer than --node-timeout a NotReady node's pods wait before they move, while its agent, cut off, stops them (0: a quarter of --node-timeout)")
	f.StringVar(&o.strategy, "strategy", "spread", "placement: spread (least allocated) or binpack (most allocated)")
	f.BoolVar(&o.agent, "agent", true, "also run an agent for this machine")
	f.StringVar(&o.gitUsername, "git-username", "", "HTTP basic-auth user for the repository")
	f.StringVar(&o.gitPasswordFile, "git-password-file", "", "file holding the HTTP password or access token")
	f.StringVar(&o.gitPasswordEnv, "git-password-env", "", "environment variable holding the HTTP password or access token")
	f.StringVar(&o.sshKeyFile, "ssh-key-file", "", "SSH private key for ssh:// and git@host:path repositories")
	f.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file with the Git server's host key (required for SSH)")
	f.StringVar(&o.verify, "verify", "none", "commit signatures: none, or head (the followed commit must be signed by a trusted key)")
	f.StringVar(&o.gpgKeyring, "gpg-keyring", "", "trusted OpenPGP public keys (gpg --export output)")
	f.StringVar(&o.sshAllowedSigners, "ssh-allowed-signers", "", "trusted SSH signing keys, in git's allowed_signers format")
	f.StringVar(&o.githubSecret, "github-secret-file", "", "enable /hooks/github with this shared secret file")
	f.StringVar(&o.gitlabSecret, "gitlab-secret-file", "", "enable /hooks/gitlab with this token file")
	f.StringVar(&o.giteaSecret, "gitea-secret-file", "", "enable /hooks/gitea (Gitea, Forgejo) with this shared secret file")
	f.StringVar(&o.webhookToken, "webhook-token-file", "", "enable /hooks/generic with this bearer token file")
	addAgentConfigFlags(f, &o.agentCfg, "agent-")
	addJoinFlags(f, &o.join, "agent-", false)
	conf.add(cmd, "server")
	addMetricsFlag(f, &o.metricsListen)
	return cmd
}

func runServer(ctx context.Context, o serverOptions) error {
	log := slog.Default()
	if o.nodeTimeout < minNodeTimeout {
		return fmt.Errorf("--node-timeout %v: must be at least %v", o.nodeTimeout, minNodeTimeout)
	}
	if o.fenceGrace < 0 {
		return fmt.Errorf("--fence-grace %v: must not be negative", o.fenceGrace)
	}
	strategy, err := scheduler.ParseStrategy(o.strategy)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	tokens, err := reconciler.EnsureTokens(o.dataDir)
	if err != nil {
		return err
	}
	if o.insecureHTTP {
		if err := checkInsecureHTTP(o.listen); err != nil {
			return err
		}
	}
	ca, err := pki.EnsureCA(filepath.Join(o.dataDir, "pki"))
	if err != nil {
		return err
	}
	dbPath := filepath.Join(o.dataDir, "berth.db")
	if o.restore != "" {
		kept, err := reconciler.RestoreBolt(o.restore, dbPath, time.Now())
		if err != nil {
			return err
		}
		log.Info("restored the store from a backup", "backup", o.restore, "store", dbPath, "previous store kept as", kept)
	}
	store, err := reconciler.OpenBolt(dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if before, now := store.Schema(); before != now {
		log.Info("migrated the store", "store", dbPath, "from schema", before, "to schema", now)
	}

	gopts := gitsource.Options{
		URL: o.repo, Ref: o.ref, Path: o.path, Dir: filepath.Join(o.dataDir, "git"),
		Interval: o.interval, Username: o.gitUsername,
		Password:   gitsource.Secret{File: o.gitPasswordFile, Env: o.gitPasswordEnv},
		SSHKey:     gitsource.Secret{File: o.sshKeyFile},
		KnownHosts: o.knownHosts, Verify: gitsource.VerifyMode(o.verify),
		OpenPGPKeyRing: o.gpgKeyring, SSHAllowedSigners: o.sshAllowedSigners,
		Identities: ageKeyFile(filepath.Join(o.dataDir, AgeKeyFile)),
		Logger:     log,
	}
	src, err := gitsource.New(gopts)
	if err != nil {
		return err
	}
	serviceCIDR, err := netip.ParsePrefix(o.serviceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr: %w", err)
	}
	configs := reconciler.NewConfigFeed()
	heartbeats := &laterHeartbeats{}
	rec, err := reconciler.New(reconciler.Config{Store: store, Source: reconciler.GitSource(src), Strategy: strategy, NodeTimeout: o.nodeTimeout, FenceGrace: o.fenceGrace, Logger: log, ServiceCIDR: serviceCIDR, Configs: configs,
		Heartbeats: heartbeats})
	if err != nil {
		return err
	}
	hooks := map[string]http.Handler{}
	for _, h := range []struct {
		path, file string
		p          gitsource.Provider
	}{
		{"/hooks/github", o.githubSecret, gitsource.GitHub},
		{"/hooks/gitlab", o.gitlabSecret, gitsource.GitLab},
		{"/hooks/gitea", o.giteaSecret, gitsource.Gitea},
		{"/hooks/generic", o.webhookToken, gitsource.Generic},
	} {
		if h.file == "" {
			continue
		}
		hook, err := src.Webhook(gitsource.WebhookOptions{Provider: h.p, Secret: gitsource.Secret{File: h.file}})
		if err != nil {
			return err
		}
		hooks[h.path] = hook
	}
	network := reconciler.NewNetwork(store, rec, endpoints.NetworkConfig{ServiceCIDR: serviceCIDR.String(), ClusterDNS: serviceaddr.ClusterDNS(serviceCIDR).String(),
		ClusterDomain: clusterdns.DefaultDomain, ClusterCIDR: o.clusterCIDR})
	reads := reconciler.NewReads(store, rec.AppliedObjects).WithAdmission(strategy, serviceCIDR)
	planner := &serverPlanner{src: src, applied: rec.AppliedObjects, reads: reads, path: o.path, strategy: strategy, clock: clock.RealClock{}}
	parts, err := newAPI(store, reads, configs, tokens,
		reconciler.MembershipConfig{ClusterCIDR: o.clusterCIDR, NodeTimeout: o.nodeTimeout, FenceGrace: o.fenceGrace, CA: ca, CertOnly: !o.insecureHTTP,
			ClusterDNS: serviceaddr.ClusterDNS(serviceCIDR).String(), ClusterDomain: clusterdns.DefaultDomain}, hooks,
		network,
		reconciler.Operations{Source: src, Store: store}, planner, clock.RealClock{}, log)
	if err != nil {
		return err
	}
	heartbeats.m.Store(parts.membership)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme, agentClient := "https", caClient(ca.Pool())
	if o.insecureHTTP {
		scheme, agentClient = "http", &http.Client{}
	} else {
		hosts, err := servingHosts(ln.Addr().String(), o.advertise)
		if err != nil {
			ln.Close()
			return err
		}
		cert, err := ca.ServingCert(hosts)
		if err != nil {
			ln.Close()
			return err
		}
		// Nodes authenticate by their client certificates; the CLI and
		// joining agents, which have none, by bearer token.
		ln = tls.NewListener(ln, pki.ClientAuthTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, ca.Pool()))
	}
	serverURL := scheme + "://" + ln.Addr().String()
	cfgPath, err := writeLocalCLIConfig(cliConfig{Server: serverURL, Token: tokens.Admin, CA: string(ca.CertPEM)})
	if err != nil {
		log.Warn("could not write the CLI config", "err", err)
	}
	join := "berth agent --server " + joinURL(scheme, ln.Addr().String(), o.advertise) + " --token " + tokens.Agent
	if !o.insecureHTTP {
		join += " --ca-cert-hash " + ca.Hash()
	}
	fmt.Fprintf(os.Stderr, "berth server on %s\n  admin token: %s\n  CLI config:  %s\n  join a machine (as root) with:\n    %s\n",
		serverURL, filepath.Join(o.dataDir, reconciler.AdminTokenFile), cfgPath, join)

	httpSrv := apiserver.NewHTTPServer(parts.api)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := startMetrics(ctx, o.metricsListen, log); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 7)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	run("http", func(context.Context) error { return httpSrv.Serve(ln) })
	run("git", src.Run)
	run("reconciler", rec.Run)
	run("api", parts.api.Run)
	run("membership", parts.membership.Run)
	// The rollout gate waits for the nodes' confirmations at most the node
	// timeout: a silent node is NotReady by then and no longer waited for.
	run("rollout gate", func(ctx context.Context) error { return network.RunDrain(ctx, clock.RealClock{}, o.nodeTimeout) })
	if o.agent {
		run("agent", func(ctx context.Context) error {
			cfg := o.agentCfg
			cfg.Logger = log.With("component", "agent")
			return runJoined(ctx, serverURL, tokens.Agent, agentClient, cfg, o.join)
		})
	}
	<-ctx.Done()
	log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	_ = httpSrv.Shutdown(shutdownCtx)
	wg.Wait()
	close(errc)
	return <-errc
}

// minNodeTimeout keeps heartbeats (the API server asks for four per
// node timeout) from flooding the server.
const minNodeTimeout = 2 * time.Second

// laterHeartbeats gives the loop the heartbeats the membership receives;
// the membership is made after the loop (the API it serves reads the
// loop), before either runs.
type laterHeartbeats struct {
	m atomic.Pointer[reconciler.Membership]
}

func (h *laterHeartbeats) LastHeartbeat(node string) (time.Time, bool) {
	if m := h.m.Load(); m != nil {
		return m.LastHeartbeat(node)
	}
	return time.Time{}, false
}
