package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/flagfile"
)

// configFlags are --config and --print-config of a long-running role
// (server, agent): every other flag of the command is a key of the file.
type configFlags struct {
	path  string
	print bool
}

// Flags that are no settings, so no keys of the file: --restore is a
// one-off (a file saying it would restore on every start).
var notSettings = []string{"config", "print-config", "help", "restore"}

func (c *configFlags) add(cmd *cobra.Command, role string) {
	f := cmd.Flags()
	f.StringVar(&c.path, "config", "", fmt.Sprintf("YAML file of settings, one key per flag name (e.g. /etc/berth/%s.yaml); flags given here win over it", role))
	f.BoolVar(&c.print, "print-config", false, "print the effective settings (file, then flags, then defaults) as a config file and exit")
}

// load applies the config file to the command's flags; done reports that
// --print-config printed the settings and the command should end.
func (c *configFlags) load(cmd *cobra.Command) (done bool, err error) {
	if c.path != "" {
		if err := flagfile.Load(cmd.Flags(), c.path, notSettings...); err != nil {
			return false, err
		}
	}
	if !c.print {
		return false, nil
	}
	out, err := flagfile.Effective(cmd.Flags(), notSettings...)
	if err != nil {
		return false, err
	}
	_, err = cmd.OutOrStdout().Write(out)
	return true, err
}
