package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// ConfigFeed hands the ConfigMaps and Secrets of the admitted revision to
// AgentPods. They are never written to the store (Secrets would lie there
// in clear): the loop publishes each admitted revision's set here, stamped
// with the store version from which on agents see it, so the content of a
// node's list at a store version never changes meaning.
//
// The stamp is the version of the transaction that records the admission
// (writeSync publishes inside it, before it commits), so no list at that
// version can have been built before. The first set after a start, when
// no write carries it (a resumed revision), is stamped with the current
// version: until then a node whose pods use a config got no list at all
// (ErrConfigsUnknown), so nothing changes under a version an agent holds.
type ConfigFeed struct {
	mu        sync.Mutex
	cur, prev *configSet
}

// NewConfigFeed returns an empty feed: no revision admitted yet.
func NewConfigFeed() *ConfigFeed { return &ConfigFeed{} }

// configSet is one admitted revision's configs by BoundConfig.Key.
type configSet struct {
	from  *desiredIndex // the revision they came from
	stamp uint64        // lists at store versions >= stamp use this set
	byKey map[string]*api.BoundConfig
}

// newConfigSet collects the revision's ConfigMaps and Secrets as agents
// get them. A Secret still encrypted (no age identity) is left out: its
// values are unknown, and gitsource refuses such a revision anyway.
func newConfigSet(idx *desiredIndex, stamp uint64) *configSet {
	set := &configSet{from: idx, stamp: stamp, byKey: map[string]*api.BoundConfig{}}
	for i := range idx.Objects {
		o := &idx.Objects[i]
		var c *api.BoundConfig
		switch {
		case o.ConfigMap != nil:
			c = &api.BoundConfig{Kind: api.KindConfigMap, Namespace: o.Namespace, Name: o.Name, Data: map[string][]byte{}}
			for k, v := range o.ConfigMap.Data {
				c.Data[k] = []byte(v)
			}
			for k, v := range o.ConfigMap.BinaryData {
				c.Data[k] = v
			}
		case o.Secret != nil && (!o.Secret.Encrypted || o.Secret.Decrypted):
			c = &api.BoundConfig{Kind: api.KindSecret, Namespace: o.Namespace, Name: o.Name, Data: map[string][]byte(o.Secret.Data)}
		default:
			continue
		}
		c.ResourceVersion = configVersion(c)
		set.byKey[c.Key()] = c
	}
	return set
}

// configVersion is a digest of a config's identity and data: it changes
// exactly when the data does. It goes only to the node that gets the data.
func configVersion(c *api.BoundConfig) string {
	h := sha256.New()
	h.Write([]byte(c.Key()))
	keys := make([]string, 0, len(c.Data))
	for k := range c.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// Length-prefixed, so no two different maps hash alike.
		v := c.Data[k]
		h.Write([]byte{0, byte(len(k) >> 8), byte(len(k))})
		h.Write([]byte(k))
		n := len(v)
		h.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		h.Write(v)
	}
	return hex.EncodeToString(h.Sum(nil)[:10])
}

// at returns the set lists at store version v use, nil before any.
func (f *ConfigFeed) at(v uint64) *configSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.cur != nil && f.cur.stamp <= v:
		return f.cur
	case f.prev != nil && f.prev.stamp <= v:
		return f.prev
	}
	return nil
}

// pending reports whether idx is not the newest published revision, and
// whether any revision was published yet.
func (f *ConfigFeed) pending(idx *desiredIndex) (pending, first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx == nil {
		return false, f.cur == nil
	}
	return f.cur == nil || f.cur.from != idx, f.cur == nil
}

// settleFirst lowers the stamp of the first set since the start to v when
// the store has not reached it.
func (f *ConfigFeed) settleFirst(v uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil && f.prev == nil && f.cur.stamp > v {
		f.cur.stamp = v
	}
}

func (f *ConfigFeed) publish(idx *desiredIndex, stamp uint64) {
	set := newConfigSet(idx, stamp)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prev, f.cur = f.cur, set
}

// ErrConfigsUnknown answers the watch of a node whose pods use a
// ConfigMap or Secret while no revision has been admitted since the server
// started: the agent keeps what it has and asks again.
var ErrConfigsUnknown = &api.Error{Code: http.StatusServiceUnavailable, Reason: "ServiceUnavailable",
	Message: "the ConfigMaps and Secrets of this node's pods are not known yet (no revision admitted since the server started)"}

// podConfigRefs lists the BoundConfig keys a pod uses: env valueFrom,
// envFrom, configMap/secret volumes and projected sources, init
// containers included. A reference to an object the revision does not
// hold (an optional one) is simply not found.
func podConfigRefs(ns string, spec *corev1.PodSpec) []string {
	seen := map[string]bool{}
	var out []string
	add := func(kind, name string) {
		k := api.BoundConfig{Kind: kind, Namespace: ns, Name: name}.Key()
		if name != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			for _, e := range list[i].Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add(api.KindConfigMap, r.Name)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add(api.KindSecret, r.Name)
				}
			}
			for _, ef := range list[i].EnvFrom {
				if r := ef.ConfigMapRef; r != nil {
					add(api.KindConfigMap, r.Name)
				}
				if r := ef.SecretRef; r != nil {
					add(api.KindSecret, r.Name)
				}
			}
		}
	}
	for _, v := range spec.Volumes {
		if c := v.ConfigMap; c != nil {
			add(api.KindConfigMap, c.Name)
		}
		if s := v.Secret; s != nil {
			add(api.KindSecret, s.SecretName)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if c := src.ConfigMap; c != nil {
					add(api.KindConfigMap, c.Name)
				}
				if s := src.Secret; s != nil {
					add(api.KindSecret, s.Name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
