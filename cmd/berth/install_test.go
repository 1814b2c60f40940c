//go:build !berth_agent

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallWritesAConfigTheServiceReads installs an agent into a
// temporary layout and reads its config file back the way the unit's
// ExecStart does.
func TestInstallWritesAConfigTheServiceReads(t *testing.T) {
	dir := t.TempDir()
	layout := []string{"--unit-dir", filepath.Join(dir, "units"), "--config-dir", filepath.Join(dir, "etc"), "--bin-dir", filepath.Join(dir, "bin")}
	t.Chdir(dir)
	run := execRoot
	if _, err := run(append([]string{"install", "agent", "--server", "http://10.0.0.1:7070"}, layout...)...); err == nil || !strings.Contains(err.Error(), "--token-file is required") {
		t.Errorf("install without a token file: err = %v", err)
	}
	out, err := run(append([]string{"install", "agent", "--server", "http://10.0.0.1:7070", "--token-file", "agent.token", "--labels", "zone=a"}, layout...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "journalctl -u berth-agent") {
		t.Errorf("install did not say where the logs are:\n%s", out)
	}
	unit, err := os.ReadFile(filepath.Join(dir, "units", "berth-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "etc", "agent.yaml")
	if !strings.Contains(string(unit), "ExecStart="+filepath.Join(dir, "bin", "berth")+" agent --config "+cfg+"\n") {
		t.Errorf("unit does not run the installed berth with the config:\n%s", unit)
	}
	printed, err := run("agent", "--config", cfg, "--print-config")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nserver: http://10.0.0.1:7070\n", "\ntoken-file: " + filepath.Join(dir, "agent.token") + "\n", "\nlabels: [zone=a]\n", "\ndrain-on-exit: false\n"} {
		if !strings.Contains(printed, want) {
			t.Errorf("effective settings lack %q:\n%s", want, printed)
		}
	}
}
