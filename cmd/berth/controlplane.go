//go:build !berth_agent

package main

import "github.com/spf13/cobra"

// addControlPlaneCmds adds the commands of the server and of its clients.
// Built with -tags berth_agent (bin/berth-agent, see `just build`) the
// binary leaves them and every control-plane package out: a node needs
// only the agent.
func addControlPlaneCmds(root *cobra.Command) {
	root.AddCommand(newValidateCmd())
	root.AddCommand(newPlanCmd())
	root.AddCommand(newGetCmd())
	root.AddCommand(newDescribeCmd())
	root.AddCommand(newDeleteCmd())
	root.AddCommand(newLogsCmd())
	root.AddCommand(newStatusCmd())
	root.AddCommand(newRolloutCmd())
	root.AddCommand(newServerCmd())
	root.AddCommand(newVersionCmd())
	root.AddCommand(newInstallCmd(), newUninstallCmd())
	root.AddCommand(newSyncCmd(), newBackupCmd())
	root.AddCommand(newNodeCmd())
	root.AddCommand(newTokenCmd())
}
