package reconciler

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/serviceaddr"
	"maps"
	"reflect"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("store closed")

// MaxEvents bounds the events the bolt store keeps; the oldest go first.
const MaxEvents = 1000

// One bucket per record kind. Keys are "namespace/name" for namespaced
// records and the name for nodes; values are JSON.
var (
	bucketMeta         = []byte("meta")
	bucketPods         = []byte("pods")
	bucketNodes        = []byte("nodes")
	bucketDeployments  = []byte("deployments")
	bucketJobs         = []byte("jobs")
	bucketCronJobs     = []byte("cronjobs")
	bucketDaemonSets   = []byte("daemonsets")
	bucketStatefulSets = []byte("statefulsets")
	bucketClaims       = []byte("claims")
	// Events are keyed by a big-endian sequence number so a cursor walks
	// them oldest first; eventIndex maps kind/namespace/name/reason to the
	// sequence of the newest such event, for Count merging.
	bucketEvents     = []byte("events")
	bucketEventIndex = []byte("eventindex")

	keyVersion  = []byte("version")
	keyEventSeq = []byte("eventseq")
	keyEventN   = []byte("eventcount")
	keySync     = []byte("sync")
	keySvcAddrs = []byte("serviceaddresses")
)

var boltBuckets = [][]byte{bucketMeta, bucketPods, bucketNodes, bucketDeployments, bucketJobs, bucketCronJobs, bucketDaemonSets, bucketStatefulSets, bucketClaims, bucketEvents, bucketEventIndex}

// BoltStore is the embedded Store: one bbolt file in the server's data dir.
type BoltStore struct {
	db *bolt.DB

	schemaBefore int

	mu      sync.Mutex
	version uint64
	// changed is closed and replaced whenever version moves, waking every
	// WaitChange at once.
	changed chan struct{}
	closed  bool
	// log is the work keys (workqueue.go) of the versions after logBase,
	// one entry per version, for the loop's ChangedSince; bounded by
	// logKeysMax keys.
	log     [][]string
	logBase uint64
	logKeys int
}

// logKeysMax bounds the change log: a pass that finds the log trimmed
// past the version it last read syncs everything.
const logKeysMax = 100_000

var _ Store = (*BoltStore)(nil)

// OpenBolt opens (or creates) the store at path. The version counter is
// kept in the file, so it never goes back across restarts and a resource
// version an agent holds stays meaningful. A store of an older schema is
// migrated forward first; one of a newer schema is refused with
// ErrStoreTooNew.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return openBolt(db, path, boltMigrations, SchemaVersion)
}

// openBolt migrates db to schema current and wraps it; db is closed on
// error.
func openBolt(db *bolt.DB, path string, migrations []boltMigration, current int) (*BoltStore, error) {
	var version uint64
	var before int
	err := db.Update(func(tx *bolt.Tx) error {
		var err error
		if before, err = migrateBolt(tx, migrations, current); err != nil {
			return err
		}
		version = boltUint(tx.Bucket(bucketMeta), keyVersion)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &BoltStore{db: db, version: version, logBase: version, schemaBefore: before, changed: make(chan struct{})}, nil
}

// OpenStore opens (or creates) the embedded store at path, for callers
// that need only the Store interface.
func OpenStore(path string) (Store, error) {
	s, err := OpenBolt(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// View implements Store.
func (s *BoltStore) View(fn func(ReadTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return fn(&boltTx{tx: tx})
	})
}

// Update implements Store. The version is raised inside the transaction
// that wrote, and announced only after it committed, so a waiter never
// sees a version whose data it cannot read.
func (s *BoltStore) Update(fn func(Tx) error) error {
	defer s.observeWrite(time.Now())
	var newVersion uint64
	var keys map[string]struct{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := &boltTx{tx: tx, keys: map[string]struct{}{}}
		keys = t.keys
		if err := fn(t); err != nil {
			return err
		}
		if !t.wrote {
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		newVersion = boltUint(meta, keyVersion) + 1
		return boltPutUint(meta, keyVersion, newVersion)
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	if newVersion != 0 {
		s.mu.Lock()
		s.appendLog(newVersion, keys)
		if newVersion > s.version {
			s.version = newVersion
			close(s.changed)
			s.changed = make(chan struct{})
		}
		s.mu.Unlock()
	}
	return nil
}

// appendLog records the work keys of version v; s.mu is held. Two
// Updates commit in order but may get here in the other: the later one
// leaves a gap (nil) that the earlier one fills.
func (s *BoltStore) appendLog(v uint64, keys map[string]struct{}) {
	if v <= s.logBase {
		return // trimmed already
	}
	entry := make([]string, 0, len(keys)) // not nil: nil is a gap
	for k := range keys {
		entry = append(entry, k)
	}
	for uint64(len(s.log)) < v-s.logBase {
		s.log = append(s.log, nil)
	}
	s.log[v-s.logBase-1] = entry
	s.logKeys += len(entry)
	for s.logKeys > logKeysMax && len(s.log) > 0 {
		s.logKeys -= len(s.log[0])
		s.log[0] = nil
		s.log = s.log[1:]
		s.logBase++
	}
}

// ChangedSince implements changeLog (workqueue.go): the work keys the
// versions after since changed, deduplicated, up to the version before
// the first one still being announced.
func (s *BoltStore) ChangedSince(since uint64) (keys []string, version uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if since < s.logBase || since > s.version {
		return nil, s.version, false
	}
	seen := map[string]struct{}{}
	version = since
	for _, entry := range s.log[since-s.logBase : s.version-s.logBase] {
		if entry == nil {
			break
		}
		version++
		for _, k := range entry {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				keys = append(keys, k)
			}
		}
	}
	return keys, version, true
}

// Version returns the version of the newest committed Update.
func (s *BoltStore) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// WaitChange implements Store.
func (s *BoltStore) WaitChange(ctx context.Context, since uint64) (uint64, error) {
	for {
		s.mu.Lock()
		v, ch, closed := s.version, s.changed, s.closed
		s.mu.Unlock()
		if v > since {
			return v, nil
		}
		if closed {
			return v, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}

// Close implements Store; waiters are woken and boltGet ErrClosed.
func (s *BoltStore) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	return s.db.Close()
}

// boltTx serves both ReadTx (in View) and Tx (in Update); bbolt itself
// refuses writes in a read-only transaction.
type boltTx struct {
	tx    *bolt.Tx
	wrote bool
	// keys collects the work keys of what an Update changed (not of
	// telemetry), for the change log.
	keys map[string]struct{}
}

// noteChange adds the work keys of a changed record to the transaction's.
func (t *boltTx) noteChange(rec any) {
	if t.keys == nil {
		return
	}
	for _, k := range workKeysOf(rec) {
		t.keys[k] = struct{}{}
	}
}

func boltKey(namespace, name string) []byte { return []byte(namespace + "/" + name) }

func (t *boltTx) Version() uint64 { return boltUint(t.tx.Bucket(bucketMeta), keyVersion) }

func boltGet[T any](t *boltTx, bucket, key []byte) (*T, error) {
	v := t.tx.Bucket(bucket).Get(key)
	if v == nil {
		return nil, fmt.Errorf("%s %s: %w", bucket, key, ErrNotFound)
	}
	rec := new(T)
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", bucket, key, err)
	}
	return rec, nil
}

func boltList[T any](t *boltTx, bucket []byte) ([]*T, error) {
	b := t.tx.Bucket(bucket)
	var out []*T
	err := b.ForEach(func(k, v []byte) error {
		rec := new(T)
		if err := json.Unmarshal(v, rec); err != nil {
			return fmt.Errorf("decode %s %s: %w", bucket, k, err)
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// put writes rec unless the stored bytes are already equal, so writing a
// record back unchanged does not raise the version and wake every watcher.
func (t *boltTx) put(bucket, key []byte, rec any) error {
	wrote, err := t.write(bucket, key, rec)
	t.wrote = t.wrote || wrote
	if wrote {
		t.noteChange(rec)
	}
	return err
}

// putTelemetry writes rec without raising the version: a change nothing
// waits for (a heartbeat, a fetch time) must not wake the loop and every
// agent's watch. Readers see it at their next read.
func (t *boltTx) putTelemetry(bucket, key []byte, rec any) error {
	_, err := t.write(bucket, key, rec)
	return err
}

// write stores rec under key and reports whether the bytes changed.
func (t *boltTx) write(bucket, key []byte, rec any) (bool, error) {
	if len(key) == 0 || bytes.HasPrefix(key, []byte("/")) || bytes.HasSuffix(key, []byte("/")) {
		return false, fmt.Errorf("put %s: empty name in key %q", bucket, key)
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("encode %s %s: %w", bucket, key, err)
	}
	b := t.tx.Bucket(bucket)
	if bytes.Equal(b.Get(key), v) {
		return false, nil
	}
	if err := b.Put(key, v); err != nil {
		return false, fmt.Errorf("put %s %s: %w", bucket, key, err)
	}
	return true, nil
}

// del removes key; removing a missing record is not an error (deletes are
// idempotent, so a loop that runs twice does no harm) and writes nothing.
func (t *boltTx) del(bucket, key []byte) error {
	b := t.tx.Bucket(bucket)
	old := b.Get(key)
	if old == nil {
		return nil
	}
	if t.keys != nil {
		// The work keys are in the record (a pod's owner, a Job's
		// CronJob): read them before it goes.
		if rec := deletedRecord(bucket, old); rec != nil {
			t.noteChange(rec)
		}
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("delete %s %s: %w", bucket, key, err)
	}
	t.wrote = true
	return nil
}

// deletedRecord decodes what workKeysOf needs of a record about to be
// deleted; nil for buckets whose records concern no work key.
func deletedRecord(bucket, data []byte) any {
	var rec any
	switch string(bucket) {
	case string(bucketPods):
		rec = new(PodRecord)
	case string(bucketJobs):
		rec = new(JobRecord)
	case string(bucketDeployments):
		rec = new(DeploymentRecord)
	case string(bucketCronJobs):
		rec = new(CronJobRecord)
	case string(bucketDaemonSets):
		rec = new(DaemonSetRecord)
	case string(bucketNodes):
		rec = new(NodeRecord)
	case string(bucketStatefulSets):
		rec = new(StatefulSetRecord)
	case string(bucketClaims):
		rec = new(ClaimRecord)
	default:
		return nil
	}
	if err := json.Unmarshal(data, rec); err != nil {
		// Undecodable: the key alone cannot say whose it was, so the
		// next pass syncs everything.
		return unattributed{}
	}
	return rec
}

func (t *boltTx) Pod(namespace, name string) (*PodRecord, error) {
	return boltGet[PodRecord](t, bucketPods, boltKey(namespace, name))
}
func (t *boltTx) Pods() ([]*PodRecord, error) { return boltList[PodRecord](t, bucketPods) }
func (t *boltTx) Node(name string) (*NodeRecord, error) {
	return boltGet[NodeRecord](t, bucketNodes, []byte(name))
}
func (t *boltTx) Nodes() ([]*NodeRecord, error) { return boltList[NodeRecord](t, bucketNodes) }
func (t *boltTx) Deployment(namespace, name string) (*DeploymentRecord, error) {
	return boltGet[DeploymentRecord](t, bucketDeployments, boltKey(namespace, name))
}
func (t *boltTx) Deployments() ([]*DeploymentRecord, error) {
	return boltList[DeploymentRecord](t, bucketDeployments)
}
func (t *boltTx) Job(namespace, name string) (*JobRecord, error) {
	return boltGet[JobRecord](t, bucketJobs, boltKey(namespace, name))
}
func (t *boltTx) Jobs() ([]*JobRecord, error) { return boltList[JobRecord](t, bucketJobs) }
func (t *boltTx) CronJob(namespace, name string) (*CronJobRecord, error) {
	return boltGet[CronJobRecord](t, bucketCronJobs, boltKey(namespace, name))
}
func (t *boltTx) CronJobs() ([]*CronJobRecord, error) {
	return boltList[CronJobRecord](t, bucketCronJobs)
}

func (t *boltTx) Sync() (*SyncRecord, error) {
	rec, err := boltGet[SyncRecord](t, bucketMeta, keySync)
	if errors.Is(err, ErrNotFound) {
		return &SyncRecord{}, nil
	}
	return rec, err
}

func (t *boltTx) ServiceAddresses() (serviceaddr.Table, error) {
	rec, err := boltGet[serviceaddr.Table](t, bucketMeta, keySvcAddrs)
	if errors.Is(err, ErrNotFound) {
		return serviceaddr.Table{}, nil
	}
	if err != nil {
		return nil, err
	}
	return *rec, nil
}

// PutServiceAddresses stores the allocation; an equal one writes nothing.
func (t *boltTx) PutServiceAddresses(tab serviceaddr.Table) error {
	old, err := t.ServiceAddresses()
	if err != nil {
		return err
	}
	if jsonEqual(old, tab) {
		return nil
	}
	return t.put(bucketMeta, keySvcAddrs, tab)
}

func (t *boltTx) Events(limit int) ([]api.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	c := t.tx.Bucket(bucketEvents).Cursor()
	var rev []api.Event
	for k, v := c.Last(); k != nil && len(rev) < limit; k, v = c.Prev() {
		var e api.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("decode event %x: %w", k, err)
		}
		rev = append(rev, e)
	}
	out := make([]api.Event, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out, nil
}

func (t *boltTx) PutPod(p *PodRecord) error {
	return t.put(bucketPods, boltKey(p.Pod.Namespace, p.Pod.Name), p)
}
func (t *boltTx) DeletePod(namespace, name string) error {
	return t.del(bucketPods, boltKey(namespace, name))
}

// PutNode keeps the Generation rule of the Tx contract: the caller's
// Generation is ignored; the store raises the stored one when a fact the
// scheduler reads changes.
func (t *boltTx) PutNode(n *NodeRecord) error {
	rec := *n
	old, err := t.Node(n.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		rec.Generation = 1
	case err != nil:
		return err
	case schedulingFactsEqual(old, n):
		rec.Generation = old.Generation
	default:
		rec.Generation = old.Generation + 1
	}
	put := t.put
	if err == nil && onlyHeartbeatMoved(old, &rec) {
		put = t.putTelemetry
	}
	if err := put(bucketNodes, []byte(n.Name), &rec); err != nil {
		return err
	}
	n.Generation = rec.Generation
	return nil
}

// onlyHeartbeatMoved reports whether rec differs from old in LastHeartbeat
// alone: telemetry, which nothing waits for.
func onlyHeartbeatMoved(old, rec *NodeRecord) bool {
	o := *old
	o.LastHeartbeat = rec.LastHeartbeat
	return jsonEqual(&o, rec)
}

func schedulingFactsEqual(a, b *NodeRecord) bool {
	return a.Ready == b.Ready && a.Unschedulable == b.Unschedulable &&
		maps.Equal(a.Labels, b.Labels) &&
		reflect.DeepEqual(taintsOrNil(a), taintsOrNil(b)) &&
		resourceListsEqual(a.Allocatable, b.Allocatable)
}

func taintsOrNil(n *NodeRecord) any {
	if len(n.Taints) == 0 {
		return nil
	}
	return n.Taints
}

func (t *boltTx) DeleteNode(name string) error { return t.del(bucketNodes, []byte(name)) }
func (t *boltTx) PutDeployment(d *DeploymentRecord) error {
	return t.put(bucketDeployments, boltKey(d.Namespace, d.Name), d)
}
func (t *boltTx) DeleteDeployment(namespace, name string) error {
	return t.del(bucketDeployments, boltKey(namespace, name))
}
func (t *boltTx) PutJob(j *JobRecord) error {
	return t.put(bucketJobs, boltKey(j.Job.Namespace, j.Job.Name), j)
}
func (t *boltTx) DeleteJob(namespace, name string) error {
	return t.del(bucketJobs, boltKey(namespace, name))
}
func (t *boltTx) DaemonSet(namespace, name string) (*DaemonSetRecord, error) {
	return boltGet[DaemonSetRecord](t, bucketDaemonSets, boltKey(namespace, name))
}
func (t *boltTx) DaemonSets() ([]*DaemonSetRecord, error) {
	return boltList[DaemonSetRecord](t, bucketDaemonSets)
}
func (t *boltTx) PutDaemonSet(d *DaemonSetRecord) error {
	return t.put(bucketDaemonSets, boltKey(d.Namespace, d.Name), d)
}
func (t *boltTx) DeleteDaemonSet(namespace, name string) error {
	return t.del(bucketDaemonSets, boltKey(namespace, name))
}
func (t *boltTx) StatefulSet(namespace, name string) (*StatefulSetRecord, error) {
	return boltGet[StatefulSetRecord](t, bucketStatefulSets, boltKey(namespace, name))
}
func (t *boltTx) StatefulSets() ([]*StatefulSetRecord, error) {
	return boltList[StatefulSetRecord](t, bucketStatefulSets)
}
func (t *boltTx) PutStatefulSet(s *StatefulSetRecord) error {
	return t.put(bucketStatefulSets, boltKey(s.Namespace, s.Name), s)
}
func (t *boltTx) DeleteStatefulSet(namespace, name string) error {
	return t.del(bucketStatefulSets, boltKey(namespace, name))
}
func (t *boltTx) Claim(namespace, name string) (*ClaimRecord, error) {
	return boltGet[ClaimRecord](t, bucketClaims, boltKey(namespace, name))
}
func (t *boltTx) Claims() ([]*ClaimRecord, error) {
	return boltList[ClaimRecord](t, bucketClaims)
}
func (t *boltTx) PutClaim(c *ClaimRecord) error {
	return t.put(bucketClaims, boltKey(c.Claim.Namespace, c.Claim.Name), c)
}
func (t *boltTx) DeleteClaim(namespace, name string) error {
	return t.del(bucketClaims, boltKey(namespace, name))
}
func (t *boltTx) PutCronJob(c *CronJobRecord) error {
	return t.put(bucketCronJobs, boltKey(c.Namespace, c.Name), c)
}
func (t *boltTx) DeleteCronJob(namespace, name string) error {
	return t.del(bucketCronJobs, boltKey(namespace, name))
}

// PutSync stores the sync record; a change of the fetch times alone is
// telemetry and does not raise the version.
func (t *boltTx) PutSync(s *SyncRecord) error {
	old, err := t.Sync()
	if err != nil {
		return err
	}
	o := *old
	o.Status.LastFetch, o.Status.LastFetchSuccess = s.Status.LastFetch, s.Status.LastFetchSuccess
	if jsonEqual(&o, s) {
		return t.putTelemetry(bucketMeta, keySync, s)
	}
	return t.put(bucketMeta, keySync, s)
}

// AddEvent implements Tx. A repeat (same object, reason, type and message
// as the newest event of that object and reason) is moved to the end with
// its Count raised and its Time updated, as kubectl's "x5 over 2m" shows.
func (t *boltTx) AddEvent(e api.Event) error {
	boundEvent(&e)
	if e.Count <= 0 {
		e.Count = 1
	}
	events := t.tx.Bucket(bucketEvents)
	index := t.tx.Bucket(bucketEventIndex)
	meta := t.tx.Bucket(bucketMeta)
	ikey := boltEventKey(e)
	n := boltUint(meta, keyEventN)
	if seq := index.Get(ikey); seq != nil {
		if v := events.Get(seq); v != nil {
			var prev api.Event
			if err := json.Unmarshal(v, &prev); err == nil && prev.Type == e.Type && prev.Message == e.Message {
				e.Count += prev.Count
				if err := events.Delete(seq); err != nil {
					return fmt.Errorf("merge event: %w", err)
				}
				n--
			}
		}
	}
	seq := boltUint(meta, keyEventSeq) + 1
	if err := boltPutUint(meta, keyEventSeq, seq); err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(nil, seq)
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := events.Put(key, v); err != nil {
		return fmt.Errorf("put event: %w", err)
	}
	if err := index.Put(ikey, key); err != nil {
		return fmt.Errorf("index event: %w", err)
	}
	t.wrote = true
	n++
	for ; n > MaxEvents; n-- {
		c := events.Cursor()
		k, v := c.First()
		if k == nil {
			break
		}
		var old api.Event
		if err := json.Unmarshal(v, &old); err == nil {
			okey := boltEventKey(old)
			if bytes.Equal(index.Get(okey), k) {
				if err := index.Delete(okey); err != nil {
					return fmt.Errorf("trim event index: %w", err)
				}
			}
		}
		if err := c.Delete(); err != nil {
			return fmt.Errorf("trim events: %w", err)
		}
	}
	return boltPutUint(meta, keyEventN, n)
}

func boltEventKey(e api.Event) []byte {
	return []byte(e.Kind + "/" + e.Namespace + "/" + e.Name + "/" + e.Reason)
}

func resourceListsEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		r, ok := b[k]
		if !ok || q.Cmp(r) != 0 {
			return false
		}
	}
	return true
}

func boltUint(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func boltPutUint(b *bolt.Bucket, key []byte, v uint64) error {
	return b.Put(key, binary.BigEndian.AppendUint64(nil, v))
}

// rawPods is the fast path AgentPods takes (rawPodLister): the stored
// bytes of every pod record.
func (t *boltTx) rawPods(fn func(key, value []byte) error) error {
	return t.tx.Bucket(bucketPods).ForEach(fn)
}
