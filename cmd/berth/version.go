//go:build !berth_agent

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/internal/version"
)

// serverFromConfig is --server given without a value: ask the server the
// environment or the CLI config names.
const serverFromConfig = "\x00config"

func newVersionCmd() *cobra.Command {
	var conn connFlags
	var output string
	cmd := &cobra.Command{
		Use:   "version [--server[=URL]]",
		Short: "Print berth's version, Git commit, build date and Go version",
		Long: `Print which build of berth this is: the version, the Git commit and build
date (stamped by 'just build', or read from what the Go toolchain recorded),
the Go version, the platform and the agent protocol version.

With --server it also asks the server which build it runs: --server alone
asks the one $BERTH_SERVER or the CLI config names, --server=URL that one.`,
		Example: `  berth version
  berth version --server
  berth version --server=http://10.0.0.1:7070 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("-o %s: want json or nothing", output)
			}
			askServer := cmd.Flags().Changed("server")
			if len(args) == 1 {
				// `--server URL` parses as --server (no value) then URL.
				if conn.server != serverFromConfig {
					return fmt.Errorf("unexpected argument %q", args[0])
				}
				conn.server = args[0]
			}
			if conn.server == serverFromConfig {
				conn.server = ""
			}
			out := versionOutput{Client: version.Get()}
			if askServer {
				c, err := conn.client()
				if err != nil {
					return err
				}
				v, err := c.Version(cmd.Context())
				if err != nil {
					return fromServer(err)
				}
				out.Server = &v.Server
			}
			return printVersion(cmd.OutOrStdout(), out, output)
		},
	}
	conn.add(cmd)
	cmd.Flags().Lookup("server").NoOptDefVal = serverFromConfig
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

type versionOutput struct {
	Client api.BuildInfo  `json:"client"`
	Server *api.BuildInfo `json:"server,omitempty"`
}

func printVersion(w io.Writer, v versionOutput, output string) error {
	if output == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	printBuild(w, "Client", v.Client)
	if v.Server != nil {
		printBuild(w, "Server", *v.Server)
	}
	return nil
}

func printBuild(w io.Writer, who string, b api.BuildInfo) {
	fmt.Fprintf(w, "%s:\n  Version:   %s\n  Commit:    %s\n  Built:     %s\n  Go:        %s\n  Platform:  %s\n  Protocol:  %d\n",
		who, b.Version, orNone(b.Commit), orNone(b.Date), b.GoVersion, b.Platform, b.Protocol)
}
