package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent/pause"
)

// bins are the programs under test, built once by TestMain with the flags
// of the Justfile's build recipe, so the tests run what users run.
var bins struct {
	dir, berth, pause, logger string
	// upgraded is berth built again with another version stamped in (as
	// `just build` does), for the in-place agent upgrade.
	upgraded string
	err      error
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.dir = dir
	bins.berth = filepath.Join(dir, "berth")
	bins.pause = filepath.Join(dir, "berth-pause")
	bins.logger = filepath.Join(dir, "berth-logger")
	bins.upgraded = filepath.Join(dir, "upgraded", "berth")
	// Building needs nothing but Go; a test that cannot run here skips
	// before it looks at bins, so only build when the tests can run.
	if os.Geteuid() == 0 || testenv.InCI() {
		bins.err = build()
	}
	return m.Run()
}

func build() error {
	static := []string{"CGO_ENABLED=0"}
	steps := []struct {
		env  []string
		args []string
	}{
		{args: []string{"build", "-o", bins.berth, "github.com/berth-dev/berth/cmd/berth"}},
		{env: static, args: []string{"build", "-trimpath", "-ldflags=-s -w", "-o", bins.logger, "github.com/berth-dev/berth/nodeagent/containerlog/logger"}},
		{args: []string{"build", "-ldflags=-X github.com/berth-dev/berth/internal/version.version=" + upgradedVersion, "-o", bins.upgraded, "github.com/berth-dev/berth/cmd/berth"}},
	}
	if err := pause.Build(bins.pause); err != nil {
		return err
	}
	for _, s := range steps {
		cmd := exec.Command("go", s.args...)
		cmd.Env = append(os.Environ(), s.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %w\n%s", s.args, err, out)
		}
	}
	// The agent runs the helpers from beside its own binary.
	for _, h := range []string{bins.pause, bins.logger} {
		if err := os.Link(h, filepath.Join(filepath.Dir(bins.upgraded), filepath.Base(h))); err != nil {
			return err
		}
	}
	return nil
}

// requireBinaries fails the test if TestMain could not build the programs.
func requireBinaries(t testing.TB) {
	t.Helper()
	if bins.err != nil {
		t.Fatalf("build: %v", bins.err)
	}
	if _, err := os.Stat(bins.berth); err != nil {
		t.Fatalf("berth was not built: %v", err)
	}
}
