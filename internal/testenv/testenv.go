package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test (or fails it under CI) because part is missing.
func Missing(t testing.TB, part string) {
	t.Helper()
	if InCI() {
		t.Fatalf("integration test needs %s (CI=true: a missing part is a failure; run `just deps`)", part)
	}
	t.Skipf("skipping: needs %s (run `just deps`, as root)", part)
}

// RequireRoot stops the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root")
	}
}

// RequireBinary stops the test unless name is on PATH or at the given
// absolute path, and returns where it is.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, "the program "+name)
	return ""
}

// RequireFile stops the test unless path exists.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path)
	}
}
