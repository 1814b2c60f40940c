// Package localstorage keeps a node agent's PersistentVolumeClaims: each
// claim is a directory under the agent's --storage-dir, made on first use
// (the node where the claim's first pod runs, Kubernetes'
// WaitForFirstConsumer), kept across agent and pod restarts, and removed
// only when the server says so (reclaimPolicy Delete, no pod using it).
//
// Layout:
//
//	<root>/<namespace>/<name>/claim.json   which claim it is, its request
//	<root>/<namespace>/<name>/data/        what pods see at their mountPath
//
// Capacity is the filesystem's under root (statfs); usage is measured by
// walking a claim's data and reported against its request. Project quotas
// are not set: Quotas says whether the filesystem could enforce them and
// that berth does not, so usage over the request is reported, not refused.
package localstorage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ErrInvalidName is wrapped when a namespace or claim name could not be a
// Kubernetes name (and so could escape root).
var ErrInvalidName = errors.New("invalid claim name")

// Claim says which claim a directory holds.
type Claim struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Request is resources.requests.storage in bytes (0 if unknown).
	Request int64     `json:"request"`
	Created time.Time `json:"created"`
}

// Dir is the claim store under one root.
type Dir struct {
	root string
}

// Open makes root (0700) if missing and returns its store.
func Open(root string) (*Dir, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("storage dir %q: must be absolute", root)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	return &Dir{root: filepath.Clean(root)}, nil
}

// Root is the directory the store keeps claims under.
func (d *Dir) Root() string { return d.root }

func (d *Dir) claimDir(namespace, name string) (string, error) {
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", fmt.Errorf("%w: namespace %q: %s", ErrInvalidName, namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("%w: claim %q: %s", ErrInvalidName, name, strings.Join(errs, "; "))
	}
	return filepath.Join(d.root, namespace, name), nil
}

// Provision makes the claim's directory if it is not there yet and returns
// the path of its data, which pods bind-mount. A claim already provisioned
// keeps its data and its record (a larger request is written back).
func (d *Dir) Provision(c Claim, now time.Time) (string, error) {
	dir, err := d.claimDir(c.Namespace, c.Name)
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", fmt.Errorf("provision claim %s/%s: %w", c.Namespace, c.Name, err)
	}
	// World-writable as the kubelet leaves local volumes, so any user a
	// container runs as can write; the claim dir above stays 0700.
	if err := os.Chmod(data, 0o777); err != nil {
		return "", fmt.Errorf("provision claim %s/%s: %w", c.Namespace, c.Name, err)
	}
	old, err := d.read(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Created = now
	case err != nil:
		return "", err
	case old.Request >= c.Request:
		return data, nil
	default:
		c.Created = old.Created
	}
	if err := writeRecord(dir, c); err != nil {
		return "", fmt.Errorf("provision claim %s/%s: %w", c.Namespace, c.Name, err)
	}
	return data, nil
}

func (d *Dir) read(dir string) (Claim, error) {
	var c Claim
	b, err := os.ReadFile(filepath.Join(dir, "claim.json"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", filepath.Join(dir, "claim.json"), err)
	}
	return c, nil
}

// writeRecord replaces claim.json atomically (write, fsync, rename).
func writeRecord(dir string, c Claim) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".claim-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, "claim.json"))
}

// Delete removes the claim and its data. A claim that is not there is
// deleted already.
func (d *Dir) Delete(namespace, name string) error {
	dir, err := d.claimDir(namespace, name)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete claim %s/%s: %w", namespace, name, err)
	}
	// The namespace directory goes with its last claim.
	if err := os.Remove(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("delete claim %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Usage is one claim's record and how much of the disk its data takes.
type Usage struct {
	Claim
	// Used is the bytes its files occupy (allocated blocks; a file with
	// several links counts once).
	Used int64
	// Over is true when Used exceeds a known request: reported, not
	// enforced (see Quotas).
	Over bool
}

// List returns every provisioned claim with its usage, sorted by
// namespace and name.
func (d *Dir) List() ([]Usage, error) {
	nss, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	var out []Usage
	for _, ns := range nss {
		if !ns.IsDir() {
			continue
		}
		claims, err := os.ReadDir(filepath.Join(d.root, ns.Name()))
		if err != nil {
			return nil, fmt.Errorf("list claims: %w", err)
		}
		for _, c := range claims {
			dir := filepath.Join(d.root, ns.Name(), c.Name())
			rec, err := d.read(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue // being provisioned or deleted
			}
			if err != nil {
				return nil, err
			}
			used, err := diskUsage(filepath.Join(dir, "data"))
			if err != nil {
				return nil, fmt.Errorf("usage of claim %s/%s: %w", rec.Namespace, rec.Name, err)
			}
			out = append(out, Usage{Claim: rec, Used: used, Over: rec.Request > 0 && used > rec.Request})
		}
	}
	return out, nil
}

// diskUsage sums the allocated blocks under dir, as du does: symlinks are
// not followed, a file with several links counts once.
func diskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if st.Nlink > 1 && !e.IsDir() {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// Capacity is the room the filesystem under root has.
type Capacity struct {
	// Total and Available are the filesystem's size and what an
	// unprivileged writer may still use, in bytes.
	Total, Available int64
}

// Capacity reads the filesystem's size and free space under root.
func (d *Dir) Capacity() (Capacity, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(d.root, &st); err != nil {
		return Capacity{}, fmt.Errorf("statfs %s: %w", d.root, err)
	}
	bs := int64(st.Bsize)
	return Capacity{Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs}, nil
}

// QuotaSupport says whether a claim's request is enforced on this node.
type QuotaSupport struct {
	// Enforced is false on every filesystem today: berth reports usage
	// over the request but sets no project quota.
	Enforced bool
	// Filesystem is the type of the filesystem under root (xfs, ext4,
	// tmpfs, …) and Why says what enforcing would take.
	Filesystem string
	Why        string
}

// Quotas reads the filesystem under root and its mount options from
// mountinfo (path: /proc/self/mountinfo) and says whether requests are
// enforced there.
func (d *Dir) Quotas(mountinfo string) (QuotaSupport, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return QuotaSupport{}, fmt.Errorf("read %s: %w", mountinfo, err)
	}
	fsType, opts := mountOf(string(b), d.root)
	q := QuotaSupport{Filesystem: fsType}
	prj := false
	for _, o := range strings.Split(opts, ",") {
		prj = prj || o == "prjquota" || o == "pquota" || o == "prjjquota"
	}
	switch {
	case fsType != "xfs" && fsType != "ext4":
		q.Why = fmt.Sprintf("not enforced: %s has no project quotas; usage over a claim's request is reported only", fsType)
	case !prj:
		q.Why = fmt.Sprintf("not enforced: %s is mounted without prjquota; usage over a claim's request is reported only", fsType)
	default:
		q.Why = fmt.Sprintf("not enforced: %s is mounted with project quotas, but berth does not set them yet; usage over a claim's request is reported only", fsType)
	}
	return q, nil
}

// mountOf finds the mount holding path in a mountinfo text (the longest
// mount point that is a prefix of it) and returns its filesystem type and
// its mount and super options joined.
func mountOf(mountinfo, path string) (fsType, opts string) {
	best := -1
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 {
			continue
		}
		mp := unescapeMount(f[4])
		if !(path == mp || mp == "/" || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) {
			continue
		}
		if len(mp) >= best {
			best = len(mp)
			fsType, opts = g[0], f[5]+","+g[2]
		}
	}
	return fsType, opts
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
