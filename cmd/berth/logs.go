//go:build !berth_agent

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

type logsOptions struct {
	conn connFlags
	ns   namespaceFlags
	opts api.LogOptions
}

func newLogsCmd() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER] [-f]",
		Short: "Print the output of a container of a pod",
		Long: `Print what a container of a pod wrote to stdout and stderr. The server
fetches it from the node that runs the pod.

A pod with more than one container needs -c. -f keeps printing new output
until the container stops or you press Ctrl-C; --previous prints the run
before the last restart; --tail prints only the last lines.

Examples:
  berth logs web-7d4b9c-0
  berth logs two-containers -c sidecar -f
  berth logs crashy --previous`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.conn.client()
			if err != nil {
				return err
			}
			return fromServer(runLogs(cmd.Context(), c, cmd.OutOrStdout(), cmd.ErrOrStderr(), o.ns.namespace, args[0], o.opts))
		},
	}
	o.conn.add(cmd)
	o.ns.add(cmd, false)
	f := cmd.Flags()
	f.StringVarP(&o.opts.Container, "container", "c", "", "container to print (needed when the pod has several)")
	f.BoolVarP(&o.opts.Follow, "follow", "f", false, "keep printing new output")
	f.BoolVarP(&o.opts.Previous, "previous", "p", false, "print the run before the last restart")
	f.IntVar(&o.opts.TailLines, "tail", -1, "print only the last N lines (-1: all)")
	return cmd
}

func runLogs(ctx context.Context, c *client.Client, out, errOut io.Writer, ns, pod string, opts api.LogOptions) error {
	if opts.TailLines < 0 {
		opts.TailLines = 0
	}
	if opts.Container == "" {
		// As kubectl: the only app container, else the first one, said.
		p, err := c.Pod(ctx, ns, pod)
		if err != nil {
			return notFoundHint(err, resPods, pod)
		}
		if len(p.Spec.Containers) > 0 {
			opts.Container = p.Spec.Containers[0].Name
		}
		if len(p.Spec.Containers)+len(p.Spec.InitContainers) > 1 {
			var names []string
			for _, c := range p.Spec.Containers {
				names = append(names, c.Name)
			}
			for _, c := range p.Spec.InitContainers {
				names = append(names, c.Name+" (init)")
			}
			fmt.Fprintf(errOut, "Defaulted container %q out of: %s\n", opts.Container, strings.Join(names, ", "))
		}
	}
	rc, err := c.Logs(ctx, ns, pod, opts)
	if err != nil {
		return notFoundHint(err, resPods, pod)
	}
	defer rc.Close()
	if _, err := io.Copy(out, rc); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", pod, err)
	}
	return nil
}
