//go:build !berth_agent

package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Manage the cluster's nodes",
		Long: `Manage the cluster's nodes (admin). berth get nodes lists them;
berth node delete frees a node's name, pod subnet and credential.`,
	}
	var conn connFlags
	del := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete nodes: free their names, pod subnets and credentials",
		Long: `Delete nodes from the cluster (admin). Each node's record, pod subnet
and node credential are freed, and its pods are moved to other nodes as
pods of a lost node. A join token registers new names only, so this is
how a machine that lost its node credential joins again under its old
name.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := c.Delete(cmd.Context(), name); err != nil {
					return fromServer(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "node %q deleted\n", name)
			}
			return nil
		},
	}
	conn.add(del)
	cmd.AddCommand(del)
	return cmd
}
