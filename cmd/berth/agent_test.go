package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentLogs(t *testing.T) {
	logDir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(logDir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("default_web_u1/server/0.log", "first run\n")
	write("default_web_u1/server/1.log", "2026-01-02T03:04:05.000000001Z stdout F second run\n")
	write("default_web_u1/writer/0.log", "writing\n")
	write("default_solo_u2/app/0.log", "only one\n")
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "named container, latest attempt", args: []string{"web", "-c", "server"}, want: "second run\n"},
		{name: "previous attempt", args: []string{"web", "-c", "server", "--previous"}, want: "first run\n"},
		{name: "single container needs no -c", args: []string{"solo"}, want: "only one\n"},
		{name: "several containers need -c", args: []string{"web"}, wantErr: "name one with -c"},
		{name: "unknown pod", args: []string{"nope"}, wantErr: "default/nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newAgentLogsCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(append(tc.args, "--log-dir", logDir))
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("output %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestAgentNeedsASource(t *testing.T) {
	cmd := newAgentCmd()
	cmd.SetArgs([]string{})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--manifests-dir") {
		t.Fatalf("err = %v, want one naming --manifests-dir", err)
	}
}
