package containerlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
)

// ctrdEnv is a private containerd with busybox imported, in a namespace
// of its own, shared by the package's tests (starting one and importing
// busybox takes seconds).
type ctrdEnv struct {
	once   sync.Once
	err    error
	ctrd   *containerdrun.Daemon
	client *containerd.Client
	ctx    context.Context
	image  containerd.Image
	ns     string
}

var sharedCtrd ctrdEnv

func newCtrdEnv(t *testing.T) *ctrdEnv {
	t.Helper()
	testenv.RequireRoot(t)
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		testenv.RequireBinary(t, b)
	}
	testenv.RequireFile(t, images.DefaultBusybox)
	e := &sharedCtrd
	e.once.Do(func() { e.err = e.start() })
	if e.err != nil {
		t.Fatalf("containerd for the tests: %v", e.err)
	}
	return e
}

func (e *ctrdEnv) start() error {
	dir, err := os.MkdirTemp("", "berth-ctrd-")
	if err != nil {
		return err
	}
	if e.ctrd, err = containerdrun.Start(context.Background(), dir, nil); err != nil {
		return err
	}
	if e.client, err = containerd.New(e.ctrd.Address); err != nil {
		return err
	}
	e.ns = fmt.Sprintf("berth-logtest-%d", os.Getpid())
	e.ctx = namespaces.WithNamespace(context.Background(), e.ns)
	bb, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	ref := "localhost/berth/busybox:logtest"
	if err := images.WriteArchive(&archive, bb, ref); err != nil {
		return err
	}
	if _, err := e.client.Import(e.ctx, &archive); err != nil {
		return fmt.Errorf("import busybox: %w", err)
	}
	if e.image, err = e.client.GetImage(e.ctx, ref); err != nil {
		return err
	}
	if err := e.image.Unpack(e.ctx, "overlayfs"); err != nil {
		return fmt.Errorf("unpack busybox: %w", err)
	}
	return nil
}

// stop ends the shared containerd, if one was started, and removes what
// it leaves on the machine.
func (e *ctrdEnv) stop() {
	if e.client != nil {
		e.client.Close()
	}
	if e.ctrd != nil {
		if err := e.ctrd.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop containerd: %v\n", err)
		}
		os.RemoveAll(e.ctrd.Dir)
	}
	if e.ns != "" {
		removeNamespaceCgroups(e.ns)
	}
}

// removeNamespaceCgroups removes the per-namespace parent cgroups runc
// leaves behind (RUNTIME-NOTES), once their containers are gone.
func removeNamespaceCgroups(ns string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, r := range append(roots, "/sys/fs/cgroup") {
		_ = os.Remove(filepath.Join(r, ns))
	}
}

func (e *ctrdEnv) newContainer(t *testing.T, id, script string) containerd.Container {
	t.Helper()
	c, err := e.client.NewContainer(e.ctx, id,
		containerd.WithImage(e.image),
		containerd.WithNewSnapshot(id, e.image),
		containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{Root: e.ctrd.RuncRoot}),
		containerd.WithNewSpec(oci.WithImageConfig(e.image), oci.WithProcessArgs("sh", "-c", script)),
	)
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		defer cancel()
		if task, err := c.Task(ctx, nil); err == nil {
			_, _ = task.Delete(ctx, containerd.WithProcessKill)
		}
		if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
	})
	return c
}

// The runc shim runs berth-logger for the task; stdout and stderr land in
// the attempt's file, each line tagged with its stream.
func TestShimWritesTheLog(t *testing.T) {
	e := newCtrdEnv(t)
	pod := Pod{Namespace: "default", Name: "web", UID: "uid-1"}
	logDir := t.TempDir()
	path, err := pod.Path(logDir, "app", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := e.newContainer(t, "logs-basic", "echo out-1; echo err-1 >&2; echo out-2; printf unfinished")
	task, err := c.NewTask(e.ctx, ShimLogger{Binary: loggerBinary}.Creator(path))
	if err != nil {
		t.Fatalf("new task: %v", err)
	}
	exited, err := task.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	st := <-exited
	if st.ExitCode() != 0 {
		t.Fatalf("container exited %d", st.ExitCode())
	}
	// Deleting the task closes the shim's pipes and stops the logger,
	// which writes what it still holds.
	if _, err := task.Delete(e.ctx); err != nil {
		t.Fatal(err)
	}

	got := map[Stream][]string{}
	for _, en := range readEntries(t, path) {
		tag := ""
		if en.Partial {
			tag = "(P)"
		}
		got[en.Stream] = append(got[en.Stream], string(en.Content)+tag)
		if en.Time.IsZero() {
			t.Errorf("entry %q has no time", en.Content)
		}
	}
	if s := strings.Join(got[Stdout], ","); s != "out-1,out-2,unfinished(P)" {
		t.Errorf("stdout = %s", s)
	}
	if s := strings.Join(got[Stderr], ","); s != "err-1" {
		t.Errorf("stderr = %s", s)
	}
	containerDir, _ := pod.ContainerDir(logDir, "app")
	var out bytes.Buffer
	if err := Read(context.Background(), &out, containerDir, ReadOptions{Tail: 1}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "unfinished" {
		t.Errorf("tail 1 = %q", out.String())
	}
}

// The logger belongs to the shim, not the client: with the client that
// started the task gone (an agent SIGKILLed), output keeps reaching the
// file, and a new client adopts the task without attaching IO.
func TestLogOutlivesTheClient(t *testing.T) {
	e := newCtrdEnv(t)
	logDir := t.TempDir()
	pod := Pod{Namespace: "default", Name: "ticker", UID: "uid-2"}
	path, err := pod.Path(logDir, "tick", 0)
	if err != nil {
		t.Fatal(err)
	}
	const ticks = 40
	c := e.newContainer(t, "logs-ticker", fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo tick $i; i=$((i+1)); sleep 0.05; done", ticks))

	first, err := containerd.New(e.ctrd.Address)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := first.LoadContainer(e.ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	task, err := fc.NewTask(e.ctx, ShimLogger{Binary: loggerBinary}.Creator(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	first.Close()

	want := fmt.Sprintf("tick %d\n", ticks-1)
	containerDir, _ := pod.ContainerDir(logDir, "tick")
	var out bytes.Buffer
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out.Reset()
		if err := Read(context.Background(), &out, containerDir, ReadOptions{}); err == nil && strings.HasSuffix(out.String(), want) {
			break
		}
	}
	var expect strings.Builder
	for i := range ticks {
		fmt.Fprintf(&expect, "tick %d\n", i)
	}
	if out.String() != expect.String() {
		t.Fatalf("log read %q, want every tick", out.String())
	}

	adopted, err := e.client.LoadContainer(e.ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	at, err := adopted.Task(e.ctx, nil)
	if err != nil {
		t.Fatalf("adopt task without IO: %v", err)
	}
	if _, err := at.Delete(e.ctx, containerd.WithProcessKill); err != nil {
		t.Fatal(err)
	}
}
