// Package service installs berth's server and agent as systemd services:
// a unit file per role, the role's config file, and the berth binary with
// its helper programs in a fixed place, then enables and starts the unit
// when systemd runs the machine.
//
// The units follow what containerd's and the kubelet's units do, so a node
// behaves like any other container host:
//
//	After/Wants containerd.service   the agent drives containerd
//	Restart=on-failure               come back after a crash, not after stop
//	KillMode=process                 stop only berth itself: pods' shims
//	                                 belong to containerd and keep running
//	LimitNPROC/LimitCORE/TasksMax    unlimited, as containerd sets them
//	LimitNOFILE=1048576              containerd's figure, a fixed number
//	                                 rather than infinity
//
// Stopping the agent does not drain it (pods keep running across an agent
// upgrade and are adopted by the next start); Uninstall with RemovePods
// drains it first.
package service

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Role is what a unit runs.
type Role string

// The roles berth can be installed as.
const (
	Server Role = "server"
	Agent  Role = "agent"
)

// ParseRole accepts server or agent.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case Server, Agent:
		return Role(s), nil
	}
	return "", fmt.Errorf("role %q: want server or agent", s)
}

// UnitName is the systemd unit of the role: berth-server.service or
// berth-agent.service.
func (r Role) UnitName() string { return "berth-" + string(r) + ".service" }

// Layout says where the installed files go; the zero value's fields are
// filled by Defaults.
type Layout struct {
	// UnitDir holds unit files (default /etc/systemd/system).
	UnitDir string
	// ConfigDir holds the roles' config files (default /etc/berth).
	ConfigDir string
	// BinDir receives berth, berth-pause and berth-logger (default
	// /usr/local/bin).
	BinDir string
}

// Defaults fills the empty fields.
func (l Layout) Defaults() Layout {
	if l.UnitDir == "" {
		l.UnitDir = "/etc/systemd/system"
	}
	if l.ConfigDir == "" {
		l.ConfigDir = "/etc/berth"
	}
	if l.BinDir == "" {
		l.BinDir = "/usr/local/bin"
	}
	return l
}

// UnitPath, ConfigPath and Binary are where a role's files live.
func (l Layout) UnitPath(r Role) string   { return filepath.Join(l.UnitDir, r.UnitName()) }
func (l Layout) ConfigPath(r Role) string { return filepath.Join(l.ConfigDir, string(r)+".yaml") }
func (l Layout) Binary() string           { return filepath.Join(l.BinDir, "berth") }

// dropInPath is the drop-in Uninstall writes to make the agent drain.
func (l Layout) dropInPath(r Role) string {
	return filepath.Join(l.UnitDir, r.UnitName()+".d", "berth-drain.conf")
}

// Helpers are the programs the agent runs from beside its binary.
var Helpers = []string{"berth-pause", "berth-logger"}

// Unit renders the unit file of role r running binary with the config
// file at config.
func Unit(r Role, binary, config string) string {
	desc := "berth node agent: runs the pods bound to this machine on containerd"
	if r == Server {
		desc = "berth server: the GitOps control plane (and this machine's agent)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by berth install %[1]s; berth uninstall %[1]s removes it.
[Unit]
Description=%[2]s
Documentation=https://github.com/berth-dev/berth
After=network-online.target containerd.service
Wants=network-online.target containerd.service

[Service]
Type=exec
ExecStart=%[3]s %[1]s --config %[4]s
Restart=on-failure
RestartSec=5s
# Stop berth only: the pods' shims are containerd's, and the agent leaves
# its pods running for the next start to adopt (drain-on-exit: false).
KillMode=process
TimeoutStopSec=90s
# The limits containerd's unit sets.
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=1048576
TasksMax=infinity

[Install]
WantedBy=multi-user.target
`, r, desc, binary, config)
	return b.String()
}

// drainDropIn makes the next start of the unit drain its pods when it
// stops, for Uninstall with RemovePods.
func drainDropIn(r Role, binary, config string) string {
	flag := "--drain-on-exit"
	if r == Server {
		flag = "--agent-drain-on-exit"
	}
	return fmt.Sprintf("# Written by berth uninstall --remove-pods: drain the pods on stop.\n[Service]\nExecStart=\nExecStart=%s %s --config %s %s\n", binary, r, config, flag)
}

// SystemdRunning reports whether systemd is the init system (as
// sd_booted(3) decides: /run/systemd/system exists), and else what PID 1
// is, for the message.
func SystemdRunning() (bool, string) {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return true, "systemd"
	}
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		return false, "unknown"
	}
	return false, strings.TrimSpace(string(comm))
}

// InstallOptions say what Install writes.
type InstallOptions struct {
	Role   Role
	Layout Layout
	// Config is the role's config file content.
	Config []byte
	// Source is the berth binary to install (normally os.Executable());
	// the helpers are taken from beside it when present.
	Source string
	// Force replaces an existing config file; without it one is kept
	// (it may hold the operator's edits) and Install fails.
	Force bool
	// Start enables and starts the unit when systemd runs the machine.
	Start bool
	// Out receives what was done and what to run next.
	Out io.Writer
}

// ErrConfigExists is returned when the config file is there and Force
// is not set.
var ErrConfigExists = errors.New("config file exists")

// Install writes the binary, the config file and the unit, then (with
// Start and systemd running) reloads systemd and enables and starts the
// unit. Without systemd it says so and prints the commands to run.
func Install(o InstallOptions) error {
	l := o.Layout.Defaults()
	cfgPath, unitPath := l.ConfigPath(o.Role), l.UnitPath(o.Role)
	if _, err := os.Stat(cfgPath); err == nil && !o.Force {
		return fmt.Errorf("%w: %s (edit it, or give --force to replace it)", ErrConfigExists, cfgPath)
	}
	if err := installBinaries(o.Source, l.BinDir, o.Out); err != nil {
		return err
	}
	if err := writeFile(cfgPath, o.Config, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "wrote %s\n", cfgPath)
	if err := writeFile(unitPath, []byte(Unit(o.Role, l.Binary(), cfgPath)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "wrote %s\n", unitPath)
	unit := o.Role.UnitName()
	running, pid1 := SystemdRunning()
	switch {
	case !o.Start:
		fmt.Fprintf(o.Out, "not started (--start=false); to start it:\n  systemctl daemon-reload && systemctl enable --now %s\n", unit)
	case !running:
		fmt.Fprintf(o.Out, "systemd is not running this machine (PID 1 is %q), so %s was not enabled or started.\n"+
			"On a machine booted with systemd run:\n  systemctl daemon-reload && systemctl enable --now %s\n"+
			"Here, run it in the foreground instead:\n  %s %s --config %s\n", pid1, unit, unit, l.Binary(), o.Role, cfgPath)
	default:
		for _, args := range [][]string{{"daemon-reload"}, {"enable", "--now", unit}} {
			if err := systemctl(o.Out, args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(o.Out, "started %s\n", unit)
	}
	fmt.Fprintf(o.Out, "logs:   journalctl -u %s -f\nstatus: systemctl status %s\n", strings.TrimSuffix(unit, ".service"), unit)
	return nil
}

// UninstallOptions say what Uninstall removes.
type UninstallOptions struct {
	Role   Role
	Layout Layout
	// RemovePods drains the node first (the agent stops and removes every
	// pod); without it the pods keep running.
	RemovePods bool
	// Purge removes the config file and DataDirs too. Directories running
	// pods need (an agent's run and log dirs) belong in DataDirs only
	// together with RemovePods.
	Purge    bool
	DataDirs []string
	Out      io.Writer
}

// Uninstall stops and disables the unit (when systemd runs the machine)
// and removes the unit file; pods, data and the config file stay unless
// asked. The binaries stay: the other role may use them.
func Uninstall(o UninstallOptions) error {
	l := o.Layout.Defaults()
	unit := o.Role.UnitName()
	running, pid1 := SystemdRunning()
	if o.RemovePods {
		if !running {
			return fmt.Errorf("--remove-pods needs the service running under systemd to drain it, and PID 1 is %q: stop berth, then run `%s %s --config %s --drain-on-exit` and stop it with Ctrl-C",
				pid1, l.Binary(), o.Role, l.ConfigPath(o.Role))
		}
		if err := writeFile(l.dropInPath(o.Role), []byte(drainDropIn(o.Role, l.Binary(), l.ConfigPath(o.Role))), 0o644); err != nil {
			return err
		}
		// Restarting with the drop-in adopts the pods; stopping it then
		// removes them.
		for _, args := range [][]string{{"daemon-reload"}, {"restart", unit}} {
			if err := systemctl(o.Out, args...); err != nil {
				return err
			}
		}
	}
	if running {
		if err := systemctl(o.Out, "disable", "--now", unit); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.Out, "systemd is not running this machine (PID 1 is %q): stop a berth %s you started by hand yourself\n", pid1, o.Role)
	}
	var errs []error
	for _, p := range []string{l.UnitPath(o.Role), l.dropInPath(o.Role)} {
		if err := os.Remove(p); err == nil {
			fmt.Fprintf(o.Out, "removed %s\n", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(filepath.Dir(l.dropInPath(o.Role)))
	if running {
		errs = append(errs, systemctl(o.Out, "daemon-reload"))
	}
	if o.Purge {
		for _, p := range append([]string{l.ConfigPath(o.Role)}, o.DataDirs...) {
			if p == "" || p == "/" {
				continue
			}
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(o.Out, "removed %s\n", p)
		}
	} else {
		fmt.Fprintf(o.Out, "kept %s and the data (--purge removes them)\n", l.ConfigPath(o.Role))
	}
	if !o.RemovePods {
		fmt.Fprintln(o.Out, "pods keep running (--remove-pods drains them first)")
	}
	return errors.Join(errs...)
}

func systemctl(out io.Writer, args ...string) error {
	cmd := exec.Command("systemctl", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("systemctl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// installBinaries copies src (and the helpers beside it, when present)
// into dir, each replaced whole by a rename so a running agent keeps its
// old file and the next start gets the new one.
func installBinaries(src, dir string, out io.Writer) error {
	srcDir := filepath.Dir(src)
	pairs := [][2]string{{src, filepath.Join(dir, "berth")}}
	for _, h := range Helpers {
		p := filepath.Join(srcDir, h)
		if _, err := os.Stat(p); err == nil {
			pairs = append(pairs, [2]string{p, filepath.Join(dir, h)})
		} else {
			fmt.Fprintf(out, "note: %s not found beside %s; the agent needs it (just build makes it)\n", h, src)
		}
	}
	for _, p := range pairs {
		if same(p[0], p[1]) {
			continue
		}
		b, err := os.ReadFile(p[0])
		if err != nil {
			return fmt.Errorf("install: %w", err)
		}
		if err := writeFile(p[1], b, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(out, "installed %s\n", p[1])
	}
	return nil
}

func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// writeFile replaces path whole (temp file and rename) with mode.
func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("install %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("install %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	return nil
}
