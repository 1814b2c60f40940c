//go:build !berth_agent

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

func newStatusCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what berth runs from Git and whether it is in sync",
		Long: `Show the state of the Git sync: the repository, the revision whose
objects are running (with its subject), the last fetch, and whether the
cluster is Synced, Progressing or Rejected.

A rejected revision is shown with why: manifest errors as file:line:
field: message, or the pods that do not fit on the nodes together (the
scheduler's reason and how much CPU or memory is missing). The previous
revision keeps running until a commit that fits.

Pods of the running revision that are placed on no node right now (a
node was lost, a job waits for room) are listed with the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			return fromServer(runStatus(cmd.Context(), c, cmd.OutOrStdout(), time.Now()))
		},
	}
	conn.add(cmd)
	return cmd
}

func runStatus(ctx context.Context, c *client.Client, out io.Writer, now time.Time) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	printStatus(out, st, now)
	return nil
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return duration.HumanDuration(now.Sub(t)) + " ago"
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func revisionString(r *api.Revision) string {
	s := shortSHA(r.SHA)
	if r.Subject != "" {
		s += fmt.Sprintf(" %q", r.Subject)
	}
	return s
}

func printStatus(out io.Writer, st *api.SyncStatus, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	repo := st.Repository
	if st.Ref != "" {
		repo += " (" + st.Ref + ")"
	}
	if st.Path != "" {
		repo += ", path " + st.Path
	}
	fmt.Fprintf(w, "Repository:\t%s\n", orNone(repo))
	if st.Applied != nil {
		fmt.Fprintf(w, "Applied:\t%s, applied %s\n", revisionString(st.Applied), ago(st.Applied.Applied, now))
	} else {
		fmt.Fprintf(w, "Applied:\t<none yet>\n")
	}
	fetch := ago(st.LastFetch, now)
	if st.LastFetchError != "" {
		fetch += " (failed: " + st.LastFetchError + "; last success " + ago(st.LastFetchSuccess, now) + ")"
	}
	fmt.Fprintf(w, "Last fetch:\t%s\n", fetch)
	fmt.Fprintf(w, "Sync:\t%s\n", st.State)
	if r := st.Rejected; r != nil {
		fmt.Fprintf(w, "Rejected:\t%s, not applied\n", revisionString(&r.Revision))
		if r.Message != "" {
			fmt.Fprintf(w, "  Reason:\t%s\n", r.Message)
		}
		printManifestErrors(w, r.Errors)
	}
	if len(st.Warnings) > 0 {
		fmt.Fprintf(w, "Warnings:\t%d\n", len(st.Warnings))
		printManifestErrors(w, st.Warnings)
	}
	w.Flush()
	if r := st.Rejected; r != nil && len(r.Unplaceable) > 0 {
		fmt.Fprintf(out, "\nPods of %s that do not fit (nothing of it was applied):\n", shortSHA(r.SHA))
		printUnplaceable(out, r.Unplaceable)
	}
	if len(st.Unschedulable) > 0 {
		fmt.Fprintf(out, "\nPods placed on no node:\n")
		printUnplaceable(out, st.Unschedulable)
	}
	if len(st.Skipped) > 0 {
		fmt.Fprintf(out, "\nSkipped (not run by berth; .berth.yaml skipKinds):\n")
		printSkipped(out, st.Skipped)
	}
}

// printSkipped lists objects read from Git that berth does not run.
func printSkipped(out io.Writer, objs []api.SkippedObject) {
	t := table{header: []string{"KIND", "NAMESPACE", "NAME", "FILE"}}
	for _, o := range objs {
		loc := o.File
		if o.Line > 0 {
			loc += fmt.Sprintf(":%d", o.Line)
		}
		t.rows = append(t.rows, []string{o.Kind, orNone(o.Namespace), o.Name, loc})
	}
	_ = t.print(out)
}

// printManifestErrors prints file:line and field: message, one a line.
func printManifestErrors(w io.Writer, errs []api.ManifestError) {
	for _, e := range errs {
		loc := e.File
		if e.Line > 0 {
			loc += fmt.Sprintf(":%d", e.Line)
		}
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		fmt.Fprintf(w, "  %s:\t%s\n", loc, msg)
	}
}

func printUnplaceable(out io.Writer, pods []api.UnplaceablePod) {
	t := table{header: []string{"NAMESPACE", "NAME", "SHORTFALL", "REASON"}}
	for _, p := range pods {
		t.rows = append(t.rows, []string{p.Namespace, p.Name, orNone(p.Shortfall), strings.ReplaceAll(p.Message, "\n", " ")})
	}
	_ = t.print(out)
}
