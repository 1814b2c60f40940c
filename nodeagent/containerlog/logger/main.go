// Command berth-logger is the logging program the runc shim runs beside
// each berth container (containerd's binary:// log URI). It writes the
// container's stdout and stderr to its log file in the CRI format, with
// rotation; see package containerlog. Build it next to berth:
//
//	CGO_ENABLED=0 go build -ldflags='-s -w' -o bin/berth-logger ./nodeagent/containerlog/logger
package main

import (
	"os"
	"runtime/debug"

	"github.com/berth-dev/berth/nodeagent/containerlog"
)

func main() {
	// One of these runs per container: keep it small.
	debug.SetGCPercent(20)
	os.Exit(containerlog.ServeShim(os.Args[1:], os.Stderr))
}
