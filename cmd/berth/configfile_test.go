//go:build !berth_agent

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	server := write("server.yaml", "repo: https://git.example.com/ops.git\nlisten: 0.0.0.0:7070\nagent-labels: [zone=a]\nfence-grace: 15s\n")
	agent := write("agent.yaml", "server: http://10.0.0.1:7070\ntoken-file: /etc/berth/agent.token\nlabels: [zone=b]\nfence-margin: 8s\n")
	typo := write("typo.yaml", "repo: x\n\nnode-timout: 1m\n")
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "server file and flag", args: []string{"server", "--config", server, "--listen", "127.0.0.1:1", "--print-config"},
			want: []string{"\nrepo: https://git.example.com/ops.git\n", "\nlisten: 127.0.0.1:1\n", "\nagent-labels: [zone=a]\n", "\nagent-containerd-socket: /run/containerd/containerd.sock\n", "\nfence-grace: 15s\n", "\nagent-fence: true\n"}},
		{name: "agent file", args: []string{"agent", "--config", agent, "--print-config"},
			want: []string{"\nserver: http://10.0.0.1:7070\n", "\nlabels: [zone=b]\n", "\ndrain-on-exit: false\n", "\nfence-margin: 8s\n", "\nfence: true\n"}},
		{name: "unknown key names file, line and key", args: []string{"server", "--config", typo, "--print-config"},
			wantErr: typo + `:3: unknown key "node-timout" (did you mean "node-timeout"?)`},
		{name: "server without repo", args: []string{"server"}, wantErr: "--repo is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := execRoot(tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains("\n"+out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestEveryFlagIsAKey checks --print-config prints a key for every flag of
// the long-running roles but the few that are no settings.
func TestEveryFlagIsAKey(t *testing.T) {
	for _, role := range []string{"server", "agent"} {
		t.Run(role, func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			args := []string{role, "--print-config"}
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			cmd, _, err := root.Find(args[:1])
			if err != nil {
				t.Fatal(err)
			}
			cmd.Flags().VisitAll(func(f *pflag.Flag) {
				for _, s := range notSettings {
					if f.Name == s {
						return
					}
				}
				if !strings.Contains("\n"+out.String(), "\n"+f.Name+":") {
					t.Errorf("no key %s", f.Name)
				}
			})
		})
	}
}
