package reconciler

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// setSchema rewrites the schema version of the closed store at path, as an
// older or newer berth would have left it.
func setSchema(t *testing.T, path string, schema int, del bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		if del {
			return tx.Bucket(bucketMeta).Delete(keySchema)
		}
		return boltPutUint(tx.Bucket(bucketMeta), keySchema, uint64(schema))
	}); err != nil {
		t.Fatal(err)
	}
}

func readSchema(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	_ = db.View(func(tx *bolt.Tx) error { v = int(boltUint(tx.Bucket(bucketMeta), keySchema)); return nil })
	return v
}

func storeWithPod(t *testing.T) string {
	t.Helper()
	s, path := openTestStore(t)
	if err := s.Update(func(tx Tx) error { return tx.PutPod(testPod("default", "web", "n1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBoltSchema(t *testing.T) {
	// A migration to an imagined schema 2 that renames the pod bucket's
	// records' owner kind, to show a real rewrite and its failure.
	rewrite := boltMigration{From: 1, What: "rename owner kind", Apply: func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPods)
		return b.ForEach(func(k, v []byte) error {
			return b.Put(k, bytes.Replace(v, []byte(`"kind":"Pod"`), []byte(`"kind":"BarePod"`), 1))
		})
	}}
	failing := boltMigration{From: 1, What: "always fails", Apply: func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketPods).Put([]byte("half/done"), []byte("{}")); err != nil {
			return err
		}
		return errors.New("disk on fire")
	}}
	tests := []struct {
		name       string
		fresh      bool
		prepare    func(t *testing.T, path string)
		migrations []boltMigration
		current    int
		wantErr    string
		wantBefore int
		wantSchema int
		wantKind   string
	}{
		{name: "new store is stamped current", fresh: true, current: SchemaVersion,
			wantBefore: SchemaVersion, wantSchema: SchemaVersion},
		{name: "store from before schema versions is migrated", prepare: func(t *testing.T, path string) { setSchema(t, path, 0, true) },
			current: SchemaVersion, wantBefore: 0, wantSchema: SchemaVersion, wantKind: "Pod"},
		{name: "store of a newer berth is refused", prepare: func(t *testing.T, path string) { setSchema(t, path, SchemaVersion+1, false) },
			current: SchemaVersion, wantErr: fmt.Sprintf("store written by a newer berth: its schema version is %d, this berth knows schema versions up to %d", SchemaVersion+1, SchemaVersion),
			wantSchema: SchemaVersion + 1},
		{name: "a migration rewrites records", migrations: append(boltMigrations[:1:1], rewrite), current: 2,
			wantBefore: 1, wantSchema: 2, wantKind: "BarePod"},
		{name: "a failed migration changes nothing", migrations: append(boltMigrations[:1:1], failing), current: 2,
			wantErr: "migrate schema 1 to 2 (always fails): disk on fire", wantSchema: 1},
		{name: "a missing migration is an error", current: 3, migrations: boltMigrations,
			wantErr: "no migration from schema version 1", wantSchema: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.fresh {
				path = filepath.Join(t.TempDir(), "berth.db")
			} else {
				path = storeWithPod(t)
				if tt.prepare != nil {
					tt.prepare(t, path)
				}
			}
			migrations := tt.migrations
			if migrations == nil {
				migrations = boltMigrations
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := openBolt(db, path, migrations, tt.current)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if before, _ := s.Schema(); before != tt.wantBefore {
					t.Errorf("schema before = %d, want %d", before, tt.wantBefore)
				}
				if tt.wantKind != "" {
					if err := s.View(func(tx ReadTx) error {
						p, err := tx.Pod("default", "web")
						if err == nil && p.Owner.Kind != tt.wantKind {
							t.Errorf("owner kind = %q, want %q", p.Owner.Kind, tt.wantKind)
						}
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				s.Close()
			}
			if got := readSchema(t, path); got != tt.wantSchema {
				t.Errorf("stored schema = %d, want %d", got, tt.wantSchema)
			}
		})
	}
}

func TestBoltStoreTooNewErrorIs(t *testing.T) {
	path := storeWithPod(t)
	setSchema(t, path, SchemaVersion+5, false)
	if _, err := OpenBolt(path); !errors.Is(err, ErrStoreTooNew) {
		t.Fatalf("err = %v, want ErrStoreTooNew", err)
	}
}

// TestBoltBackupRestore copies the store while another goroutine writes
// to it, restores the copy in place of a store that has moved on, and
// checks the copy is a consistent store that opens with the pod in it.
func TestBoltBackupRestore(t *testing.T) {
	s, path := openTestStore(t)
	if err := s.Update(func(tx Tx) error { return tx.PutPod(testPod("default", "web", "n1")) }); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := s.Update(func(tx Tx) error { return tx.PutPod(testPod("load", fmt.Sprint("p", i), "n1")) }); err != nil {
				done <- err
				return
			}
		}
	}()
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	n, err := s.Backup(f, func(n int64) { size = n })
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n <= 0 || size != n {
		t.Errorf("backup wrote %d bytes, size said %d", n, size)
	}
	if schema, err := CheckBackup(backup); err != nil || schema != SchemaVersion {
		t.Fatalf("CheckBackup = %d, %v", schema, err)
	}
	if err := s.Update(func(tx Tx) error { return tx.DeletePod("default", "web") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	kept, err := RestoreBolt(backup, path, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".before-restore-20261203T100000Z"; kept != want {
		t.Errorf("kept %q, want %q", kept, want)
	}
	r, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.View(func(tx ReadTx) error {
		_, err := tx.Pod("default", "web")
		return err
	}); err != nil {
		t.Errorf("restored store: %v", err)
	}
}

func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	newer := storeWithPod(t)
	setSchema(t, newer, SchemaVersion+1, false)
	tests := []struct {
		name, backup, wantErr string
	}{
		{name: "not a bbolt file", backup: junk, wantErr: "not a berth store"},
		{name: "newer schema", backup: newer, wantErr: "store written by a newer berth"},
		{name: "missing", backup: filepath.Join(dir, "nope"), wantErr: "not a berth store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(dir, "berth.db")
			_, err := RestoreBolt(tt.backup, dst, time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("a refused restore left %s", dst)
			}
		})
	}
}
