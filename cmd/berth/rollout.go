//go:build !berth_agent

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

func newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow the rollout of a deployment",
		Long: `Commands about deployment rollouts. A rollout starts when a commit
changes a Deployment's pod template; to roll back, revert the commit.`,
	}
	cmd.AddCommand(newRolloutStatusCmd())
	return cmd
}

type rolloutOptions struct {
	conn    connFlags
	ns      namespaceFlags
	timeout time.Duration
	watch   bool
}

func newRolloutStatusCmd() *cobra.Command {
	var o rolloutOptions
	cmd := &cobra.Command{
		Use:   "status deployment NAME",
		Short: "Wait until a deployment's rollout finishes",
		Long: `Print the progress of a deployment's rollout, a line each time it
changes, until every replica runs the new template and is available:

  Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...
  deployment "web" successfully rolled out (revision 2, Git 0123456789ab)

(revision: the deployment's rollout number, its
deployment.kubernetes.io/revision annotation; Git: the revision the server
reconciled it at, its berth.dev/revision annotation.)

It first waits until the newest revision the server fetched is applied and
the deployment has been reconciled at it, so it never reports the previous
commit's rollout as this one's (after a push, run 'berth sync --wait'
first to make the server fetch at once); it fails when that revision was
refused, when the deployment exceeds its progressDeadlineSeconds, or when
--timeout passes. With --watch=false it prints the state once and returns.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if res, err := parseResource(args[0]); err != nil || res != resDeployments {
				return fmt.Errorf("rollout status works on deployments, not %q", args[0])
			}
			c, err := o.conn.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if o.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeout)
				defer cancel()
			}
			return fromServer(rolloutStatus(ctx, c, cmd.OutOrStdout(), o.ns.namespace, args[1], o.watch, clock.RealClock{}, time.Second))
		},
	}
	o.conn.add(cmd)
	o.ns.add(cmd, false)
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: wait as long as it takes)")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", true, "wait for the rollout to finish")
	return cmd
}

// errProgressDeadline is a rollout that stopped making progress.
var errProgressDeadline = errors.New("exceeded its progress deadline")

// rolloutMessage is kubectl's DeploymentStatusViewer: what the rollout
// waits for, or that it is done.
func rolloutMessage(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q %w", d.Name, errProgressDeadline)
		}
	}
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, s.UpdatedReplicas, want), false, nil
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, s.Replicas-s.UpdatedReplicas), false, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, s.AvailableReplicas, s.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

// rolloutRevision says which rollout of which Git revision a finished
// one was: " (revision 3, Git 0123456789ab)", or "" for a server that does
// not say.
func rolloutRevision(d *appsv1.Deployment) string {
	var parts []string
	if n := d.Annotations[api.AnnotationRolloutRevision]; n != "" {
		parts = append(parts, "revision "+n)
	}
	if rev := d.Annotations[api.AnnotationRevision]; rev != "" {
		parts = append(parts, "Git "+short(rev))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// rolloutStatus first waits until the newest revision the server fetched
// is applied (or fails if it was refused), so it never reports the
// previous revision's rollout as this one's; then it polls the deployment
// every interval on clk, printing each new message, until the rollout is
// done, fails, or ctx ends.
func rolloutStatus(ctx context.Context, c *client.Client, out io.Writer, ns, name string, watch bool, clk clock.Clock, interval time.Duration) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	target := st.Fetched
	if target != "" && (st.Applied == nil || st.Applied.SHA != target) {
		if !watch {
			fmt.Fprintf(out, "Waiting for revision %s to be applied...\n", short(target))
			return nil
		}
		if st.Rejected == nil || st.Rejected.SHA != target {
			fmt.Fprintf(out, "Waiting for revision %s to be applied...\n", short(target))
		}
		st, err := waitRevision(ctx, c, target, clk, interval)
		if err != nil {
			if errors.Is(err, errRefused) {
				return fmt.Errorf("revision %s was refused, so deployment %q does not roll out to it: see berth status", short(st.Rejected.SHA), name)
			}
			return err
		}
		target = st.Applied.SHA // a newer one than target if the server fetched it meanwhile
	}
	last := ""
	for {
		d, err := c.Deployment(ctx, ns, name)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("rollout of deployment %q: %w", name, ctx.Err())
			}
			return notFoundHint(err, resDeployments, name)
		}
		msg, done, err := rolloutMessage(d)
		if err != nil {
			return err
		}
		if rev := d.Annotations[api.AnnotationRevision]; target != "" && rev != "" && rev != target {
			// The loop last reconciled the deployment at another revision:
			// an older one (it has not got to it at the target yet: its
			// status is the previous rollout's), or one applied since.
			if st, err := c.Status(ctx); err == nil && st.Applied != nil && st.Applied.SHA == rev {
				target = rev
			} else {
				msg, done = fmt.Sprintf("Waiting for deployment %q to be reconciled at revision %s...\n", name, short(target)), false
			}
		}
		if done {
			msg = strings.TrimSuffix(msg, "\n") + rolloutRevision(d) + "\n"
		}
		if msg != last {
			fmt.Fprint(out, msg)
			last = msg
		}
		if done || !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rollout of deployment %q: %w", name, ctx.Err())
		case <-clk.After(interval):
		}
	}
}
