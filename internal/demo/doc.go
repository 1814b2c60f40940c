// Package demo holds the test of `just demo` (scripts/demo.sh): that it
// stops cleanly however a user stops it. It has no code of its own.
//
// The test runs the demo through `just demo-prebuilt` on binaries it
// builds, under its own names (containerd namespace, CNI network, bridge,
// pod range, API port; the registry must be on 127.0.0.1:5000, where the
// examples' images point), stops it, waits for `just` to exit and then for
// the cleanup (just 1.57 does not wait for it on Ctrl-C), and audits the
// machine: no process, mount, network namespace, bridge, cgroup, CNI lease
// directory or listening port of the demo may be left. Run it under the
// integration lock:
//
//	flock /tmp/berth-it.lock go test ./internal/demo             # one way, quick
//	just test-demo-stop                                          # every way, pods running
package demo
