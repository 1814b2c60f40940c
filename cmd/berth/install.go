//go:build !berth_agent

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/internal/flagfile"
	"github.com/berth-dev/berth/internal/service"
)

// roleFlags returns the flag set of `berth server` or `berth agent`, the
// same flags the installed service reads from its config file.
func roleFlags(r service.Role) *pflag.FlagSet {
	if r == service.Server {
		return newServerCmd().Flags()
	}
	return newAgentCmd().Flags()
}

func addLayoutFlags(f *pflag.FlagSet, l *service.Layout) {
	f.StringVar(&l.UnitDir, "unit-dir", "/etc/systemd/system", "where the systemd unit is written")
	f.StringVar(&l.ConfigDir, "config-dir", "/etc/berth", "where the role's config file (ROLE.yaml) is written")
	f.StringVar(&l.BinDir, "bin-dir", "/usr/local/bin", "where berth, berth-pause and berth-logger are copied")
}

func newInstallCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "install (server|agent) [flags of berth server or berth agent]",
		Short: "Install berth as a systemd service with its config file",
		Long: `Install berth server or berth agent as a systemd service: copy this berth
(and berth-pause, berth-logger beside it) to --bin-dir, write the flags
given here as the config file /etc/berth/ROLE.yaml (every flag of the role
is a key; edit the file later and restart the service), write the unit
berth-ROLE.service, and enable and start it.

The unit restarts berth when it fails, starts it after containerd, and
stops only berth itself: the agent does not drain on stop, so its pods keep
running across a restart or an upgrade and are adopted again.

Where systemd does not run the machine (a container, a chroot) the files are
written and the commands to start the service are printed instead.`,
		Example: `  sudo berth install server --repo https://git.example.com/ops/cluster.git --listen 0.0.0.0:7070
  sudo berth install agent --server https://10.0.0.1:7070 --token-file /etc/berth/agent.token --ca-cert-hash sha256:... --labels zone=a
  journalctl -u berth-agent -f`,
	}
	for _, r := range []service.Role{service.Server, service.Agent} {
		cmd.AddCommand(newInstallRoleCmd(r))
	}
	return cmd
}

func newInstallRoleCmd(r service.Role) *cobra.Command {
	var l service.Layout
	var force, start bool
	role := roleFlags(r)
	cmd := &cobra.Command{
		Use:   string(r) + " [flags]",
		Short: "Install berth " + string(r) + " as the systemd service " + r.UnitName(),
		Long: fmt.Sprintf(`Install berth %[1]s as the systemd service %[2]s. It takes every flag of
'berth %[1]s'; those given are written to %[3]s, the rest keep their
defaults. See 'berth install --help'.`, r, r.UnitName(), "/etc/berth/"+string(r)+".yaml"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := absolutePaths(role); err != nil {
				return err
			}
			if err := checkRole(r, role); err != nil {
				return err
			}
			cfg, err := flagfile.Changed(role, notSettings...)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("install: %w", err)
			}
			header := fmt.Sprintf("# berth %s settings, written by berth install %s. Every flag of\n# `berth %s` is a key; `berth %s --config %s --print-config` shows them all.\n",
				r, r, r, r, l.ConfigPath(r))
			return service.Install(service.InstallOptions{
				Role: r, Layout: l, Config: append([]byte(header), cfg...), Source: self,
				Force: force, Start: start, Out: cmd.OutOrStdout(),
			})
		},
	}
	f := cmd.Flags()
	role.VisitAll(func(fl *pflag.Flag) {
		for _, s := range notSettings {
			if fl.Name == s {
				return
			}
		}
		f.AddFlag(fl)
	})
	addLayoutFlags(f, &l)
	f.BoolVar(&force, "force", false, "replace an existing config file")
	f.BoolVar(&start, "start", true, "enable and start the service (when systemd runs this machine)")
	return cmd
}

// checkRole refuses an install whose service could never start.
func checkRole(r service.Role, fs *pflag.FlagSet) error {
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	switch r {
	case service.Server:
		if get("repo") == "" {
			return errors.New("--repo is required")
		}
	case service.Agent:
		if (get("manifests-dir") == "") == (get("server") == "") {
			return errors.New("give either --server and --token-file (join a server) or --manifests-dir (static pods)")
		}
		if get("server") != "" && get("token-file") == "" {
			return errors.New("--token-file is required with --server")
		}
	}
	return nil
}

// absolutePaths makes relative paths given to path-like flags absolute: a
// service runs in /, not where install ran.
func absolutePaths(fs *pflag.FlagSet) error {
	var errs []error
	// VisitAll and Changed, not Visit: the flags were parsed by the
	// install command's flag set, which shares them.
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Changed || f.Value.Type() != "string" || !isPathFlag(f.Name) {
			return
		}
		v := f.Value.String()
		if v == "" || filepath.IsAbs(v) || strings.Contains(v, "://") || strings.Contains(v, "@") {
			return
		}
		abs, err := filepath.Abs(v)
		if err == nil {
			err = fs.Set(f.Name, abs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.Name, err))
		}
	})
	return errors.Join(errs...)
}

func isPathFlag(name string) bool {
	name = strings.TrimPrefix(name, "agent-")
	switch name {
	case "repo", "data", "known-hosts", "gpg-keyring", "ssh-allowed-signers", "pause-binary", "logger-binary", "cni-conf", "containerd-socket", "runc-root":
		return true
	}
	return strings.HasSuffix(name, "-file") || strings.HasSuffix(name, "-dir")
}

func newUninstallCmd() *cobra.Command {
	var l service.Layout
	var removePods, purge bool
	cmd := &cobra.Command{
		Use:   "uninstall (server|agent)",
		Short: "Stop and remove the systemd service berth install made",
		Long: `Stop and disable berth-ROLE.service and remove its unit. The pods keep
running and the config file and data stay, unless asked: --remove-pods
drains the node first (the agent stops and removes every pod), --purge
removes the config file and the role's data: the server's --data, and
with --remove-pods the agent's --run-dir and --log-dir, as the config file
sets them.`,
		Example: `  sudo berth uninstall agent
  sudo berth uninstall server --remove-pods --purge`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{string(service.Server), string(service.Agent)},
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := service.ParseRole(args[0])
			if err != nil {
				return err
			}
			var data []string
			if purge {
				if data, err = dataDirs(r, l.Defaults().ConfigPath(r), removePods); err != nil {
					return err
				}
			}
			return service.Uninstall(service.UninstallOptions{
				Role: r, Layout: l, RemovePods: removePods, Purge: purge, DataDirs: data, Out: cmd.OutOrStdout(),
			})
		},
	}
	f := cmd.Flags()
	addLayoutFlags(f, &l)
	f.BoolVar(&removePods, "remove-pods", false, "drain the node first: stop and remove every pod of this machine")
	f.BoolVar(&purge, "purge", false, "also remove the config file and the role's data directories")
	return cmd
}

// dataDirs reads the role's config file (if there is one) to find where
// its data lives. The agent's run and log dirs hold what running pods use
// (network namespaces, volumes, log files), so they go only with the pods.
func dataDirs(r service.Role, cfg string, withPods bool) ([]string, error) {
	fs := roleFlags(r)
	if _, err := os.Stat(cfg); err == nil {
		if err := flagfile.Load(fs, cfg, notSettings...); err != nil {
			return nil, err
		}
	}
	var names []string
	if r == service.Server {
		names = append(names, "data")
	}
	if withPods {
		prefix := ""
		if r == service.Server {
			prefix = "agent-"
		}
		names = append(names, prefix+"run-dir", prefix+"log-dir")
	}
	var dirs []string
	for _, n := range names {
		dirs = append(dirs, fs.Lookup(n).Value.String())
	}
	return dirs, nil
}
