package testenv

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// NetNS is a named network namespace made for one test (`ip netns add`),
// deleted when the test ends. Tests that use one run under the machine-wide
// lock (flock /tmp/berth-it.lock) and give it a unique name.
type NetNS struct {
	Name string
	// Path is the namespace's bind mount, /run/netns/<Name>.
	Path string
}

// NewNetNS creates a namespace with its loopback up. Names must be unique
// on the machine: prefix them with the test's owner and the process id.
func NewNetNS(t testing.TB, name string) *NetNS {
	t.Helper()
	RequireRoot(t)
	RequireBinary(t, "ip")
	_ = exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run
	IP(t, "netns", "add", name)
	n := &NetNS{Name: name, Path: "/run/netns/" + name}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// IP runs `ip args...` in the test's own namespace and fails the test on
// an error.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// IP runs `ip args...` inside n.
func (n *NetNS) IP(t testing.TB, args ...string) {
	t.Helper()
	IP(t, append([]string{"-n", n.Name}, args...)...)
}

// Sysctl sets a sysctl inside n (`ip netns exec n sysctl -w k=v`).
func (n *NetNS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", n.Name, "sysctl", "-q", "-w", key+"="+value).CombinedOutput(); err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v: %s", key, value, n.Name, err, out)
	}
}

// Do runs fn on an OS thread that is inside n: sockets it opens and
// programs it starts belong to n. The thread goes back to its namespace
// afterwards, or is retired if it cannot.
func (n *NetNS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(n.Path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with the goroutine.
		return fmt.Errorf("leave netns %s: %w (after: %v)", n.Name, err, ferr)
	}
	runtime.UnlockOSThread()
	return ferr
}
