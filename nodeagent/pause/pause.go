// Package pause holds berth-pause, the first process of every pod sandbox
// (csrc/pause.c: a C program without a C library, a few kB on disk and three
// pages resident, where the Go program it replaces took 1.5 MB and 2 MB),
// and builds it with gcc. `just build` runs the same command.
package pause

import (
	"bytes"
	_ "embed" // the C source
	"fmt"
	"os/exec"
)

//go:embed csrc/pause.c
var source []byte

// CFlags are gcc's flags for berth-pause: static, no C library or start-up
// files, no stack protector (it would need the library), stripped.
var CFlags = []string{"-Os", "-static", "-nostdlib", "-fno-stack-protector",
	"-fno-asynchronous-unwind-tables", "-Wl,--build-id=none", "-s"}

// Build compiles berth-pause to out. It needs gcc and the kernel's
// headers (Debian: gcc, linux-libc-dev).
func Build(out string) error {
	args := append(append([]string{}, CFlags...), "-o", out, "-x", "c", "-")
	cmd := exec.Command("gcc", args...)
	cmd.Stdin = bytes.NewReader(source)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build berth-pause: gcc %v: %w\n%s", args, err, b)
	}
	return nil
}
