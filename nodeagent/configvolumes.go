package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// defaultVolumeMode is Kubernetes' default for configMap, secret,
// projected and downwardAPI files (0644, written as 420 in manifests).
const defaultVolumeMode = 0o644

// isConfigVolume reports whether the volume's files come from ConfigMaps,
// Secrets or the downward API: written by the agent with the atomic
// writer and kept up to date while the pod runs.
func isConfigVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.Projected != nil || v.DownwardAPI != nil
}

// onTmpfs reports whether the volume lives in memory: Secret data is never
// written to the node's disk, and projected volumes are tmpfs in the
// kubelet too.
func onTmpfs(v *corev1.Volume) bool { return v.Secret != nil || v.Projected != nil }

func modeOr(m *int32, def os.FileMode) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m).Perm()
}

// volumePayload computes what a config volume's directory holds, as the
// kubelet's configmap/secret/projected/downwardapi plugins do. A missing
// object that is not optional is an error; an optional one gives nothing.
func volumePayload(pod *corev1.Pod, v *corev1.Volume, configs ConfigSource, node string) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	switch {
	case v.ConfigMap != nil:
		def := modeOr(v.ConfigMap.DefaultMode, defaultVolumeMode)
		return out, objectPayload(out, pod.Namespace, api.KindConfigMap, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, def, configs)
	case v.Secret != nil:
		def := modeOr(v.Secret.DefaultMode, defaultVolumeMode)
		return out, objectPayload(out, pod.Namespace, api.KindSecret, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, def, configs)
	case v.DownwardAPI != nil:
		def := modeOr(v.DownwardAPI.DefaultMode, defaultVolumeMode)
		return out, downwardPayload(out, pod, v.DownwardAPI.Items, def, node)
	case v.Projected != nil:
		def := modeOr(v.Projected.DefaultMode, defaultVolumeMode)
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = objectPayload(out, pod.Namespace, api.KindConfigMap, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def, configs)
			case src.Secret != nil:
				err = objectPayload(out, pod.Namespace, api.KindSecret, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def, configs)
			case src.DownwardAPI != nil:
				err = downwardPayload(out, pod, src.DownwardAPI.Items, def, node)
			default:
				err = errors.New("projected: only configMap, secret and downwardAPI sources are supported")
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("volume %s: not a configMap, secret, projected or downwardAPI volume", v.Name)
}

// objectPayload adds a ConfigMap's or Secret's keys: all of them, each
// under its own name, or only the listed items under their paths.
func objectPayload(out map[string]fileProjection, ns, kind, name string, items []corev1.KeyToPath, optional *bool, def os.FileMode, configs ConfigSource) error {
	opt := optional != nil && *optional
	obj, err := lookupConfig(configs, ns, kind, name)
	if errors.Is(err, ErrConfigNotFound) && opt {
		return nil
	}
	if err != nil {
		return err
	}
	if len(items) == 0 {
		for k, data := range obj.Data {
			out[k] = fileProjection{Data: data, Mode: def}
		}
		return nil
	}
	for _, it := range items {
		data, ok := obj.Data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return fmt.Errorf("%s references non-existent %s key: %s", strings.ToLower(kind), strings.ToLower(kind), it.Key)
		}
		out[it.Path] = fileProjection{Data: data, Mode: modeOr(it.Mode, def)}
	}
	return nil
}

// downwardPayload adds downward API items: pod fields and container
// resources.
func downwardPayload(out map[string]fileProjection, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def os.FileMode, node string) error {
	var errs []error
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldValue(pod, it.FieldRef.FieldPath, "", node)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				err = fmt.Errorf("resourceFieldRef: no container %q", it.ResourceFieldRef.ContainerName)
				break
			}
			v, err = resourceValue(it.ResourceFieldRef, c)
		default:
			err = fmt.Errorf("downwardAPI item %s: needs fieldRef or resourceFieldRef", it.Path)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[it.Path] = fileProjection{Data: []byte(v), Mode: modeOr(it.Mode, def)}
	}
	return errors.Join(errs...)
}

// syncConfigVolume brings one config volume's directory up to date: made
// (on tmpfs where onTmpfs says) on first use, then rewritten atomically
// whenever its payload changes. It reports whether files changed.
func syncConfigVolume(pod *corev1.Pod, v *corev1.Volume, dir string, configs ConfigSource, node string, gid int, now func() time.Time) (bool, error) {
	payload, err := volumePayload(pod, v, configs, node)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if onTmpfs(v) {
		if err := mountTmpfs(dir, 0); err != nil {
			return false, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return false, err
		}
	}
	w := &atomicWriter{dir: dir, now: now, gid: gid}
	return w.write(payload)
}
