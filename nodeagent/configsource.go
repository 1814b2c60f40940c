package nodeagent

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/berth-dev/berth/api"
)

// ConfigSource gives the agent the ConfigMaps and Secrets its pods use.
// The server's watch feeds one on a joined node; static pods and tests
// fill a ConfigStore themselves. Lookup returns an error wrapping
// ErrConfigNotFound when the object is unknown. The returned record is
// shared: callers must not change it.
type ConfigSource interface {
	Lookup(namespace, kind, name string) (*api.BoundConfig, error)
}

// ErrConfigNotFound marks a ConfigMap or Secret the source does not hold.
var ErrConfigNotFound = errors.New("not found")

// notFound is the kubelet's message for a missing object, e.g.
// `configmap "app" not found`.
func notFound(kind, name string) error {
	return fmt.Errorf("%s %q %w", strings.ToLower(kind), name, ErrConfigNotFound)
}

// ConfigStore is a ConfigSource held in memory and replaced whole or one
// object at a time. After a change, call Agent.ConfigsChanged so running
// pods' volumes are brought up to date at once rather than at the next
// resync.
type ConfigStore struct {
	mu   sync.RWMutex
	objs map[string]*api.BoundConfig
}

// NewConfigStore returns a store holding objs.
func NewConfigStore(objs ...api.BoundConfig) *ConfigStore {
	s := &ConfigStore{}
	s.Replace(objs)
	return s
}

// Replace sets the whole content of the store.
func (s *ConfigStore) Replace(objs []api.BoundConfig) {
	m := make(map[string]*api.BoundConfig, len(objs))
	for i := range objs {
		o := objs[i]
		m[o.Key()] = &o
	}
	s.mu.Lock()
	s.objs = m
	s.mu.Unlock()
}

// Set adds or replaces one object.
func (s *ConfigStore) Set(o api.BoundConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objs == nil {
		s.objs = map[string]*api.BoundConfig{}
	}
	s.objs[o.Key()] = &o
}

// Delete removes one object.
func (s *ConfigStore) Delete(namespace, kind, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, api.BoundConfig{Kind: kind, Namespace: namespace, Name: name}.Key())
}

// Lookup implements ConfigSource.
func (s *ConfigStore) Lookup(namespace, kind, name string) (*api.BoundConfig, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o, ok := s.objs[api.BoundConfig{Kind: kind, Namespace: namespace, Name: name}.Key()]; ok {
		return o, nil
	}
	return nil, notFound(kind, name)
}

// ConfigsChanged wakes every pod worker so volumes backed by ConfigMaps,
// Secrets and the downward API are rewritten now if their data changed.
// Env is not touched: it is resolved when a container starts, as in
// Kubernetes.
func (a *Agent) ConfigsChanged() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		w.poke()
	}
}
