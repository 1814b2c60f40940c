//go:build !berth_agent

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/version"
)

func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "flag", args: []string{"--version"}, want: []string{"berth ", "protocol 1"}},
		{name: "command", args: []string{"version"}, want: []string{"Client:", "Version:   " + version.Get().Version, "Protocol:  1"}},
		{name: "json", args: []string{"version", "-o", "json"}, want: []string{`"client": {`, `"protocol": 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := execRoot(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// execRoot runs berth with args in process and returns what it printed.
func execRoot(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}
