package reconciler

import (
	"errors"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/serviceaddr"
)

// errWouldWrite ends a read-only rehearsal of a pass at its first write.
var errWouldWrite = errors.New("the pass would write")

// rehearsalTx is a Tx over a read-only transaction, for running a pass
// first without a write transaction: a bbolt write costs a disk sync even
// when it writes nothing, and most passes change nothing. A put of a
// record equal to the stored one and a delete of a missing one are no-ops,
// as the store makes them; any other write ends the rehearsal with
// errWouldWrite, and the pass runs again in an Update.
type rehearsalTx struct {
	ReadTx
}

var _ Tx = rehearsalTx{}

// unchanged is nil when rec equals what get reads (stored as the same
// bytes), errWouldWrite otherwise.
func unchanged[T any](get func() (*T, error), rec *T) error {
	old, err := get()
	if errors.Is(err, ErrNotFound) {
		return errWouldWrite
	}
	if err != nil {
		return err
	}
	if !jsonEqual(old, rec) {
		return errWouldWrite
	}
	return nil
}

// absent is nil when get finds nothing, errWouldWrite when it finds a
// record to delete.
func absent[T any](get func() (*T, error)) error {
	_, err := get()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return errWouldWrite
}

func (t rehearsalTx) PutPod(p *PodRecord) error {
	return unchanged(func() (*PodRecord, error) { return t.Pod(p.Pod.Namespace, p.Pod.Name) }, p)
}
func (t rehearsalTx) DeletePod(ns, name string) error {
	return absent(func() (*PodRecord, error) { return t.Pod(ns, name) })
}
func (t rehearsalTx) PutNode(n *NodeRecord) error {
	return unchanged(func() (*NodeRecord, error) { return t.Node(n.Name) }, n)
}
func (t rehearsalTx) DeleteNode(name string) error {
	return absent(func() (*NodeRecord, error) { return t.Node(name) })
}
func (t rehearsalTx) PutDeployment(d *DeploymentRecord) error {
	return unchanged(func() (*DeploymentRecord, error) { return t.Deployment(d.Namespace, d.Name) }, d)
}
func (t rehearsalTx) DeleteDeployment(ns, name string) error {
	return absent(func() (*DeploymentRecord, error) { return t.Deployment(ns, name) })
}
func (t rehearsalTx) PutJob(j *JobRecord) error {
	return unchanged(func() (*JobRecord, error) { return t.Job(j.Job.Namespace, j.Job.Name) }, j)
}
func (t rehearsalTx) DeleteJob(ns, name string) error {
	return absent(func() (*JobRecord, error) { return t.Job(ns, name) })
}
func (t rehearsalTx) PutCronJob(c *CronJobRecord) error {
	return unchanged(func() (*CronJobRecord, error) { return t.CronJob(c.Namespace, c.Name) }, c)
}
func (t rehearsalTx) DeleteCronJob(ns, name string) error {
	return absent(func() (*CronJobRecord, error) { return t.CronJob(ns, name) })
}
func (t rehearsalTx) PutSync(s *SyncRecord) error { return unchanged(t.Sync, s) }

// AddEvent always writes (an equal event raises its Count).
func (t rehearsalTx) AddEvent(api.Event) error { return errWouldWrite }

func (t rehearsalTx) PutServiceAddresses(tab serviceaddr.Table) error {
	old, err := t.ServiceAddresses()
	if err != nil {
		return err
	}
	if !jsonEqual(old, tab) {
		return errWouldWrite
	}
	return nil
}
func (t rehearsalTx) PutDaemonSet(d *DaemonSetRecord) error {
	return unchanged(func() (*DaemonSetRecord, error) { return t.DaemonSet(d.Namespace, d.Name) }, d)
}
func (t rehearsalTx) DeleteDaemonSet(ns, name string) error {
	return absent(func() (*DaemonSetRecord, error) { return t.DaemonSet(ns, name) })
}
func (t rehearsalTx) PutStatefulSet(s *StatefulSetRecord) error {
	return unchanged(func() (*StatefulSetRecord, error) { return t.StatefulSet(s.Namespace, s.Name) }, s)
}
func (t rehearsalTx) DeleteStatefulSet(ns, name string) error {
	return absent(func() (*StatefulSetRecord, error) { return t.StatefulSet(ns, name) })
}
func (t rehearsalTx) PutClaim(c *ClaimRecord) error {
	return unchanged(func() (*ClaimRecord, error) { return t.Claim(c.Claim.Namespace, c.Claim.Name) }, c)
}
func (t rehearsalTx) DeleteClaim(ns, name string) error {
	return absent(func() (*ClaimRecord, error) { return t.Claim(ns, name) })
}
