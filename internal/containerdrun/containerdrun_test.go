package containerdrun_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
)

// proc is a process seen once, by pid and start time, so a pid the
// kernel reuses later is not taken for it.
type proc struct {
	pid   int
	start string
	cmd   string
}

// alive reports whether p still runs: the same process (start time) and
// not a zombie.
func (p proc) alive() bool {
	state, st, err := stat(p.pid)
	return err == nil && st == p.start && state != "Z"
}

// stat reads a process's state and start time (fields 3 and 22 of
// /proc/pid/stat, after the parenthesised name, which may hold spaces).
func stat(pid int) (state, start string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	return f[0], f[19], nil
}

// treeOf lists the processes of the trees rooted at roots.
func treeOf(t *testing.T, roots []int) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []proc
	var walk func(int)
	walk = func(pid int) {
		_, st, err := stat(pid)
		if err != nil {
			return
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, proc{pid: pid, start: st, cmd: string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))})
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// Stop leaves no process of the daemon's behind: not its shims, nor the
// containers they run (a sleeper with a child of its own, in two
// namespaces), whether the daemon still answers, was SIGKILLed first, or
// outlived the shims (their containers then run on, reparented to init).
func TestStopLeavesNoProcess(t *testing.T) {
	testenv.RequireRoot(t)
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		testenv.RequireBinary(t, b)
	}
	testenv.RequireFile(t, images.DefaultBusybox)
	bb, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		killDaemon bool // SIGKILL containerd before Stop: only the shims are left to find
		killShims  bool // SIGKILL the shims alone before Stop: their containers have nobody
	}{
		{name: "daemon answering"},
		{name: "daemon killed first", killDaemon: true},
		{name: "shims killed first", killShims: true},
		// Only runc, from RuncRoot, still knows the containers.
		{name: "daemon and shims killed first", killDaemon: true, killShims: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "berth-ctrdstop-")
			if err != nil {
				t.Fatal(err)
			}
			d, err := containerdrun.Start(context.Background(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			stopped := false
			nss := []string{"berth-ctrdstop-a", "berth-ctrdstop-b"}
			t.Cleanup(func() {
				if !stopped {
					_ = d.Stop()
				}
				for _, ns := range nss {
					roots, _ := filepath.Glob("/sys/fs/cgroup/*")
					for _, r := range append(roots, "/sys/fs/cgroup") {
						_ = os.Remove(filepath.Join(r, ns))
					}
				}
			})
			cl, err := containerd.New(d.Address)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for _, ns := range nss {
				startSleeper(namespaces.WithNamespace(context.Background(), ns), t, cl, d.RuncRoot, bb)
			}
			shims, err := containerdrun.ShimPIDs(d.Address)
			if err != nil {
				t.Fatal(err)
			}
			if len(shims) != len(nss) {
				t.Fatalf("%d shims run, want %d", len(shims), len(nss))
			}
			procs := treeOf(t, shims)
			// Each shim, its container's init and that one's child.
			if len(procs) < 3*len(nss) {
				t.Fatalf("the shims' trees hold %d processes, want at least %d: %v", len(procs), 3*len(nss), procs)
			}
			if tc.killDaemon {
				killDaemon(t, d)
			}
			if tc.killShims {
				for _, pid := range shims {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			stopped = true
			if err := d.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			for _, p := range procs {
				if p.alive() {
					t.Errorf("process %d (%s) outlived Stop", p.pid, p.cmd)
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s left behind: %v", dir, err)
			}
		})
	}
}

// startSleeper runs a busybox task in ctx's namespace whose shell keeps a
// child.
func startSleeper(ctx context.Context, t *testing.T, cl *containerd.Client, runcRoot string, bb v1.Image) {
	t.Helper()
	var archive bytes.Buffer
	ref := "localhost/berth/busybox:ctrdstop"
	if err := images.WriteArchive(&archive, bb, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Import(ctx, &archive); err != nil {
		t.Fatal(err)
	}
	img, err := cl.GetImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Unpack(ctx, "overlayfs"); err != nil {
		t.Fatal(err)
	}
	id := "sleeper"
	c, err := cl.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{Root: runcRoot}),
		containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sh", "-c", "sleep 600 & sleep 600")),
	)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Wait for both sleeps to run (sh execs the last one).
	for i := 0; i < 100; i++ {
		pids, err := task.Pids(ctx)
		if err == nil && len(pids) >= 2 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the sleeper's processes did not start")
}

// killDaemon SIGKILLs d's containerd process, found by its config path.
func killDaemon(t *testing.T, d *containerdrun.Daemon) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := "--config\x00" + filepath.Join(d.Dir, "config.toml") + "\x00"
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), want) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
	}
	t.Fatal("containerd's process not found")
}
