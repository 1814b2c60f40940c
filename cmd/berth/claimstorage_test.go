//go:build !berth_agent

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/nodeagent/localstorage"
)

// TestClaimStorageCountsClaimsAlreadyThere: the offer is the free space
// plus what existing claims use, never more than the filesystem.
func TestClaimStorageCountsClaimsAlreadyThere(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	st, err := localstorage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := st.Provision(localstorage.Claim{Namespace: "default", Name: "data-web-0", Request: 1 << 20}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := claimStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	// Free space moves with other writers on the machine; the offer must
	// hold the claim's megabyte on top of (about) what is free, and never
	// exceed the filesystem.
	if q.Value() > c.Total || q.Value() < 1<<20 {
		t.Fatalf("offer %d, filesystem %+v", q.Value(), c)
	}
}
