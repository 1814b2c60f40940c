package nodeagent

import (
	"errors"
	"fmt"
)

// ErrClaimInUse is returned by DeleteClaim while a pod this agent holds
// still names the claim: its data stays until that pod is gone.
var ErrClaimInUse = errors.New("claim in use by a pod on this node")

// DeleteClaim removes a PersistentVolumeClaim's directory and data from
// --storage-dir, as the server asks once the claim is gone under
// reclaimPolicy Delete. It refuses while any pod the agent holds (running
// or being torn down) names the claim. A claim that is not there, or an
// agent without --storage-dir, has nothing to remove.
func (a *Agent) DeleteClaim(namespace, name string) error {
	a.mu.Lock()
	for _, w := range a.workers {
		w.mu.Lock()
		pod := w.pod
		w.mu.Unlock()
		if pod == nil || pod.Namespace != namespace {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				a.mu.Unlock()
				return fmt.Errorf("delete claim %s/%s: %w (%s)", namespace, name, ErrClaimInUse, pod.Name)
			}
		}
	}
	a.mu.Unlock()
	if a.storage == nil {
		return nil
	}
	return a.storage.Delete(namespace, name)
}
