package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShippedBinaryLeavesOutTesting lists what `berth` (and the agent-only
// build) link, as `go list -deps` does, and fails if the standard library's
// testing package is among them: test-support code in the binary registers
// nothing today, but it is code users run that no test path was written
// for. Helm v4's chart package imported it (testing.Testing), which is why
// render uses Helm v3's engine.
func TestShippedBinaryLeavesOutTesting(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags string
	}{
		{name: "server and agent", tags: ""},
		{name: "agent only", tags: "berth_agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-tags", tc.tags, "-deps",
				"-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`,
				"github.com/berth-dev/berth/cmd/berth").Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			var importers []string
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				for _, imp := range f[min(1, len(f)):] {
					if imp == "testing" {
						importers = append(importers, f[0])
					}
				}
			}
			if len(importers) > 0 {
				t.Errorf("cmd/berth links testing through %s", strings.Join(importers, ", "))
			}
			if !strings.Contains(string(out), "\ngithub.com/berth-dev/berth/cmd/berth") {
				t.Errorf("go list did not list cmd/berth itself:\n%.500s", out)
			}
		})
	}
}
