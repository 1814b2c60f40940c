package nodeagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/netns"
	"github.com/containernetworking/cni/libcni"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/internal/images"
)

// The raw floor's own network: helper-prefixed bridge, separate subnet.
const (
	rawBridge = "hbraw0"
	rawSubnet = "198.19.218.0/24"
)

// runcFloor makes the benchmark pod with nothing but runc and the CNI
// plugins: no containerd, no shim, no snapshots (the pause and busybox
// root file systems are plain directories shared read-only). It is the
// physical floor: the kernel and runc's work for the same namespaces.
type runcFloor struct {
	dir, root   string // work dir, runc state
	pause, bbox string // root file systems
	cni         *libcni.CNIConfig
	list        *libcni.NetworkConfigList
	ctx         context.Context
}

type runcPod struct {
	id  string
	ns  *netns.NetNS
	ids []string
}

func newRuncFloor(b testing.TB) (*runcFloor, error) {
	dir, err := os.MkdirTemp("", "hbraw-")
	if err != nil {
		return nil, err
	}
	f := &runcFloor{dir: dir, root: filepath.Join(dir, "runc"), pause: filepath.Join(dir, "pause"), bbox: filepath.Join(dir, "busybox"),
		ctx: namespaces.WithNamespace(context.Background(), "hbraw")}
	b.Cleanup(func() {
		cleanNetwork(b, rawBridge, rawSubnet)
		cleanCgroups(b, "hbraw")
		os.RemoveAll(dir)
	})
	for _, d := range []string{f.root, filepath.Join(f.pause), filepath.Join(f.bbox, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := copyFile(pauseBinary, filepath.Join(f.pause, "pause")); err != nil {
		return nil, err
	}
	if err := copyFile(images.DefaultBusybox, filepath.Join(f.bbox, "bin", "busybox")); err != nil {
		return nil, err
	}
	if err := os.Symlink("busybox", filepath.Join(f.bbox, "bin", "sleep")); err != nil {
		return nil, err
	}
	conf, _ := json.Marshal(map[string]any{
		"cniVersion": "1.0.0", "name": "hbraw",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": rawBridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": rawSubnet}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}}, "dataDir": filepath.Join(dir, "ipam")},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
			map[string]any{"type": "loopback"},
		},
	})
	if f.list, err = libcni.NetworkConfFromBytes(conf); err != nil {
		return nil, err
	}
	f.cni = libcni.NewCNIConfigWithCacheDir([]string{"/usr/lib/cni"}, filepath.Join(dir, "cache"), nil)
	return f, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// run starts one container with runc run -d and returns its PID.
func (f *runcFloor) run(id, rootfs string, opts ...oci.SpecOpts) (int, error) {
	bundle := filepath.Join(f.dir, "bundles", id)
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return 0, err
	}
	opts = append([]oci.SpecOpts{oci.WithRootFSPath(rootfs), oci.WithRootFSReadonly()}, opts...)
	spec, err := oci.GenerateSpec(f.ctx, nil, &containers.Container{ID: id}, opts...)
	if err != nil {
		return 0, err
	}
	js, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), js, 0o644); err != nil {
		return 0, err
	}
	pidFile := filepath.Join(bundle, "pid")
	// The container inherits runc's stdio: a file, not a pipe, or Wait
	// would wait for the container to end.
	errPath := filepath.Join(bundle, "stderr")
	errFile, err := os.Create(errPath)
	if err != nil {
		return 0, err
	}
	defer errFile.Close()
	cmd := exec.Command("runc", "--root", f.root, "run", "-d", "--pid-file", pidFile, "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = errFile, errFile
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(errPath)
		return 0, fmt.Errorf("runc run %s: %v: %s", id, err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// start makes one pod; on failure it removes what it made.
func (f *runcFloor) start(i int) (_ *runcPod, retErr error) {
	p := &runcPod{id: fmt.Sprintf("hbraw-%d", i)}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, f.stop(p))
		}
	}()
	var err error
	if p.ns, err = netns.NewNetNS(filepath.Join(f.dir, "netns")); err != nil {
		return nil, err
	}
	if _, err := f.cni.AddNetworkList(f.ctx, f.list, &libcni.RuntimeConf{ContainerID: p.id, NetNS: p.ns.GetPath(), IfName: "eth0"}); err != nil {
		return p, err
	}
	netNS := oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p.ns.GetPath()})
	pid, err := f.run(p.id, f.pause, oci.WithProcessArgs("/pause"), netNS)
	if err != nil {
		return p, err
	}
	p.ids = append(p.ids, p.id)
	for _, name := range []string{"a", "b"} {
		id := p.id + "-" + name
		if _, err := f.run(id, f.bbox, oci.WithProcessArgs("sleep", "3600"), oci.WithDefaultPathEnv, netNS,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: fmt.Sprintf("/proc/%d/ns/ipc", pid)}),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", pid)})); err != nil {
			return p, err
		}
		p.ids = append(p.ids, id)
	}
	return p, nil
}

// stop deletes the containers (runc delete --force kills them), the
// network and the namespace.
func (f *runcFloor) stop(p *runcPod) error {
	for i := len(p.ids) - 1; i >= 0; i-- {
		if out, err := exec.Command("runc", "--root", f.root, "delete", "--force", p.ids[i]).CombinedOutput(); err != nil {
			return fmt.Errorf("runc delete %s: %v: %s", p.ids[i], err, out)
		}
	}
	if p.ns == nil {
		return nil
	}
	if err := f.cni.DelNetworkList(f.ctx, f.list, &libcni.RuntimeConf{ContainerID: p.id, NetNS: p.ns.GetPath(), IfName: "eth0"}); err != nil {
		return err
	}
	return p.ns.Remove()
}
