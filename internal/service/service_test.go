package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testenv"
)

// verify runs systemd-analyze verify on unit (with SYSTEMD_UNIT_PATH so
// drop-ins beside it are read too) and fails on anything it says about
// berth's units: a warning such as an unknown key is a failure.
func verify(t *testing.T, unit string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testenv.Missing(t, "systemd-analyze (Debian package systemd)")
	}
	cmd := exec.Command("systemd-analyze", "verify", unit)
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+filepath.Dir(unit)+":")
	out, err := cmd.CombinedOutput()
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "berth") {
			ours = append(ours, line)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

func TestInstallUninstall(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	running, pid1 := SystemdRunning()
	for _, role := range []Role{Server, Agent} {
		t.Run(string(role), func(t *testing.T) {
			dir := t.TempDir()
			l := Layout{UnitDir: filepath.Join(dir, "units"), ConfigDir: filepath.Join(dir, "etc"), BinDir: filepath.Join(dir, "bin")}
			var out bytes.Buffer
			o := InstallOptions{Role: role, Layout: l, Config: []byte("node-name: n1\n"), Source: self, Start: !running, Out: &out}
			if err := Install(o); err != nil {
				t.Fatal(err)
			}
			unit := l.UnitPath(role)
			verify(t, unit)
			b, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"ExecStart=" + l.Binary() + " " + string(role) + " --config " + l.ConfigPath(role) + "\n",
				"After=network-online.target containerd.service\n", "Restart=on-failure\n", "KillMode=process\n", "LimitNOFILE=1048576\n",
			} {
				if !strings.Contains(string(b), want) {
					t.Errorf("unit lacks %q:\n%s", want, b)
				}
			}
			if fi, err := os.Stat(l.Binary()); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("binary: %v %v", fi, err)
			}
			if fi, err := os.Stat(l.ConfigPath(role)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("config: %v %v", fi, err)
			}
			if !running {
				// Said plainly, with what to run.
				for _, want := range []string{"systemd is not running this machine (PID 1 is \"" + pid1 + "\")",
					"systemctl daemon-reload && systemctl enable --now " + role.UnitName(), "journalctl -u berth-" + string(role)} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("install said nothing like %q:\n%s", want, out.String())
					}
				}
			}
			if err := Install(o); err == nil || !strings.Contains(err.Error(), "config file exists") {
				t.Errorf("second install: err = %v, want config file exists", err)
			}
			o.Force = true
			if err := Install(o); err != nil {
				t.Errorf("install --force: %v", err)
			}

			// The drop-in uninstall --remove-pods writes is a valid unit too.
			if err := writeFile(l.dropInPath(role), []byte(drainDropIn(role, l.Binary(), l.ConfigPath(role))), 0o644); err != nil {
				t.Fatal(err)
			}
			verify(t, unit)

			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if err := Uninstall(UninstallOptions{Role: role, Layout: l, DataDirs: []string{data}, Out: &out}); err != nil {
				t.Fatal(err)
			}
			for _, gone := range []string{unit, l.dropInPath(role)} {
				if _, err := os.Stat(gone); !os.IsNotExist(err) {
					t.Errorf("%s left after uninstall", gone)
				}
			}
			for _, kept := range []string{l.ConfigPath(role), data, l.Binary()} {
				if _, err := os.Stat(kept); err != nil {
					t.Errorf("uninstall without --purge removed %s", kept)
				}
			}
			if !strings.Contains(out.String(), "pods keep running") {
				t.Errorf("uninstall did not say the pods keep running:\n%s", out.String())
			}
			if err := Uninstall(UninstallOptions{Role: role, Layout: l, DataDirs: []string{data}, Purge: true, Out: &out}); err != nil {
				t.Fatal(err)
			}
			for _, gone := range []string{l.ConfigPath(role), data} {
				if _, err := os.Stat(gone); !os.IsNotExist(err) {
					t.Errorf("%s left after --purge", gone)
				}
			}
			if !running {
				err := Uninstall(UninstallOptions{Role: role, Layout: l, RemovePods: true, Out: &out})
				if err == nil || !strings.Contains(err.Error(), "--drain-on-exit") {
					t.Errorf("--remove-pods without systemd: err = %v, want the command to drain by hand", err)
				}
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	if _, err := ParseRole("controller"); err == nil {
		t.Error("ParseRole(controller) succeeded")
	}
	if r, err := ParseRole("agent"); err != nil || r.UnitName() != "berth-agent.service" {
		t.Errorf("ParseRole(agent) = %v, %v", r, err)
	}
}
