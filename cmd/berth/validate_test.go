//go:build !berth_agent

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/manifest"
)

func run(args ...string) (string, error) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestValidate(t *testing.T) {
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "web.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: busybox:1\n    resources: {limits: {memory: lots}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{name: "examples", args: []string{"validate", "../../examples-repo"}, want: "valid, 8 objects (1 CronJob, 1 Deployment, 1 Job, 4 Pod, 1 Service)\n"},
		{name: "broken", args: []string{"validate", broken}, wantCode: 1, want: "web.yaml:9: spec.containers[0].resources.limits[memory]: quantities must match"},
		{name: "broken json", args: []string{"validate", "-o", "json", broken}, wantCode: 1, want: `"valid": false`},
		{name: "missing dir", args: []string{"validate", filepath.Join(broken, "nope")}, wantCode: -1, want: ""},
		{name: "bad output flag", args: []string{"validate", "-o", "xml", broken}, wantCode: -1, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.args...)
			var ee exitError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("unexpected error %v\n%s", err, out)
			case tt.wantCode > 0 && (!errors.As(err, &ee) || ee.code != tt.wantCode):
				t.Fatalf("want exit %d, got %v", tt.wantCode, err)
			case tt.wantCode < 0 && (err == nil || errors.As(err, &ee)):
				t.Fatalf("want a usage error, got %v", err)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	out, err := run("validate", "--output", "json", "../../manifest/testdata/broken")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("want exit 1, got %v", err)
	}
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if res.Valid || len(res.Errors) < 10 || res.Errors[0].File == "" || res.Errors[0].Line == 0 {
		t.Fatalf("unexpected result %+v", res)
	}
}

// TestReadmeFieldsTable keeps the README's table the one printed from
// manifest.Supported, so the documentation cannot drift from the code.
func TestReadmeFieldsTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), manifest.FieldsMarkdown()) {
		t.Fatal("README.md's supported-fields table differs from `berth validate --fields`; paste its output into the README")
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	var check func(c *cobra.Command)
	check = func(c *cobra.Command) {
		if c.Short == "" || c.Long == "" {
			t.Errorf("command %q lacks Short or Long help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			check(sub)
		}
	}
	check(newRootCmd())
}
