package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/nodeagent/containerlog"
)

// Pod-level reason of a pod the agent evicted, the kubelet's.
const reasonEvicted = "Evicted"

// usageInterval is how often disk-backed emptyDirs with a sizeLimit are
// measured: the kubelet's eviction manager period.
const usageInterval = 10 * time.Second

// podExtras is the worker's state for config volumes, fsGroup and
// emptyDir limits.
type podExtras struct {
	admitted   bool            // sysctls checked and emptyDirs given to fsGroup
	written    map[string]bool // config volumes written at least once
	measuredAt time.Time       // last emptyDir measurement, on the agent's clock
}

// fsGroupOf is the pod's fsGroup, or -1.
func fsGroupOf(pod *corev1.Pod) int {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return int(*sc.FSGroup)
	}
	return -1
}

// syncExtras runs on every pass after the plain volumes exist and before
// the sandbox: the kubelet's admission checks that berth adds (sysctls),
// fsGroup ownership of emptyDirs, the config volumes (written, then
// updated in place when their data changes), and the emptyDir size
// limits. ok is false when the pass must stop here; next is then when to
// come back.
func (w *podWorker) syncExtras(ctx context.Context, pod *corev1.Pod) (next time.Duration, ok bool) {
	x := &w.extras
	gid := fsGroupOf(pod)
	if !x.admitted {
		if err := checkSysctls(pod); err != nil {
			w.fail(reasonSysctlForbidden, err.Error())
			return 0, false
		}
		if gid >= 0 {
			for _, v := range pod.Spec.Volumes {
				if v.EmptyDir == nil {
					continue
				}
				p := w.volumes[v.Name]
				// The kubelet's SetVolumeOwnership: group-owned, setgid so
				// new files keep the group.
				if err := os.Lchown(p, -1, gid); err != nil {
					w.fail(reasonVolumeError, fmt.Sprintf("volume %s: fsGroup: %v", v.Name, err))
					return 0, false
				}
				if err := os.Chmod(p, 0o777|fs.ModeSetgid); err != nil {
					w.fail(reasonVolumeError, fmt.Sprintf("volume %s: fsGroup: %v", v.Name, err))
					return 0, false
				}
			}
		}
		x.admitted = true
		x.written = map[string]bool{}
	}

	pending := false
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !isConfigVolume(v) {
			continue
		}
		dir := w.a.podDir(w.uid).volume(v.Name)
		changed, err := syncConfigVolume(pod, v, dir, w.a.cfg.Configs, w.a.cfg.NodeName, gid, w.a.cfg.Clock.Now)
		if err != nil {
			// As the kubelet: the pod waits (ContainerCreating) until the
			// data is there; a volume already written keeps its content.
			w.log.Warn("config volume", "volume", v.Name, "err", err)
			if !x.written[v.Name] {
				pending = true
			}
			continue
		}
		if changed && x.written[v.Name] {
			w.log.Info("config volume updated", "volume", v.Name)
		}
		x.written[v.Name] = true
		w.volumes[v.Name] = dir
	}
	if pending {
		return w.a.cfg.ResyncInterval, false
	}

	if now := w.a.cfg.Clock.Now(); w.sb != nil && !now.Before(x.measuredAt.Add(usageInterval)) {
		x.measuredAt = now
		if name, limit, over := w.emptyDirOverLimit(pod); over {
			w.evict(ctx, fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", name, limit))
			return 0, false
		}
	}
	return 0, true
}

// emptyDirOverLimit measures every disk-backed emptyDir with a sizeLimit
// (a memory one is bounded by its tmpfs) as du does, by allocated blocks.
func (w *podWorker) emptyDirOverLimit(pod *corev1.Pod) (name, limit string, over bool) {
	for _, v := range pod.Spec.Volumes {
		ed := v.EmptyDir
		if ed == nil || ed.SizeLimit == nil || ed.Medium == corev1.StorageMediumMemory || ed.SizeLimit.IsZero() {
			continue
		}
		used, err := diskUsage(w.volumes[v.Name])
		if err != nil {
			w.log.Warn("measure emptyDir", "volume", v.Name, "err", err)
			continue
		}
		if used > ed.SizeLimit.Value() {
			return v.Name, ed.SizeLimit.String(), true
		}
	}
	return "", "", false
}

// diskUsage is the space the files under dir take, counting each inode
// once.
func diskUsage(dir string) (int64, error) {
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// evict stops every container at once (the kubelet evicts for local
// storage with no grace period) and fails the pod with reason Evicted.
func (w *podWorker) evict(ctx context.Context, msg string) {
	w.log.Warn("evicting pod", "message", msg)
	if err := w.stopAll(ctx, 0); err != nil {
		w.log.Error("stop containers of evicted pod", "err", err)
	}
	w.reapExits(ctx)
	w.fail(reasonEvicted, msg)
}

// evictedStatus is the status the kubelet gives a pod it evicted: Failed,
// reason Evicted, and a DisruptionTarget condition saying the kubelet
// ended it (kept with its first transition time once there).
func evictedStatus(st *corev1.PodStatus, msg string, now time.Time) {
	st.Phase, st.Reason, st.Message = corev1.PodFailed, reasonEvicted, msg
	for _, c := range st.Conditions {
		if c.Type == corev1.DisruptionTarget {
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "TerminationByKubelet",
		Message: msg, LastTransitionTime: metav1.NewTime(now),
	})
}

// Termination messages, the kubelet's limits.
const (
	defaultTerminationMessagePath = "/dev/termination-log"
	maxTerminationMessage         = 4096     // bytes read from the file
	maxTerminationLogLines        = 80       // FallbackToLogsOnError: lines...
	maxTerminationLogBytes        = 2 * 1024 // ...and bytes of the log tail
)

// terminationFile is where one attempt's termination message is written
// on the host.
func (d podDir) terminationFile(container string, attempt int) string {
	return filepath.Join(string(d), "termination", container+"-"+strconv.Itoa(attempt))
}

// terminationOpts makes the attempt's termination-message file, empty and
// writable by any user, and mounts it at the container's
// terminationMessagePath (default /dev/termination-log). The file of the
// attempt before, whose message the worker has read, goes.
func terminationOpts(dir podDir, c *corev1.Container, attempt int) ([]oci.SpecOpts, error) {
	dest := c.TerminationMessagePath
	if dest == "" {
		dest = defaultTerminationMessagePath
	}
	p := dir.terminationFile(c.Name, attempt)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("termination message: %w", err)
	}
	if attempt > 0 {
		_ = os.Remove(dir.terminationFile(c.Name, attempt-1))
	}
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		return nil, fmt.Errorf("termination message: %w", err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		return nil, fmt.Errorf("termination message: %w", err)
	}
	return []oci.SpecOpts{oci.WithMounts([]specs.Mount{{
		Destination: filepath.Clean(dest), Type: "bind", Source: p, Options: []string{"rbind", "rprivate", "rw"},
	}})}, nil
}

// terminationMessage reads what an exited attempt left as its message:
// the last 4096 bytes of its termination-message file; with
// FallbackToLogsOnError and a failed, silent exit, the tail of its log
// instead (80 lines, at most 2048 bytes), as the kubelet does.
func (w *podWorker) terminationMessage(c *ctr, exitCode int32) string {
	msg := readTail(w.a.podDir(w.uid).terminationFile(c.spec.Name, c.attempt), maxTerminationMessage)
	if msg != "" || exitCode == 0 || c.spec.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		return msg
	}
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	var buf bytes.Buffer
	dir := filepath.Dir(w.a.LogPath(pod.Namespace, pod.Name, w.uid, c.spec.Name, c.attempt))
	ctx, cancel := context.WithTimeout(w.a.ctx, 5*time.Second)
	defer cancel()
	if err := containerlog.Read(ctx, &buf, dir, containerlog.ReadOptions{Tail: maxTerminationLogLines}); err != nil {
		w.log.Warn("termination message from log", "container", c.spec.Name, "err", err)
	}
	b := buf.Bytes()
	if len(b) > maxTerminationLogBytes {
		b = b[len(b)-maxTerminationLogBytes:]
	}
	return string(b)
}

// readTail returns up to max bytes from the end of the file, "" if none.
func readTail(p string, max int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(b, off)
	return string(b[:n])
}
