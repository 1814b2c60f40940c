package nodeagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/manifest"
)

// Source yields the pods that should run on this node. Watch calls sync
// with the full list whenever it may have changed (and at least once),
// until ctx ends. A directory of static pods is one source; the control
// plane's agent API is another.
type Source interface {
	Watch(ctx context.Context, sync func([]*corev1.Pod)) error
}

// DirSource reads static pods from a directory of manifests and polls it
// for changes. Objects of other kinds are reported once and skipped: they
// are control-plane material, not something a node runs by itself.
type DirSource struct {
	// Dir is the manifests directory.
	Dir string
	// NodeName goes into each pod's spec.nodeName and UID.
	NodeName string
	// Interval is how often the directory is read (default 2s).
	Interval time.Duration
	// Clock drives the polling (default: real).
	Clock clock.WithTicker
	// Logger receives what was skipped and why (default slog.Default()).
	Logger *slog.Logger
}

// Watch implements Source.
func (s *DirSource) Watch(ctx context.Context, sync func([]*corev1.Pod)) error {
	if s.Interval == 0 {
		s.Interval = 2 * time.Second
	}
	if s.Clock == nil {
		s.Clock = clock.RealClock{}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if _, err := os.Stat(s.Dir); err != nil {
		return fmt.Errorf("manifests dir: %w", err)
	}
	t := s.Clock.NewTicker(s.Interval)
	defer t.Stop()
	var last string
	reported := map[string]bool{}
	for {
		pods, skipped, err := LoadStaticPods(s.Dir, s.NodeName)
		for _, sk := range skipped {
			if !reported[sk] {
				reported[sk] = true
				s.Logger.Info("skipped: not static-pod material", "object", sk)
			}
		}
		switch {
		case err != nil:
			// A bad edit never replaces a good set: keep what runs.
			if msg := err.Error(); !reported[msg] {
				reported[msg] = true
				s.Logger.Error("manifests dir has errors; keeping the last good pods", "err", err)
			}
		default:
			if fp := fingerprint(pods); fp != last {
				last = fp
				s.Logger.Info("static pods", "count", len(pods))
				sync(pods)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}

// LoadStaticPods reads the pods in dir, each with spec.nodeName set and a
// UID derived from node, namespace, name and spec, so the same file gives
// the same UID across agent restarts and an edited pod is a new pod, as
// the kubelet does for static pods. skipped names the other objects.
func LoadStaticPods(dir, node string) (pods []*corev1.Pod, skipped []string, err error) {
	objs, err := manifest.Load(os.DirFS(dir), ".")
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		if o.Kind != manifest.KindPod || o.Pod == nil {
			skipped = append(skipped, fmt.Sprintf("%s (%s:%d)", o.Key(), o.File, o.Line))
			continue
		}
		p := o.Pod.DeepCopy()
		p.Spec.NodeName = node
		p.UID = staticUID(node, p)
		pods = append(pods, p)
	}
	sort.Slice(pods, func(i, j int) bool { return podKey(pods[i]) < podKey(pods[j]) })
	return pods, skipped, nil
}

func staticUID(node string, p *corev1.Pod) types.UID {
	spec, _ := json.Marshal(p.Spec)
	meta, _ := json.Marshal(struct {
		Labels, Annotations map[string]string
	}{p.Labels, p.Annotations})
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", node, p.Namespace, p.Name)
	h.Write(spec)
	h.Write(meta)
	s := hex.EncodeToString(h.Sum(nil))
	return types.UID(s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32])
}

func fingerprint(pods []*corev1.Pod) string {
	h := sha256.New()
	for _, p := range pods {
		h.Write([]byte(p.UID))
	}
	return hex.EncodeToString(h.Sum(nil))
}
