// Command berth is the one binary of berth: the control plane, the node
// agent and the kubectl-shaped CLI, as subcommands.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a code after the command has already
// printed what the user needs to see (for example `validate` with errors).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "berth runs the Kubernetes manifests in a Git repository on plain Linux machines",
		Long: `berth is a GitOps orchestrator. A Git repository of ordinary Kubernetes
manifests (Pod, Deployment, Job, CronJob) is the only desired state: berth
pulls it, places every pod on a node, and runs it on containerd.

To change what runs, change Git.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newValidateCmd())
	root.AddCommand(newAgentCmd())
	root.AddCommand(newGetCmd())
	root.AddCommand(newDescribeCmd())
	root.AddCommand(newLogsCmd())
	root.AddCommand(newStatusCmd())
	root.AddCommand(newRolloutCmd())
	root.AddCommand(newServerCmd())
	root.AddCommand(newNodeCmd())
	return root
}
