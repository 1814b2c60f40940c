//go:build !berth_agent

package main

import (
	"strings"
	"testing"
)

func TestServerRefusesTinyNodeTimeout(t *testing.T) {
	_, err := run("server", "--repo", t.TempDir(), "--data", t.TempDir(), "--agent=false", "--node-timeout", "500ms")
	if err == nil || !strings.Contains(err.Error(), "--node-timeout 500ms: must be at least 2s") {
		t.Fatalf("err %v, want the node timeout refused", err)
	}
}
