package localstorage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func TestProvisionKeepsDataAndDeleteRemovesIt(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "storage"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := d.Provision(Claim{Namespace: "default", Name: "data-web-0", Request: 1 << 20}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "ordinal"), []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second pod, or the agent after a restart, provisions again: same
	// directory, data kept, record (and its creation time) kept.
	again, err := d.Provision(Claim{Namespace: "default", Name: "data-web-0", Request: 1 << 20}, t0.Add(time.Hour))
	if err != nil || again != data {
		t.Fatalf("second Provision = %q, %v; want %q", again, err, data)
	}
	if b, err := os.ReadFile(filepath.Join(again, "ordinal")); err != nil || string(b) != "0" {
		t.Fatalf("data after second Provision: %q, %v", b, err)
	}
	list, err := d.List()
	if err != nil || len(list) != 1 || list[0].Name != "data-web-0" || !list[0].Created.Equal(t0) || list[0].Request != 1<<20 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := d.Delete("default", "data-web-0"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data still there after Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Root(), "default")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty namespace dir left: %v", err)
	}
	if err := d.Delete("default", "data-web-0"); err != nil {
		t.Fatalf("deleting a deleted claim: %v", err)
	}
}

func TestUsageOverRequestIsReported(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		request  int64
		write    int
		wantOver bool
	}{
		{name: "within", request: 4 << 20, write: 1 << 20},
		{name: "over", request: 64 << 10, write: 1 << 20, wantOver: true},
	}
	for _, tc := range tests {
		data, err := d.Provision(Claim{Namespace: "default", Name: tc.name, Request: tc.request}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "f"), make([]byte, tc.write), 0o644); err != nil {
			t.Fatal(err)
		}
		// A hard link takes no more room.
		if err := os.Link(filepath.Join(data, "f"), filepath.Join(data, "g")); err != nil {
			t.Fatal(err)
		}
	}
	list, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(tests) || list[0].Name != "over" || list[1].Name != "within" {
		t.Fatalf("List = %+v, want over and within, in name order", list)
	}
	for i, tc := range tests {
		u := list[len(tests)-1-i]
		// tmpfs and most filesystems allocate what was written; allow
		// the directories' own blocks on top.
		if u.Name != tc.name || u.Used < int64(tc.write) || u.Used > int64(tc.write)+1<<20 || u.Over != tc.wantOver {
			t.Errorf("%s: usage %+v; want ≥ %d bytes (counted once), over %v", tc.name, u, tc.write, tc.wantOver)
		}
	}
}

func TestNamesCannotEscapeRoot(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Claim{{Namespace: "..", Name: "x"}, {Namespace: "default", Name: "../../etc"}, {Namespace: "default", Name: "a/b"}, {Namespace: "", Name: "x"}} {
		if _, err := d.Provision(c, t0); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Provision(%+v) = %v, want ErrInvalidName", c, err)
		}
		if err := d.Delete(c.Namespace, c.Name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Delete(%+v) = %v, want ErrInvalidName", c, err)
		}
	}
	if _, err := Open("relative"); err == nil {
		t.Error("Open of a relative path accepted")
	}
}

func TestCapacity(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	if c.Total <= 0 || c.Available < 0 || c.Available > c.Total {
		t.Fatalf("capacity %+v", c)
	}
}

func TestQuotas(t *testing.T) {
	tests := []struct {
		name, mountinfo, path string
		wantFS, wantWhy       string
	}{
		{
			name:      "ext4 without prjquota",
			mountinfo: "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw,errors=remount-ro\n",
			path:      "/var/lib/berth/storage", wantFS: "ext4", wantWhy: "mounted without prjquota",
		},
		{
			name: "the longest mount point wins: xfs with prjquota under /data",
			mountinfo: "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
				"40 22 8:17 / /data rw,noatime - xfs /dev/sdb1 rw,attr2,inode64,prjquota\n",
			path: "/data/berth", wantFS: "xfs", wantWhy: "berth does not set them yet",
		},
		{
			name:      "a mount point with a space",
			mountinfo: "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n41 22 0:50 / /mnt/my\\040disk rw - tmpfs tmpfs rw\n",
			path:      "/mnt/my disk/claims", wantFS: "tmpfs", wantWhy: "tmpfs has no project quotas",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mi := filepath.Join(t.TempDir(), "mountinfo")
			if err := os.WriteFile(mi, []byte(tc.mountinfo), 0o644); err != nil {
				t.Fatal(err)
			}
			q, err := (&Dir{root: tc.path}).Quotas(mi)
			if err != nil {
				t.Fatal(err)
			}
			if q.Enforced || q.Filesystem != tc.wantFS || !strings.Contains(q.Why, tc.wantWhy) {
				t.Errorf("Quotas = %+v, want %s and %q", q, tc.wantFS, tc.wantWhy)
			}
		})
	}
	// And on the real machine, for the test's own directory.
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.Quotas("/proc/self/mountinfo")
	if err != nil || q.Filesystem == "" || q.Enforced || !strings.HasPrefix(q.Why, "not enforced") {
		t.Fatalf("Quotas on this machine = %+v, %v", q, err)
	}
}
