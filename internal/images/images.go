package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultBusybox is where Debian's busybox-static package puts the binary.
const DefaultBusybox = "/bin/busybox"

// epoch is the modification time of every file in the layers built here,
// so the same inputs always give the same image digest.
var epoch = time.Unix(0, 0).UTC()

// entry is one file, directory or symlink of a layer.
type entry struct {
	name     string // path inside the image, without a leading slash
	mode     int64
	typeflag byte
	linkname string
	body     []byte
}

// layer packs entries into an uncompressed tar and wraps it as a layer.
func layer(entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:     e.name,
			Mode:     e.mode,
			Typeflag: e.typeflag,
			Linkname: e.linkname,
			Size:     int64(len(e.body)),
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if e.typeflag == tar.TypeDir && !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// image makes a single-layer linux image for this machine's architecture.
func image(l v1.Layer, cfg v1.Config) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// Pause builds the pause image: the static binary at binaryPath as /pause,
// run as the entrypoint.
func Pause(binaryPath string) (v1.Image, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	l, err := layer([]entry{{name: "pause", mode: 0o755, typeflag: tar.TypeReg, body: bin}})
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	img, err := image(l, v1.Config{Entrypoint: []string{"/pause"}})
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	return img, nil
}

// Busybox builds a busybox image from the static binary at busyboxPath
// (usually DefaultBusybox): the binary as /bin/busybox and a symlink to it
// for every applet it lists, so sh, httpd, wget, date, sleep and the rest
// resolve on PATH as in the upstream busybox image; plus /etc/passwd,
// /etc/group, /tmp and /root. Its default command is sh.
func Busybox(busyboxPath string) (v1.Image, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox image: list applets of %s: %w", busyboxPath, err)
	}
	l, err := layer(busyboxEntries(bin, strings.Fields(string(out))))
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	img, err := image(l, v1.Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	return img, nil
}

// busyboxEntries lays out the busybox tree: directories first, each applet
// a relative symlink to bin/busybox. Applet paths come from the binary's own
// list and are checked so they cannot leave the image root.
func busyboxEntries(bin []byte, applets []string) []entry {
	dirs := map[string]bool{"bin": true, "etc": true, "tmp": true, "root": true}
	links := map[string]string{}
	for _, a := range applets {
		a = path.Clean(strings.TrimPrefix(a, "/"))
		if a == "." || a == "bin/busybox" || strings.HasPrefix(a, "..") || path.IsAbs(a) {
			continue
		}
		dir := path.Dir(a)
		for d := dir; d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		rel := strings.Repeat("../", strings.Count(dir, "/")+1) + "bin/busybox"
		if dir == "bin" {
			rel = "busybox"
		}
		links[a] = rel
	}
	var entries []entry
	dirNames := make([]string, 0, len(dirs))
	for d := range dirs {
		dirNames = append(dirNames, d)
	}
	sort.Strings(dirNames)
	for _, d := range dirNames {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if d == "root" {
			mode = 0o700
		}
		entries = append(entries, entry{name: d, mode: mode, typeflag: tar.TypeDir})
	}
	entries = append(entries,
		entry{name: "bin/busybox", mode: 0o755, typeflag: tar.TypeReg, body: bin},
		entry{name: "etc/passwd", mode: 0o644, typeflag: tar.TypeReg,
			body: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		entry{name: "etc/group", mode: 0o644, typeflag: tar.TypeReg,
			body: []byte("root:x:0:\nnogroup:x:65534:\n")},
	)
	linkNames := make([]string, 0, len(links))
	for l := range links {
		linkNames = append(linkNames, l)
	}
	sort.Strings(linkNames)
	for _, l := range linkNames {
		entries = append(entries, entry{name: l, mode: 0o777, typeflag: tar.TypeSymlink, linkname: links[l]})
	}
	return entries
}

// WithFiles is base with one more layer holding files (path inside the
// image → content), each executable, with their parent directories, and
// with cmd as its default command when cmd is not nil: a stand-in, built
// from local files, for an image that cannot be pulled here.
func WithFiles(base v1.Image, files map[string]string, cmd []string) (v1.Image, error) {
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for p := range files {
		clean := path.Clean(strings.TrimPrefix(p, "/"))
		if clean == "." || strings.HasPrefix(clean, "..") {
			return nil, fmt.Errorf("image file %q: outside the image root", p)
		}
		for d := path.Dir(clean); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		names = append(names, p)
	}
	sort.Strings(names)
	dirNames := make([]string, 0, len(dirs))
	for d := range dirs {
		dirNames = append(dirNames, d)
	}
	sort.Strings(dirNames)
	var entries []entry
	for _, d := range dirNames {
		entries = append(entries, entry{name: d, mode: 0o755, typeflag: tar.TypeDir})
	}
	for _, p := range names {
		entries = append(entries, entry{name: path.Clean(strings.TrimPrefix(p, "/")), mode: 0o755, typeflag: tar.TypeReg, body: []byte(files[p])})
	}
	l, err := layer(entries)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		return nil, err
	}
	if cmd == nil {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Cmd = cmd
	return mutate.ConfigFile(img, cf)
}

// Push writes img to the registry as ref. Plain HTTP is used for registries
// on loopback (as the docker CLI does) or when insecure is set.
func Push(ctx context.Context, img v1.Image, ref string, insecure bool) error {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// WriteArchive writes img as a docker-save style tar archive naming it ref,
// the form `ctr images import` and containerd's client Import read.
func WriteArchive(w io.Writer, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("archive %s: %w", ref, err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("archive %s: %w", ref, err)
	}
	return nil
}
