//go:build !berth_agent

package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens (join and plan)",
		Long: `Manage bootstrap tokens (admin), kubeadm's shape ID.SECRET.

A join token registers a new node name, nothing more: the agent then gets
a client certificate for its node and authenticates by it. A plan token
reads the cluster and plans refs (berth get, berth plan --server) and
changes nothing. Every token expires; an expired one is refused.`,
	}
	var conn connFlags
	var ttl time.Duration
	var usages []string
	var desc string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it (the only time its secret is shown)",
		Long: `Create a bootstrap token (admin) and print it as ID.SECRET. The server
keeps only the secret's hash, so this is the only time it is shown.
--usages join (the default) registers one new node name per use;
--usages plan reads the cluster and plans, and changes nothing.`,
		Example: `  berth token create                         # join, 24h
  berth token create --ttl 1h --usages plan    # for CI: berth plan --server URL --token ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), api.TokenCreateRequest{TTL: api.Duration{Duration: ttl}, Usages: usages, Description: desc})
			if err != nil {
				return fromServer(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Token)
			return nil
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token lasts")
	create.Flags().StringSliceVar(&usages, "usages", []string{api.TokenUsageJoin}, "what it may do: join, plan (comma-separated)")
	create.Flags().StringVar(&desc, "description", "", "a note shown by berth token list")
	list := &cobra.Command{
		Use:   "list",
		Short: "List live tokens (IDs, usages, expiry; never secrets)",
		Long: `List the live bootstrap tokens (admin): ID, time left, expiry, usages
and description. Secrets are never shown; expired tokens are not listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			l, err := c.Tokens(cmd.Context())
			if err != nil {
				return fromServer(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION")
			for _, t := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, time.Until(t.Expires).Round(time.Minute), t.Expires.UTC().Format(time.RFC3339),
					strings.Join(t.Usages, ","), t.Description)
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete tokens by ID (or whole token)",
		Long: `Delete bootstrap tokens (admin) by ID or by the whole ID.SECRET. Nodes
that joined with a token keep their certificates: deleting a token stops
new joins only.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			for _, id := range args {
				if err := c.DeleteToken(cmd.Context(), id); err != nil {
					return fromServer(err)
				}
				id, _, _ = strings.Cut(id, ".")
				fmt.Fprintf(cmd.OutOrStdout(), "token %q deleted\n", id)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, list, del} {
		conn.add(c)
		cmd.AddCommand(c)
	}
	return cmd
}
