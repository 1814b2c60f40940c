// Package peakrss reads the process's peak resident memory (VmHWM) for
// benchmarks, and restarts it so a figure excludes the set-up.
package peakrss

import (
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Reset returns freed memory to the OS and makes the kernel restart VmHWM
// from the current RSS.
func Reset() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// MB is VmHWM, the process's peak resident memory since start or Reset,
// in MiB.
func MB() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
