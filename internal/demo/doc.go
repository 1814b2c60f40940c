// Package demo holds the test of `just demo` (scripts/demo.sh): that it
// stops cleanly however a user stops it. It has no code of its own.
//
// The test runs the demo through `just demo-prebuilt` on binaries it
// builds, under its own names (containerd namespace, CNI network, bridge,
// pod range, API port; the registry must be on 127.0.0.1:5000, where the
// examples' images point), stops it and waits for `just` to exit: by
// then nothing of the demo may be left (no process, mount, network
// namespace, bridge, cgroup, CNI lease directory or listening port), and
// the cleanup's last line must have reached the terminal or tee. The one
// exception is a signal sent straight to the npm wrapper's process (node),
// which exits at once whatever the recipe does; then only the cleanup
// must finish. Run it under the integration lock:
//
//	flock /tmp/berth-it.lock go test ./internal/demo             # two ways, quick
//	just test-demo-stop                                          # every way, pods running
package demo
