package containerlog

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// loggerBinary is the berth-logger program, built once for the package's
// tests, as `just build` builds it beside berth.
var loggerBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-logger-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	loggerBinary = filepath.Join(dir, "berth-logger")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", loggerBinary, "github.com/berth-dev/berth/nodeagent/containerlog/logger")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build berth-logger: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	sharedCtrd.stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
