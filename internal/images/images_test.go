package images_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent/pause"
)

// files maps each path in the image's single layer to its tar header.
func files(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestBusyboxResolvesApplets(t *testing.T) {
	testenv.RequireFile(t, images.DefaultBusybox)
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	fs := files(t, img)
	if h := fs["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Fatalf("bin/busybox missing or not executable: %+v", h)
	}
	for _, applet := range []string{"sh", "httpd", "wget", "date", "sleep", "cat", "echo"} {
		t.Run(applet, func(t *testing.T) {
			var found *tar.Header
			for _, dir := range []string{"bin/", "sbin/", "usr/bin/", "usr/sbin/"} {
				if h := fs[dir+applet]; h != nil {
					found = h
				}
			}
			if found == nil {
				t.Fatalf("no %s on PATH in the image", applet)
			}
			if found.Typeflag != tar.TypeSymlink {
				t.Fatalf("%s is not a symlink", found.Name)
			}
			target := filepath.Clean(filepath.Join(filepath.Dir(found.Name), found.Linkname))
			if target != "bin/busybox" {
				t.Fatalf("%s -> %s resolves to %s, want bin/busybox", found.Name, found.Linkname, target)
			}
		})
	}
	again, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := digest(t, img), digest(t, again); d1 != d2 {
		t.Fatalf("two builds differ: %s vs %s (builds must be reproducible)", d1, d2)
	}
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func buildPause(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "berth-pause")
	if err := pause.Build(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPauseImageIsSmall(t *testing.T) {
	img, err := images.Pause(buildPause(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, l := range m.Layers {
		size += l.Size
	}
	size += m.Config.Size
	if size >= 2<<20 {
		t.Fatalf("pause image is %d bytes compressed, want < 2 MiB", size)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Fatalf("entrypoint %v, want [/pause]", cf.Config.Entrypoint)
	}
	if h := files(t, img)["pause"]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("/pause missing or not executable: %+v", h)
	}
}

func TestPushAndArchiveRoundTrip(t *testing.T) {
	testenv.RequireFile(t, images.DefaultBusybox)
	reg := testenv.NewRegistry(t)
	img, err := images.Busybox(images.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	want := digest(t, img)
	tests := []struct {
		name     string
		tag      string // each case its own, so one push cannot pass for another
		insecure bool
	}{
		{name: "loopback is plain HTTP without asking", tag: "loopback", insecure: false},
		{name: "insecure flag", tag: "insecure", insecure: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := reg.Host + "/test/busybox:" + tc.tag
			if err := images.Push(context.Background(), img, ref, tc.insecure); err != nil {
				t.Fatal(err)
			}
			r, _ := name.ParseReference(ref, name.Insecure)
			got, err := remote.Image(r)
			if err != nil {
				t.Fatal(err)
			}
			if d := digest(t, got); d != want {
				t.Fatalf("registry has %s, pushed %s", d, want)
			}
		})
	}
	t.Run("archive", func(t *testing.T) {
		var buf bytes.Buffer
		if err := images.WriteArchive(&buf, img, "localhost/test/busybox:latest"); err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag("localhost/test/busybox:latest")
		back, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, &tag)
		if err != nil {
			t.Fatal(err)
		}
		if d := digest(t, back); d != want {
			t.Fatalf("archive holds %s, wrote %s", d, want)
		}
	})
}

// WithFiles adds one layer of executable files with their directories,
// sets the command, and refuses a path that leaves the image root.
func TestWithFiles(t *testing.T) {
	base, err := images.Pause(buildPause(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := images.WithFiles(base, map[string]string{"/usr/local/bin/tool": "#!/bin/sh\n", "/run.sh": "exec tool\n"}, []string{"/run.sh"})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers %d, %v; want the base's and one more", len(layers), err)
	}
	rc, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	for name, mode := range map[string]int64{"usr/": 0o755, "usr/local/": 0o755, "usr/local/bin/": 0o755, "usr/local/bin/tool": 0o755, "run.sh": 0o755} {
		if got[name] != mode {
			t.Errorf("%s: mode %o, want %o (layer: %v)", name, got[name], mode, got)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil || len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != "/run.sh" || len(cf.Config.Entrypoint) != 1 {
		t.Fatalf("config %+v, %v: want Cmd /run.sh and the base's entrypoint", cf.Config, err)
	}
	if _, err := images.WithFiles(base, map[string]string{"../escape": "x"}, nil); err == nil {
		t.Fatal("a path outside the image root was accepted")
	}
}
