package reconciler

import (
	"fmt"
	"sync"
)

// credentialIndex maps the hash of each node credential to its node, so
// a presented token is looked up by its hash instead of compared with
// every node record. Membership is the only writer of credentials: it
// loads the index from the store once and keeps it in step on register
// and delete.
type credentialIndex struct {
	mu     sync.RWMutex
	byHash map[string]string // credential hash → node
	byNode map[string]string // node → credential hash
}

func (c *credentialIndex) load(store Store) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash, c.byNode = map[string]string{}, map[string]string{}
	err := store.View(func(tx ReadTx) error {
		nodes, err := tx.Nodes()
		for _, n := range nodes {
			if n.CredentialHash != "" {
				c.byHash[n.CredentialHash], c.byNode[n.Name] = n.Name, n.CredentialHash
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("load node credentials: %w", err)
	}
	return nil
}

// set records hash as node's credential, forgetting its previous one;
// "" forgets the node.
func (c *credentialIndex) set(node, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byNode[node]; ok {
		delete(c.byHash, old)
		delete(c.byNode, node)
	}
	if hash != "" {
		c.byHash[hash], c.byNode[node] = node, hash
	}
}

// node returns the node whose credential hashes to hash.
func (c *credentialIndex) node(hash string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.byHash[hash]
	return n, ok
}
