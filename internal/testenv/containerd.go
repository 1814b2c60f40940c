package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/containerdrun"
)

// NewContainerd starts a private containerd for the test, or skips (fails
// under CI) when root or the containerd/runc programs are missing. It is
// stopped and its directory removed when the test ends; its log is written
// to the test log if the test fails.
func NewContainerd(t testing.TB) *containerdrun.Daemon {
	t.Helper()
	RequireRoot(t)
	RequireBinary(t, "containerd")
	RequireBinary(t, "containerd-shim-runc-v2")
	RequireBinary(t, "runc")
	dir, err := os.MkdirTemp("", "berth-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(os.TempDir(), filepath.Base(dir)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := containerdrun.Start(context.Background(), dir, logf)
	if err != nil {
		logf.Close()
		t.Fatalf("%v (log in %s)", err, logPath)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				t.Logf("containerd log:\n%s", tail(b, 4000))
			}
		}
		os.Remove(logPath)
	})
	return c
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
