//go:build !berth_agent

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/reconciler"
)

func newSyncCmd() *cobra.Command {
	var conn connFlags
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sync [--wait] [--timeout D]",
		Short: "Make the server fetch the repository now",
		Long: `Make the server fetch the Git repository now instead of at its next poll,
as 'flux reconcile source git' or 'argocd app sync' do, and print the
revision it found.

With --wait it then waits until that revision is applied or refused and
prints the outcome as 'berth status' does; it exits non-zero when the
revision was refused (manifest errors, pods that do not fit, a bad
signature) or the fetch failed.`,
		Example: `  git push && berth sync --wait
  berth sync --wait --timeout 2m && berth rollout status deployment web`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return fromServer(runSync(ctx, c, cmd.OutOrStdout(), wait, clock.RealClock{}, time.Second))
		},
	}
	conn.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the fetched revision is applied or refused")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long (0: wait as long as it takes)")
	return cmd
}

// errRefused is a synced revision the server did not apply.
var errRefused = errors.New("revision refused")

func runSync(ctx context.Context, c *client.Client, out io.Writer, wait bool, clk clock.Clock, interval time.Duration) error {
	res, err := c.Sync(ctx)
	if err != nil {
		return err
	}
	if res.FetchError != "" {
		return fmt.Errorf("fetch failed: %s", res.FetchError)
	}
	fmt.Fprintf(out, "fetched %s\n", short(res.Fetched))
	if !wait {
		return nil
	}
	st, err := waitRevision(ctx, c, res.Fetched, clk, interval)
	if st != nil {
		fmt.Fprintln(out)
		printStatus(out, st, clk.Now())
	}
	return err
}

// waitRevision polls the sync status until rev is applied (nil error) or
// refused (errRefused), and returns the status that said so. When the
// server fetches another revision meanwhile (a newer commit), it waits for
// that one instead: rev will never be applied then.
func waitRevision(ctx context.Context, c *client.Client, rev string, clk clock.Clock, interval time.Duration) (*api.SyncStatus, error) {
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case rev == "":
			return st, nil
		case st.Applied != nil && st.Applied.SHA == rev:
			return st, nil
		case st.Rejected != nil && st.Rejected.SHA == rev:
			return st, fmt.Errorf("%w: %s was not applied (why: above); %s keeps running", errRefused, short(rev), appliedName(st))
		case st.Fetched != "" && st.Fetched != rev:
			rev = st.Fetched
			continue
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("revision %s not applied or refused yet: %w", short(rev), ctx.Err())
		case <-clk.After(interval):
		}
	}
}

func appliedName(st *api.SyncStatus) string {
	if st.Applied == nil {
		return "nothing"
	}
	return short(st.Applied.SHA)
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func newBackupCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Save a consistent copy of the server's store to FILE",
		Long: `Copy the running server's store (what it placed where, rollout and job
state, events) to FILE while it keeps serving: one read transaction, so
the copy is consistent. Start a server from it with
'berth server --restore FILE'. Needs the admin token.

The copy is checked (it must open as a berth store) before FILE is
written; FILE is replaced whole.`,
		Example: `  berth backup /var/backups/berth-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			n, schema, err := runBackup(cmd.Context(), c, args[0])
			if err != nil {
				return fromServer(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, store schema %d)\n", args[0], n, schema)
			return nil
		},
	}
	conn.add(cmd)
	return cmd
}

// runBackup writes the server's store to path through a temporary file
// that must pass reconciler.CheckBackup before it takes path's place.
func runBackup(ctx context.Context, c *client.Client, path string) (int64, int, error) {
	body, length, err := c.Backup(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return 0, 0, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, body)
	if err == nil && length >= 0 && n != length {
		err = fmt.Errorf("the server sent %d of %d bytes", n, length)
	}
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, 0, fmt.Errorf("backup: %w", err)
	}
	schema, err := reconciler.CheckBackup(tmp.Name())
	if err != nil {
		return n, 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, 0, fmt.Errorf("backup: %w", err)
	}
	return n, schema, nil
}
