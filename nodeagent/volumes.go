package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/unmount"
)

// errHostPathNotAllowed fails pods with hostPath volumes on an agent
// started without --allow-host-path.
var errHostPathNotAllowed = errors.New("hostPath volumes are not allowed on this node (start the agent with --allow-host-path)")

// podDir lays out one pod's state under the run dir:
//
//	pods/<uid>/pod.json          who the pod is (written before anything else)
//	pods/<uid>/netns/<name>      the pinned network namespace
//	pods/<uid>/etc/{hosts,resolv.conf,hostname}
//	pods/<uid>/volumes/<name>    emptyDir and config volumes (atomicwriter.go)
//	pods/<uid>/termination/<container>-<attempt>  termination-message files
type podDir string

func (d podDir) netnsDir() string          { return filepath.Join(string(d), "netns") }
func (d podDir) etc(name string) string    { return filepath.Join(string(d), "etc", name) }
func (d podDir) volume(name string) string { return filepath.Join(string(d), "volumes", name) }

// prepareVolumes makes every volume of the pod present on the host and
// returns its host path by volume name. It is idempotent: an agent that
// restarts finds emptyDirs (and their content) as it left them.
func prepareVolumes(pod *corev1.Pod, dir podDir, allowHostPath bool) (map[string]string, error) {
	paths := make(map[string]string, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		if !validName(v.Name) {
			return nil, fmt.Errorf("volume %q: name must be a DNS label", v.Name)
		}
		switch {
		case v.EmptyDir != nil:
			p := dir.volume(v.Name)
			if err := os.MkdirAll(p, 0o777); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			// The kubelet makes emptyDirs world-writable so any user a
			// container runs as can write; MkdirAll is subject to umask.
			if err := os.Chmod(p, 0o777); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				var size int64
				if v.EmptyDir.SizeLimit != nil {
					size = v.EmptyDir.SizeLimit.Value()
				}
				if err := mountTmpfs(p, size); err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.Name, err)
				}
			}
			paths[v.Name] = p
		case v.HostPath != nil:
			if !allowHostPath {
				return nil, fmt.Errorf("volume %s: %w", v.Name, errHostPathNotAllowed)
			}
			p, err := prepareHostPath(v.HostPath)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			paths[v.Name] = p
		case isConfigVolume(&v):
			// Written, and kept up to date, by syncConfigVolume.
		default:
			return nil, fmt.Errorf("volume %s: only emptyDir, hostPath, configMap, secret, projected and downwardAPI volumes are supported", v.Name)
		}
	}
	return paths, nil
}

func mountTmpfs(dir string, sizeLimit int64) error {
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	data := "mode=0777"
	if sizeLimit > 0 {
		data += ",size=" + strconv.FormatInt(sizeLimit, 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

func prepareHostPath(hp *corev1.HostPathVolumeSource) (string, error) {
	p := filepath.Clean(hp.Path)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("hostPath %q: must be absolute", hp.Path)
	}
	typ := corev1.HostPathUnset
	if hp.Type != nil {
		typ = *hp.Type
	}
	st, err := os.Stat(p)
	switch typ {
	case corev1.HostPathUnset:
		return p, nil
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			return p, os.MkdirAll(p, 0o755)
		}
		if err == nil && !st.IsDir() {
			return "", fmt.Errorf("hostPath %s is not a directory", p)
		}
	case corev1.HostPathDirectory:
		if err == nil && !st.IsDir() {
			return "", fmt.Errorf("hostPath %s is not a directory", p)
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			return p, f.Close()
		}
		if err == nil && !st.Mode().IsRegular() {
			return "", fmt.Errorf("hostPath %s is not a file", p)
		}
	case corev1.HostPathFile:
		if err == nil && !st.Mode().IsRegular() {
			return "", fmt.Errorf("hostPath %s is not a file", p)
		}
	case corev1.HostPathSocket:
		if err == nil && st.Mode()&os.ModeSocket == 0 {
			return "", fmt.Errorf("hostPath %s is not a socket", p)
		}
	default:
		return "", fmt.Errorf("hostPath type %q is not supported", typ)
	}
	if err != nil {
		return "", fmt.Errorf("hostPath %s: %w", p, err)
	}
	return p, nil
}

// checkSubPath rejects what Kubernetes' validation rejects: absolute paths
// and any ".." element, so a subPath cannot name anything outside its
// volume even before symlinks are considered.
func checkSubPath(sub string) error {
	if filepath.IsAbs(sub) {
		return fmt.Errorf("subPath %q: must be a relative path", sub)
	}
	for _, part := range strings.Split(sub, "/") {
		if part == ".." {
			return fmt.Errorf("subPath %q: must not contain '..'", sub)
		}
	}
	return nil
}

// volumeMounts turns a container's volumeMounts into bind mounts. A subPath
// is resolved inside the volume with symlinks evaluated against the volume
// root, so a symlink planted by a container cannot point the mount outside
// the volume; it is created as a directory if missing, as the kubelet does.
func volumeMounts(c *corev1.Container, volumes map[string]string) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, vm := range c.VolumeMounts {
		src, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("container %s: volumeMount %q names no volume of the pod", c.Name, vm.Name)
		}
		if !filepath.IsAbs(vm.MountPath) {
			return nil, fmt.Errorf("container %s: mountPath %q must be absolute", c.Name, vm.MountPath)
		}
		if vm.SubPath != "" {
			if err := checkSubPath(vm.SubPath); err != nil {
				return nil, fmt.Errorf("container %s: %w", c.Name, err)
			}
			p, err := securejoin.SecureJoin(src, vm.SubPath)
			if err != nil {
				return nil, fmt.Errorf("container %s: subPath %q: %w", c.Name, vm.SubPath, err)
			}
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(p, 0o777); err != nil {
					return nil, fmt.Errorf("container %s: subPath %q: %w", c.Name, vm.SubPath, err)
				}
			}
			src = p
		}
		opts := []string{"rbind", "rprivate"}
		if vm.ReadOnly {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		out = append(out, specs.Mount{Destination: filepath.Clean(vm.MountPath), Type: "bind", Source: src, Options: opts})
	}
	return out, nil
}

// removePodDir unmounts whatever is still mounted below dir (tmpfs
// volumes, a netns that escaped removal) and removes it.
func removePodDir(dir podDir) error {
	if err := unmount.Under(string(dir)); err != nil {
		return err
	}
	if err := os.RemoveAll(string(dir)); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
