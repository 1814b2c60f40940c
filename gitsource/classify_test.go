package gitsource

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// The chaos harness filled the server's data disk and the status said
// "git server unavailable: write …/tmp_pack_…: no space left on device":
// every syscall.Errno satisfies net.Error, so a local write error was
// blamed on the server.
func TestClassifyLocalDiskIsNotTheServer(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "pack write on a full disk", err: fmt.Errorf("fetch: %w", &os.PathError{Op: "write", Path: "/data/git/objects/pack/tmp_pack_1", Err: syscall.ENOSPC}), want: ErrFetch},
		{name: "read-only clone", err: &os.PathError{Op: "open", Path: "/data/git/HEAD", Err: syscall.EROFS}, want: ErrFetch},
		{name: "connection refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, want: ErrUnavailable},
		{name: "bare errno from the network", err: syscall.ECONNRESET, want: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); !errors.Is(got, tt.want) {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
