//go:build !berth_agent

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/plan"
	"github.com/berth-dev/berth/scheduler"
)

type planOptions struct {
	conn         connFlags
	repo         string
	base, head   string
	path         string
	snapshot     string
	output       string
	annotations  string
	identityFile string
	strategy     string
	ref          string
}

func newPlanCmd() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what a revision would change, and whether its pods fit, before it is merged",
		Long: `Plan compares two revisions of a local clone (--base, default origin/HEAD;
--head, default HEAD), both read, rendered and validated exactly as berth
server reads a commit (its tree, .berth.yaml, kustomize and Helm), and prints:

  Validation    every problem in the head, file:line: field: message
  Changes       each object added, changed or removed, as a unified diff of
                the object after defaults (reformatting shows no change;
                Secret values are never shown), and what the server will
                do: rolling updates, pods added or removed, jobs replaced,
                a CronJob's next run
  Fit           the pods the head needs placed by the server's own
                admission (the scheduler, all or nothing) on a cluster
                snapshot: where each goes, or why each that does not fit
                fits on no node, per node

The snapshot comes from the server (--server/--token, as berth get) or from
a file written by 'berth get snapshot -o json' (--snapshot), for CI that
cannot reach the server. Without either, fit is not checked.

Exit status: 0 no change, 1 changes that would be admitted, 2 the head would
be refused (invalid, or its pods do not fit), 3 berth could not plan.`,
		Example: `  berth plan --base origin/main --snapshot cluster.json
  berth plan -o markdown --snapshot cluster.json > comment.md
  berth plan --annotations github --snapshot cluster.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runPlan(cmd, &o)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
				return exitError{code: 3}
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	o.conn.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", ".", "local clone to read the revisions from")
	f.StringVar(&o.base, "base", "origin/HEAD", "revision the change is compared against")
	f.StringVar(&o.head, "head", "HEAD", "revision to plan")
	f.StringVar(&o.path, "path", "", "directory in the repository that the server reads (its --path)")
	f.StringVar(&o.snapshot, "snapshot", "", "cluster snapshot file from 'berth get snapshot -o json' (instead of --server)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, markdown or json")
	f.StringVar(&o.annotations, "annotations", "", "also print CI annotations to stderr: github")
	f.StringVar(&o.identityFile, "age-identity", "", "age identity file to decrypt SOPS-encrypted Secrets with (default: keys only)")
	f.StringVar(&o.strategy, "strategy", "", "placement strategy, spread or binpack (default: the one the snapshot names, the server's)")
	f.StringVar(&o.ref, "ref", "", "with --server: the server plans this ref of its own repository (refs/pull/123/head) against what it applied")
	return cmd
}

func runPlan(cmd *cobra.Command, o *planOptions) (int, error) {
	switch o.output {
	case "text", "markdown", "json":
	default:
		return 0, fmt.Errorf("--output must be text, markdown or json, not %q", o.output)
	}
	if o.annotations != "" && o.annotations != "github" {
		return 0, fmt.Errorf("--annotations must be github, not %q", o.annotations)
	}
	var strategy scheduler.Strategy // "": the snapshot's
	if o.strategy != "" {
		s, err := scheduler.ParseStrategy(o.strategy)
		if err != nil {
			return 0, err
		}
		strategy = s
	}
	if o.ref != "" {
		return planOnServer(cmd, o)
	}
	var ids manifest.IdentitySource
	if o.identityFile != "" {
		list, err := readAgeIdentities(o.identityFile)
		if err != nil {
			return 0, err
		}
		ids = manifest.Identities(list)
	}
	reader, err := gitsource.NewReader(o.repo, o.path, ids)
	if err != nil {
		return 0, err
	}
	snapBase, err := reader.Read(o.base)
	base, err := plan.RevisionOf(snapBase, err, o.path)
	if err != nil {
		return 0, err
	}
	if len(base.Errors) > 0 {
		// An invalid base is never applied: compare against nothing the
		// server would have taken from it.
		base.Objects = nil
	}
	snapHead, err := reader.Read(o.head)
	head, err := plan.RevisionOf(snapHead, err, o.path)
	if err != nil {
		return 0, err
	}
	snap, err := planSnapshot(cmd, o)
	if err != nil {
		return 0, err
	}
	source := func(file string) []byte { return reader.File(head.SHA, file) }
	p, err := plan.Compute(plan.Input{Base: base, Head: head, Cluster: snap, Strategy: strategy, Now: time.Now(), Local: time.Local, Source: source})
	if err != nil {
		return 0, err
	}
	return printPlan(cmd, o, p)
}

// planOnServer asks the server to plan o.ref from its own clone.
func planOnServer(cmd *cobra.Command, o *planOptions) (int, error) {
	if server, _, _ := o.conn.resolve(); server == "" {
		return 0, fmt.Errorf("--ref needs --server (or $%s)", envServer)
	}
	c, err := o.conn.client()
	if err != nil {
		return 0, err
	}
	var p plan.Plan
	if err := c.Plan(cmd.Context(), o.ref, &p); err != nil {
		return 0, fromServer(err)
	}
	return printPlan(cmd, o, &p)
}

func printPlan(cmd *cobra.Command, o *planOptions, p *plan.Plan) (int, error) {
	var err error
	out := cmd.OutOrStdout()
	switch o.output {
	case "json":
		err = plan.JSON(out, p)
	case "markdown":
		_, err = io.WriteString(out, plan.Markdown(p, 0))
	default:
		err = plan.Text(out, p, isTerminal(out))
	}
	if err != nil {
		return 0, err
	}
	if o.annotations == "github" {
		if err := plan.GitHubAnnotations(cmd.ErrOrStderr(), p); err != nil {
			return 0, err
		}
	}
	return p.Verdict.ExitCode(), nil
}

func planSnapshot(cmd *cobra.Command, o *planOptions) (*api.ClusterSnapshot, error) {
	if o.snapshot != "" {
		b, err := os.ReadFile(o.snapshot)
		if err != nil {
			return nil, fmt.Errorf("cluster snapshot: %w", err)
		}
		var snap api.ClusterSnapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			return nil, fmt.Errorf("cluster snapshot %s: %w", o.snapshot, err)
		}
		return &snap, nil
	}
	server, _, _ := o.conn.resolve()
	if server == "" {
		return nil, nil
	}
	c, err := o.conn.client()
	if err != nil {
		return nil, err
	}
	snap, err := c.Snapshot(cmd.Context())
	return snap, fromServer(err)
}

func runGetSnapshot(cmd *cobra.Command, o *getOptions) error {
	if o.output != "json" && o.output != "" {
		return fmt.Errorf("a snapshot is printed as json only")
	}
	c, err := o.conn.client()
	if err != nil {
		return err
	}
	snap, err := c.Snapshot(cmd.Context())
	if err != nil {
		return fromServer(err)
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(snap)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
