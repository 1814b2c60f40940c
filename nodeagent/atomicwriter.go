package nodeagent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The kubelet's AtomicWriter layout (pkg/volume/util/atomic_writer.go):
//
//	<dir>/..2026_12_03_10_00_00.123456789/   one timestamped dir per version
//	<dir>/..data -> ..2026_12_03_10_00_00.123456789
//	<dir>/<key>  -> ..data/<key>               one symlink per top-level name
//
// A new version is written whole into a fresh timestamped directory, then
// ..data is switched to it with one rename(2) of a symlink, so a reader
// that follows <key> sees either the old version or the new one, never a
// mix. The old directory is removed afterwards.
const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
	maxPathLength  = 4096
	maxFileNameLen = 255
)

// fileProjection is one file of a payload.
type fileProjection struct {
	Data []byte
	Mode os.FileMode
}

// atomicWriter writes payloads into dir. now names the timestamped
// directories; it is a name only, never compared.
type atomicWriter struct {
	dir string
	now func() time.Time
	// gid, when not negative, owns every file and directory written (the
	// pod's fsGroup), and files become group-readable, as the kubelet's
	// SetVolumeOwnership makes them.
	gid int
}

// write makes the visible content of w.dir equal to payload (paths
// relative to dir, '/'-separated). It reports whether anything changed;
// writing the same payload again changes nothing on disk.
func (w *atomicWriter) write(payload map[string]fileProjection) (changed bool, err error) {
	clean, err := validatePayload(payload)
	if err != nil {
		return false, err
	}
	dataLink := filepath.Join(w.dir, dataDirName)
	oldTs, err := os.Readlink(dataLink)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", dataLink, err)
	}
	oldTsPath := ""
	if oldTs != "" {
		oldTsPath = filepath.Join(w.dir, oldTs)
	}

	oldPaths := map[string]bool{}
	if oldTsPath != "" {
		oldPaths, err = visiblePaths(oldTsPath)
		if err != nil {
			return false, err
		}
	}
	same := oldTsPath != "" && len(oldPaths) == len(clean)
	if same {
		for p, fp := range clean {
			if !oldPaths[p] || !w.sameFile(filepath.Join(oldTsPath, p), fp) {
				same = false
				break
			}
		}
	}

	if !same {
		tsDir, err := os.MkdirTemp(w.dir, w.now().UTC().Format("..2006_01_02_15_04_05."))
		if err != nil {
			return false, fmt.Errorf("make data dir in %s: %w", w.dir, err)
		}
		if err := w.writeDir(tsDir, clean); err != nil {
			return false, errors.Join(err, os.RemoveAll(tsDir))
		}
		tmpLink := filepath.Join(w.dir, newDataDirName)
		_ = os.Remove(tmpLink)
		if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
			return false, errors.Join(fmt.Errorf("link new data dir: %w", err), os.RemoveAll(tsDir))
		}
		if err := os.Rename(tmpLink, dataLink); err != nil {
			return false, errors.Join(fmt.Errorf("switch %s: %w", dataLink, err), os.Remove(tmpLink), os.RemoveAll(tsDir))
		}
		changed = true
	}

	// Top-level names: make the new ones, drop the ones that went. This runs
	// even when the data is the same, to repair a half-finished earlier run.
	top := map[string]bool{}
	for p := range clean {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(w.dir, name)
		if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataDirName, name), link); err != nil {
				return changed, fmt.Errorf("link %s: %w", name, err)
			}
			changed = true
		} else if err != nil {
			return changed, err
		}
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return changed, err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || top[name] {
			continue
		}
		if e.Type()&fs.ModeSymlink == 0 {
			continue // not ours: the writer owns only the links it made
		}
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil {
			return changed, fmt.Errorf("remove %s: %w", name, err)
		}
		changed = true
	}

	// Old versions go last: a reader that resolved ..data just before the
	// switch finishes reading the old version first.
	cur, _ := os.Readlink(dataLink)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") && name != dataDirName && name != cur && e.IsDir() {
			if err := os.RemoveAll(filepath.Join(w.dir, name)); err != nil {
				return changed, fmt.Errorf("remove old data dir %s: %w", name, err)
			}
		}
	}
	return changed, nil
}

// sameFile reports whether the file at p has fp's content and mode.
func (w *atomicWriter) sameFile(p string, fp fileProjection) bool {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != w.mode(fp.Mode) {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, fp.Data)
}

func (w *atomicWriter) mode(m os.FileMode) os.FileMode {
	if w.gid >= 0 {
		m |= 0o440
	}
	return m.Perm()
}

func (w *atomicWriter) writeDir(dir string, payload map[string]fileProjection) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if err := w.own(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(payload))
	for p := range payload {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		fp := payload[p]
		full := filepath.Join(dir, p)
		for d := filepath.Dir(full); d != dir; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			if err := w.own(d); err != nil {
				return err
			}
		}
		if err := os.WriteFile(full, fp.Data, w.mode(fp.Mode)); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		// WriteFile is subject to the umask.
		if err := os.Chmod(full, w.mode(fp.Mode)); err != nil {
			return err
		}
		if err := w.own(full); err != nil {
			return err
		}
	}
	return nil
}

func (w *atomicWriter) own(p string) error {
	if w.gid < 0 {
		return nil
	}
	if err := os.Lchown(p, -1, w.gid); err != nil {
		return fmt.Errorf("chown %s to group %d: %w", p, w.gid, err)
	}
	return nil
}

// visiblePaths lists the files under a timestamped dir, relative to it.
func visiblePaths(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return out, nil
}

// validatePayload refuses what the kubelet's validatePath refuses: absolute
// paths, '..' elements, names starting with '..' (the writer's own), and
// over-long paths; and a path that is also a directory of another.
func validatePayload(payload map[string]fileProjection) (map[string]fileProjection, error) {
	clean := make(map[string]fileProjection, len(payload))
	for p, fp := range payload {
		if err := validatePayloadPath(p); err != nil {
			return nil, err
		}
		clean[filepath.Clean(p)] = fp
	}
	for p := range clean {
		for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
			if _, ok := clean[d]; ok {
				return nil, fmt.Errorf("payload path %q: %q is both a file and a directory", p, d)
			}
		}
	}
	return clean, nil
}

func validatePayloadPath(p string) error {
	switch {
	case p == "":
		return errors.New("payload path: must not be empty")
	case len(p) > maxPathLength:
		return fmt.Errorf("payload path %q: longer than %d characters", p, maxPathLength)
	case filepath.IsAbs(p):
		return fmt.Errorf("payload path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("payload path %q: must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("payload path %q: must not contain '..'", p)
		}
		if len(part) > maxFileNameLen {
			return fmt.Errorf("payload path %q: element longer than %d characters", p, maxFileNameLen)
		}
	}
	return nil
}
