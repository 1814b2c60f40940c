package nodeagent

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// configError is a container start refused for its configuration — a
// missing ConfigMap, Secret or key, an image that would run as root under
// runAsNonRoot — shown as the kubelet shows it: waiting with reason
// CreateContainerConfigError and the error as message. The container is
// tried again with back-off; the data may arrive.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func configErrorf(format string, args ...any) error {
	return &configError{fmt.Errorf(format, args...)}
}

// isConfigError reports whether err refuses a start for its configuration.
func isConfigError(err error) bool {
	var ce *configError
	return errors.As(err, &ce)
}

// envVars is an ordered set of variables: a later definition replaces an
// earlier one in place.
type envVars struct {
	names []string
	vals  map[string]string
}

func (e *envVars) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.names = append(e.names, k)
	}
	e.vals[k] = v
}

func (e *envVars) lookup(n string) (string, bool) { v, ok := e.vals[n]; return v, ok }

// containerEnv resolves the container's environment as the kubelet's
// makeEnvironmentVariables does, once, when the container starts (a
// ConfigMap changed later reaches it only at its next start): envFrom
// sources first, in order, with their prefix; then env, in order, each
// value expanding $(VAR) references to anything defined before it.
// A missing ConfigMap, Secret or key that is not optional is a
// configError with the kubelet's message.
func containerEnv(pod *corev1.Pod, c *corev1.Container, podIP, node string, configs ConfigSource) ([]string, error) {
	env := envVars{vals: map[string]string{}}
	for _, from := range c.EnvFrom {
		var kind, name string
		var optional *bool
		switch {
		case from.ConfigMapRef != nil:
			kind, name, optional = api.KindConfigMap, from.ConfigMapRef.Name, from.ConfigMapRef.Optional
		case from.SecretRef != nil:
			kind, name, optional = api.KindSecret, from.SecretRef.Name, from.SecretRef.Optional
		default:
			return nil, fmt.Errorf("container %s: envFrom: only configMapRef and secretRef are supported", c.Name)
		}
		obj, err := lookupConfig(configs, pod.Namespace, kind, name)
		if errors.Is(err, ErrConfigNotFound) && optional != nil && *optional {
			continue
		}
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(obj.Data))
		for k := range obj.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// The kubelet skips keys that are no variable name; with the
			// relaxed rule of Kubernetes 1.32 that is only '=' and empty.
			if k == "" || strings.Contains(from.Prefix+k, "=") {
				continue
			}
			env.set(from.Prefix+k, string(obj.Data[k]))
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expand(e.Value, env.lookup))
			continue
		}
		v, ok, err := envValueFrom(pod, c, e.ValueFrom, podIP, node, configs)
		if err != nil {
			return nil, fmt.Errorf("container %s: env %s: %w", c.Name, e.Name, err)
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	out := make([]string, 0, len(env.names))
	for _, n := range env.names {
		out = append(out, n+"="+env.vals[n])
	}
	return out, nil
}

// envValueFrom resolves one valueFrom; ok is false for an optional
// reference that is missing (the variable is then not set).
func envValueFrom(pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, podIP, node string, configs ConfigSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(pod, src.FieldRef.FieldPath, podIP, node)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		target := c
		if n := src.ResourceFieldRef.ContainerName; n != "" && n != c.Name {
			if target = findContainer(pod, n); target == nil {
				return "", false, fmt.Errorf("resourceFieldRef: no container %q", n)
			}
		}
		v, err := resourceValue(src.ResourceFieldRef, target)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		return keyValue(configs, pod.Namespace, api.KindConfigMap, src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, src.ConfigMapKeyRef.Optional)
	case src.SecretKeyRef != nil:
		return keyValue(configs, pod.Namespace, api.KindSecret, src.SecretKeyRef.Name, src.SecretKeyRef.Key, src.SecretKeyRef.Optional)
	}
	return "", false, errors.New("valueFrom: only fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef are supported")
}

func keyValue(configs ConfigSource, ns, kind, name, key string, optional *bool) (string, bool, error) {
	opt := optional != nil && *optional
	obj, err := lookupConfig(configs, ns, kind, name)
	if errors.Is(err, ErrConfigNotFound) && opt {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	v, ok := obj.Data[key]
	if !ok {
		if opt {
			return "", false, nil
		}
		return "", false, configErrorf("couldn't find key %s in %s %s/%s", key, kind, ns, name)
	}
	return string(v), true, nil
}

// lookupConfig asks the source, turning a miss into a configError with the
// kubelet's wording (`configmap "app" not found`).
func lookupConfig(configs ConfigSource, ns, kind, name string) (*api.BoundConfig, error) {
	if configs == nil {
		return nil, &configError{notFound(kind, name)}
	}
	obj, err := configs.Lookup(ns, kind, name)
	if errors.Is(err, ErrConfigNotFound) {
		return nil, &configError{notFound(kind, name)}
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", strings.ToLower(kind), ns, name, err)
	}
	return obj, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}
