//go:build berth_agent

package main

import "github.com/spf13/cobra"

// addControlPlaneCmds adds nothing in the agent-only build.
func addControlPlaneCmds(*cobra.Command) {}
