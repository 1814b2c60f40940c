package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// The short run of `just test` never jumps the machine's clock; every
// other fault type is in it.
func TestShortRunLeavesOutClockFaults(t *testing.T) {
	names, why := defaultFaults(true)
	for n := range faults {
		if got := slices.Contains(names, n); got == clockFaults[n] {
			t.Errorf("short run: fault %s included %t", n, got)
		}
	}
	if why == "" {
		t.Error("no reason given for leaving the clock faults out")
	}
}

// lockHolders reads the real /proc/locks: a flock this process takes on
// a file is found by the file's inode, and parentOf finds this process's
// parent, the walk holdsITLock makes.
func TestLockHoldersAndParent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if h, err := lockHolders(st.Ino); err != nil || len(h) != 0 {
		t.Fatalf("before the flock: holders %v, %v", h, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	h, err := lockHolders(st.Ino)
	if err != nil || !h[os.Getpid()] || len(h) != 1 {
		t.Fatalf("holders %v (%v), want only this process %d", h, err, os.Getpid())
	}
	if p, err := parentOf(os.Getpid()); err != nil || p != os.Getppid() {
		t.Fatalf("parentOf(self) = %d, %v; want %d", p, err, os.Getppid())
	}
}
