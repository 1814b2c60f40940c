package reconciler

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the shape of the records this build writes. Raise it
// with every change a store written by the previous build cannot be read
// as (a renamed field, a split record, a new key layout), and append the
// migration that rewrites the old shape to boltMigrations.
const SchemaVersion = 1

// ErrStoreTooNew is returned by OpenBolt for a store a newer berth wrote:
// this build cannot know what its records mean.
var ErrStoreTooNew = errors.New("store written by a newer berth")

var keySchema = []byte("schema")

// A boltMigration rewrites a store of schema From to From+1, inside the
// one transaction that also records the new schema version, so a crash
// leaves the store either before or after it.
type boltMigration struct {
	From int
	// What is said in the error when it fails.
	What  string
	Apply func(tx *bolt.Tx) error
}

// boltMigrations bring a store forward one schema at a time; entry i
// migrates from schema i.
var boltMigrations = []boltMigration{
	// Stores from before schema versions have the records of schema 1;
	// migrating only stamps the version.
	{From: 0, What: "stamp the schema version", Apply: func(*bolt.Tx) error { return nil }},
}

// migrateBolt brings the store in tx to schema current with migrations,
// creating the buckets first. A fresh file (no meta bucket) is stamped
// current without migrating. It returns the schema the store had.
func migrateBolt(tx *bolt.Tx, migrations []boltMigration, current int) (int, error) {
	fresh := tx.Bucket(bucketMeta) == nil
	for _, b := range boltBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return 0, err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if fresh {
		return current, boltPutUint(meta, keySchema, uint64(current))
	}
	had := int(boltUint(meta, keySchema))
	if had > current {
		return had, fmt.Errorf("%w: its schema version is %d, this berth knows schema versions up to %d; run the newer berth again, or start this one with --restore from a backup this version made",
			ErrStoreTooNew, had, current)
	}
	for v := had; v < current; v++ {
		if v >= len(migrations) || migrations[v].From != v {
			return had, fmt.Errorf("no migration from schema version %d", v)
		}
		if err := migrations[v].Apply(tx); err != nil {
			return had, fmt.Errorf("migrate schema %d to %d (%s): %w", v, v+1, migrations[v].What, err)
		}
	}
	if had != current {
		if err := boltPutUint(meta, keySchema, uint64(current)); err != nil {
			return had, err
		}
	}
	return had, nil
}

// Schema returns the schema version the store had when it was opened,
// before migrating (SchemaVersion for a new store).
func (s *BoltStore) Schema() (before, now int) { return s.schemaBefore, SchemaVersion }

// Backup writes a consistent copy of the whole store to w while it keeps
// serving (one read transaction: bbolt's Tx.WriteTo), and returns its
// size. sized, if not nil, is told the size first, from the same
// transaction (for a Content-Length). The copy is a bbolt file OpenBolt
// and RestoreBolt accept.
func (s *BoltStore) Backup(w io.Writer, sized func(int64)) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if sized != nil {
			sized(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return n, ErrClosed
		}
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// CheckBackup opens the bbolt file at path read-only and returns its
// schema version, refusing a file that is not a berth store or that a
// newer berth wrote.
func CheckBackup(path string) (int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("backup %s: not a berth store: %w", path, err)
	}
	defer db.Close()
	var schema int
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("backup %s: not a berth store (no %q bucket)", path, bucketMeta)
		}
		schema = int(boltUint(meta, keySchema))
		if schema > SchemaVersion {
			return fmt.Errorf("backup %s: %w: its schema version is %d, this berth knows up to %d", path, ErrStoreTooNew, schema, SchemaVersion)
		}
		return nil
	})
	return schema, err
}

// RestoreBolt puts the backup at path in place of the store at dst (which
// must not be open), after checking it. An existing store is kept beside
// it as dst.before-restore-TIME and that name returned. The server then
// opens it as usual, migrating it forward if an older berth made it.
func RestoreBolt(backup, dst string, now time.Time) (kept string, err error) {
	if _, err := CheckBackup(backup); err != nil {
		return "", err
	}
	in, err := os.Open(backup)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*.db")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return "", fmt.Errorf("restore: copy %s: %w", backup, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		kept = dst + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(dst, kept); err != nil {
			return "", fmt.Errorf("restore: keep the old store: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return kept, fmt.Errorf("restore: %w", err)
	}
	return kept, nil
}
