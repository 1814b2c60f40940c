// Command pause is the first process of every berth pod sandbox. It holds
// the pod's network, IPC and UTS namespaces open for the pod's lifetime,
// reaps zombies that end up reparented to it, and exits cleanly on SIGTERM
// or SIGINT. Build it static and stripped so its image stays tiny:
//
//	CGO_ENABLED=0 go build -ldflags='-s -w' -o bin/berth-pause ./nodeagent/pause
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child; one SIGCHLD may stand for several.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
