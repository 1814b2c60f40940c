package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/distribution/reference"
	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/images"
)

// errImageNeverPull is the reason a Never-policy image that is missing
// cannot start, as the kubelet names it.
var errImageNeverPull = errors.New("image is not present and the pull policy is Never")

// imageStore makes images present in containerd.
type imageStore struct {
	client      *containerd.Client
	snapshotter string
	insecure    []string
	pulls       singleflight.Group
	// ready caches images known present and unpacked, by name, so starting
	// a container costs no image round trips; forget drops an entry when a
	// container could not be made from it.
	ready sync.Map
}

func (s *imageStore) forget(ref string) {
	if name, err := normalize(ref); err == nil {
		s.ready.Delete(name)
	}
}

// normalize turns "busybox" into "docker.io/library/busybox:latest", the
// name containerd stores.
func normalize(ref string) (string, error) {
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return n.String(), nil
}

// plainHTTP allows HTTP for loopback registries and those named insecure.
func (s *imageStore) plainHTTP(host string) (bool, error) {
	if ok, _ := docker.MatchLocalhost(host); ok {
		return true, nil
	}
	return slices.Contains(s.insecure, host), nil
}

// ensure returns the unpacked image for ref following Kubernetes' pull
// policies: Always pulls every time a container starts (cheap when the
// digest is unchanged), IfNotPresent only when missing, Never never.
func (s *imageStore) ensure(ctx context.Context, ref string, policy corev1.PullPolicy) (containerd.Image, error) {
	name, err := normalize(ref)
	if err != nil {
		return nil, err
	}
	if policy != corev1.PullAlways {
		if img, ok := s.ready.Load(name); ok {
			return img.(containerd.Image), nil
		}
		img, err := s.client.GetImage(ctx, name)
		if err == nil {
			if err := s.unpack(ctx, img); err != nil {
				return nil, err
			}
			s.ready.Store(name, img)
			return img, nil
		}
		if !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		if policy == corev1.PullNever {
			return nil, fmt.Errorf("image %s: %w", name, errImageNeverPull)
		}
	}
	// Several pods starting from one image share one pull.
	v, err, _ := s.pulls.Do(name, func() (any, error) {
		resolver := docker.NewResolver(docker.ResolverOptions{
			Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(s.plainHTTP)),
		})
		img, err := s.client.Pull(ctx, name,
			containerd.WithResolver(resolver),
			containerd.WithPullUnpack,
			containerd.WithPullSnapshotter(s.snapshotter))
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
		s.ready.Store(name, img)
		return img, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(containerd.Image), nil
}

func (s *imageStore) unpack(ctx context.Context, img containerd.Image) error {
	ok, err := img.IsUnpacked(ctx, s.snapshotter)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name(), err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, s.snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", img.Name(), err)
	}
	return nil
}

// ensurePause makes the pause image, built in memory from the pause
// binary, present and unpacked, and returns it. The tag carries the image
// digest, so a rebuilt binary yields a new image and never a stale one.
func (s *imageStore) ensurePause(ctx context.Context, binary string) (containerd.Image, error) {
	built, err := images.Pause(binary)
	if err != nil {
		return nil, err
	}
	digest, err := built.Digest()
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	name := "localhost/berth/pause:" + digest.Hex[:12]
	img, err := s.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		var buf bytes.Buffer
		if err := images.WriteArchive(&buf, built, name); err != nil {
			return nil, err
		}
		imported, err := s.client.Import(ctx, &buf)
		if err != nil {
			return nil, fmt.Errorf("import pause image: %w", err)
		}
		if len(imported) == 0 {
			return nil, errors.New("import pause image: archive held no image")
		}
		img, err = s.client.GetImage(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("pause image %s after import: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("pause image %s: %w", name, err)
	}
	if err := s.unpack(ctx, img); err != nil {
		return nil, err
	}
	return img, nil
}

// importArchive imports the images of a docker-save or OCI archive and
// unpacks them, so pods can use them with any pull policy.
func (s *imageStore) importArchive(ctx context.Context, r io.Reader) ([]string, error) {
	imgs, err := s.client.Import(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("import archive: %w", err)
	}
	var names []string
	for _, i := range imgs {
		img := containerd.NewImage(s.client, i)
		if err := s.unpack(ctx, img); err != nil {
			return nil, err
		}
		names = append(names, i.Name)
	}
	return names, nil
}
