//go:build !berth_agent

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/reconciler"
)

// TestBackupAndServerVersion copies a live server's store through the API
// and opens the copy as a store; and asks the server its version.
func TestBackupAndServerVersion(t *testing.T) {
	s := newCLIServer(t)
	s.register("node-1", "2", "4Gi")
	path := filepath.Join(t.TempDir(), "backup.db")
	n, schema, err := runBackup(context.Background(), s.admin(), path)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || schema != reconciler.SchemaVersion {
		t.Errorf("backup: %d bytes, schema %d", n, schema)
	}
	st, err := reconciler.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.View(func(tx reconciler.ReadTx) error { _, err := tx.Node("node-1"); return err }); err != nil {
		t.Errorf("the backup lacks the node: %v", err)
	}

	out, err := execRoot("version", "--server="+s.url, "--token", s.tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Server:\n  Version:") || strings.Count(out, "Protocol:  1") != 2 {
		t.Errorf("version --server:\n%s", out)
	}
	if _, err := execRoot("backup", filepath.Join(t.TempDir(), "x.db"), "--server", s.url, "--token", s.tokens.Agent); err == nil {
		t.Error("backup with the join token succeeded")
	}
}
