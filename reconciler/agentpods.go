package reconciler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/api"
)

// AgentPods is what each node's agent is told to run: the bound pods of
// the node, metadata and spec without status, as one list whose
// resourceVersion changes only when that node's list does. All watches
// share one index per store version, so a change is read once, not once
// per node.
type AgentPods struct {
	store   Store
	configs *ConfigFeed // nil: lists carry no configs
	mu      sync.Mutex
	idx     *agentPodIndex
	// waiting holds a channel per node with a watch waiting; the pump
	// closes a node's channel only when that node's list changed, so a
	// store change wakes the watches it concerns, not every agent's.
	waiting map[string]chan struct{}
	pumping bool
}

// NewAgentPods returns the agents' pod lists over store, without configs.
func NewAgentPods(store Store) *AgentPods { return &AgentPods{store: store} }

// NewAgentPodsWithConfigs returns the agents' pod lists over store, each
// carrying the ConfigMaps and Secrets its pods use, from configs.
func NewAgentPodsWithConfigs(store Store, configs *ConfigFeed) *AgentPods {
	return &AgentPods{store: store, configs: configs}
}

// NodePods returns the node's pod list and the store version it was read
// at; WaitNodeChange with the list's resourceVersion waits for the next
// change of that list.
func (a *AgentPods) NodePods(node string) (*api.PodList, uint64, error) {
	idx, err := a.podIndex()
	if err != nil {
		return nil, 0, err
	}
	if idx.unknown[node] {
		return nil, 0, ErrConfigsUnknown
	}
	return idx.list(node), idx.version, nil
}

// WaitNodeChange blocks until the node's list has a resourceVersion other
// than rv, or ctx ends. Store changes that leave the node's list as it was
// do not wake it.
func (a *AgentPods) WaitNodeChange(ctx context.Context, node string, rv uint64) error {
	if _, err := a.podIndex(); err != nil {
		return err
	}
	a.mu.Lock()
	if a.idx.list(node).ResourceVersion != rv {
		a.mu.Unlock()
		return nil
	}
	if !a.pumping {
		a.pumping = true
		go a.pump(a.idx)
	}
	if a.waiting == nil {
		a.waiting = map[string]chan struct{}{}
	}
	ch := a.waiting[node]
	if ch == nil {
		ch = make(chan struct{})
		a.waiting[node] = ch
	}
	a.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pump rebuilds the index once per store change and wakes the watches of
// the nodes whose list changed since the index it last compared, until
// the store closes (then it wakes every watch, whose next read fails).
func (a *AgentPods) pump(last *agentPodIndex) {
	for {
		_, werr := a.store.WaitChange(context.Background(), last.version)
		idx, err := a.podIndex()
		a.mu.Lock()
		for node, ch := range a.waiting {
			if werr != nil || err != nil || idx.list(node).ResourceVersion != last.list(node).ResourceVersion {
				close(ch)
				delete(a.waiting, node)
			}
		}
		if werr != nil {
			a.pumping = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		if err == nil {
			last = idx
		}
	}
}

// agentPodIndex is the pods of every node at one store version, shared by all
// watches woken by that version so each change is read once, not once
// per node.
type agentPodIndex struct {
	version uint64
	configs *configSet // the set the lists were built with
	nodes   map[string]*agentPodList
	// unknown are the nodes whose pods use configs while no set is
	// published: they get ErrConfigsUnknown rather than a list.
	unknown map[string]bool
	// pods are the bound pods by store key, kept to rebuild the next
	// index without decoding the records that did not change.
	pods map[string]*indexedPod
}

// agentPodList is one node's list. rv is the store version at which the list
// last changed, so a watch's resourceVersion names a list content exactly:
// the version counter is persisted and only rises, so the content at a
// version never changes meaning, even across server restarts.
type agentPodList struct {
	rv      uint64
	hash    [32]byte
	items   []corev1.Pod
	configs []api.BoundConfig
	claims  []api.ClaimRef // claims whose data the node is to delete
}

// indexedPod is one bound pod as agents get it: metadata and spec, no
// status, so a status report does not wake the watch of the node that
// sent it.
type indexedPod struct {
	raw  []byte // the stored record, when the store offers it
	key  string
	node string
	pod  corev1.Pod
	hash [32]byte // of the pod as sent
	refs []string // BoundConfig keys the pod uses
}

// rawPodLister is an optional fast path of a store: the stored bytes of
// every pod record, so the index decodes only records that changed.
type rawPodLister interface {
	rawPods(fn func(key, value []byte) error) error
}

func newIndexedPod(key string, raw []byte, rec *PodRecord) (*indexedPod, error) {
	ip := &indexedPod{key: key, node: rec.Pod.Spec.NodeName, pod: corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: rec.Pod.ObjectMeta,
		Spec:       rec.Pod.Spec,
	}}
	if rec.Draining {
		// Not stopped yet: the nodes have not all confirmed its leaving
		// the endpoints (the rollout gate).
		ip.pod.DeletionTimestamp = nil
	}
	if raw != nil {
		ip.raw = bytes.Clone(raw)
	}
	b, err := json.Marshal(&ip.pod)
	if err != nil {
		return nil, err
	}
	ip.hash = sha256.Sum256(b)
	ip.refs = podConfigRefs(ip.pod.Namespace, &ip.pod.Spec)
	return ip, nil
}

func (a *AgentPods) podIndex() (*agentPodIndex, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.idx
	if prev == nil {
		prev = &agentPodIndex{nodes: map[string]*agentPodList{}, pods: map[string]*indexedPod{}}
	}
	var idx *agentPodIndex
	err := a.store.View(func(tx ReadTx) error {
		v := tx.Version()
		var cs *configSet
		if a.configs != nil {
			cs = a.configs.at(v)
		}
		if a.idx != nil && a.idx.version == v && a.idx.configs == cs {
			idx = a.idx
			return nil
		}
		idx = &agentPodIndex{version: v, configs: cs, nodes: map[string]*agentPodList{}, unknown: map[string]bool{}, pods: map[string]*indexedPod{}}
		if raw, ok := tx.(rawPodLister); ok {
			err := raw.rawPods(func(k, val []byte) error {
				if p := prev.pods[string(k)]; p != nil && bytes.Equal(p.raw, val) {
					idx.pods[p.key] = p
					return nil
				}
				var rec PodRecord
				if err := json.Unmarshal(val, &rec); err != nil {
					return fmt.Errorf("decode pod %s: %w", k, err)
				}
				if rec.Pod.Spec.NodeName == "" {
					return nil
				}
				ip, err := newIndexedPod(string(k), val, &rec)
				if err == nil {
					idx.pods[ip.key] = ip
				}
				return err
			})
			if err != nil {
				return err
			}
		} else {
			recs, err := tx.Pods()
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if rec.Pod.Spec.NodeName == "" {
					continue
				}
				ip, err := newIndexedPod(rec.Pod.Namespace+"/"+rec.Pod.Name, nil, rec)
				if err != nil {
					return err
				}
				idx.pods[ip.key] = ip
			}
		}
		byNode := map[string][]*indexedPod{}
		// Every registered node gets a list, empty ones too, so the
		// watch of a node without pods has a stable version.
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			byNode[n.Name] = nil
		}
		for name := range prev.nodes {
			byNode[name] = nil
		}
		for _, ip := range idx.pods {
			byNode[ip.node] = append(byNode[ip.node], ip)
		}
		claimsOf, err := claimsToDelete(tx)
		if err != nil {
			return err
		}
		for name := range claimsOf {
			if _, ok := byNode[name]; !ok {
				byNode[name] = nil
			}
		}
		for name, pods := range byNode {
			sort.Slice(pods, func(i, j int) bool { return pods[i].key < pods[j].key })
			h := sha256.New()
			for _, p := range pods {
				h.Write(p.hash[:])
			}
			configs, known := a.nodeConfigs(cs, pods)
			if !known {
				idx.unknown[name] = true
				continue
			}
			for _, c := range configs {
				h.Write([]byte(c.Key() + "\x00" + c.ResourceVersion + "\x00"))
			}
			for _, c := range claimsOf[name] {
				h.Write([]byte("claim\x00" + c.Namespace + "/" + c.Name + "\x00" + c.UID + "\x00"))
			}
			np := &agentPodList{rv: v}
			copy(np.hash[:], h.Sum(nil))
			if old := prev.nodes[name]; old != nil && old.hash == np.hash {
				np.rv, np.items, np.configs, np.claims = old.rv, old.items, old.configs, old.claims
			} else {
				np.items = make([]corev1.Pod, len(pods))
				for i, p := range pods {
					np.items[i] = p.pod
				}
				np.configs = configs
				np.claims = claimsOf[name]
			}
			idx.nodes[name] = np
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.idx = idx
	return idx, nil
}

// list returns the node's pods; a node with none gets an empty list at
// the index's version.
func (idx *agentPodIndex) list(node string) *api.PodList {
	np := idx.nodes[node]
	if np == nil {
		return &api.PodList{ResourceVersion: idx.version, Items: []corev1.Pod{}}
	}
	return &api.PodList{ResourceVersion: np.rv, Items: np.items, Configs: np.configs, DeleteClaims: np.claims}
}

// nodeConfigs returns, sorted by key, the configs of set that the pods
// use, and no others: the node restriction rule. known is false when the
// pods use configs but no set is published yet. A reference set does not
// hold was optional (admission refuses the others) and is left out.
func (a *AgentPods) nodeConfigs(set *configSet, pods []*indexedPod) (configs []api.BoundConfig, known bool) {
	if a.configs == nil {
		return nil, true
	}
	seen := map[string]bool{}
	for _, p := range pods {
		for _, k := range p.refs {
			if seen[k] {
				continue
			}
			seen[k] = true
			if set == nil {
				return nil, false
			}
			if c := set.byKey[k]; c != nil {
				configs = append(configs, *c)
			}
		}
	}
	sort.Slice(configs, func(i, j int) bool { return configs[i].Key() < configs[j].Key() })
	return configs, true
}
