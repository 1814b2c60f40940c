package remote

import (
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/reconciler"
)

// claimAgent is fakeAgent keeping claims: DeleteClaim fails while the
// claim is busy, as nodeagent.Agent refuses while a pod names it.
type claimAgent struct {
	*fakeAgent
	mu      sync.Mutex
	busy    map[string]bool
	deleted []string
}

func (a *claimAgent) DeleteClaim(namespace, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy[namespace+"/"+name] {
		return errors.New("claim in use")
	}
	a.deleted = append(a.deleted, namespace+"/"+name)
	return nil
}

func (a *claimAgent) deletedClaims() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.deleted...)
}

func TestLinkRemovesTheDataOfDeletedClaims(t *testing.T) {
	s := newServer(t)
	l, clk := connect(t, s, "n1", nil)
	a := &claimAgent{fakeAgent: newFakeAgent(), busy: map[string]bool{"default/data-web-0": true}}
	run(t, l, a)
	now := metav1.NewTime(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	put := func(name, node string, deleting bool) {
		c := &reconciler.ClaimRecord{Claim: corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}, Node: node}
		if deleting {
			c.Claim.DeletionTimestamp = &now
		}
		if err := s.store.Update(func(tx reconciler.Tx) error { return tx.PutClaim(c) }); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(name string) *reconciler.ClaimRecord {
		var c *reconciler.ClaimRecord
		_ = s.store.View(func(tx reconciler.ReadTx) (err error) { c, err = tx.Claim("default", name); return err })
		return c
	}
	put("data-web-0", "n1", true)  // busy on the node at first
	put("data-web-1", "n1", false) // kept
	put("data-web-2", "n2", true)  // another node's
	eventually(t, clk, "a retry of the busy claim", func() bool { return claim("data-web-0") != nil && len(a.deletedClaims()) == 0 })
	a.mu.Lock()
	a.busy = nil
	a.mu.Unlock()
	eventually(t, clk, "data-web-0 forgotten by the server", func() bool { return claim("data-web-0") == nil })
	if got := a.deletedClaims(); len(got) == 0 || got[0] != "default/data-web-0" {
		t.Fatalf("agent deleted %v", got)
	}
	for _, c := range a.deletedClaims() {
		if c != "default/data-web-0" {
			t.Fatalf("agent deleted %s too", c)
		}
	}
	if claim("data-web-1") == nil || claim("data-web-2") == nil {
		t.Fatal("a claim not being deleted on this node was forgotten")
	}
}
