//go:build !berth_agent

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/manifest"
)

func newValidateCmd() *cobra.Command {
	var output string
	var listFields bool
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a directory of manifests the way the server would",
		Long: `Validate decodes every .yaml, .yml and .json file under DIR (default: the
current directory) exactly as berth server reads a commit, and reports every
problem at once, one per line, as

    file:line: field.path: message

It exits 1 when there is any problem and 0 otherwise, so it fits a pull
request check. With --output json it prints one JSON document instead.

berth implements a subset of Kubernetes; a field outside it is an error that
names it, never silently ignored. --fields prints that subset.`,
		Example: `  berth validate examples-repo
  berth validate --output json . | jq '.errors[]'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if listFields {
				fmt.Fprint(cmd.OutOrStdout(), manifest.FieldsMarkdown())
				return nil
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("--output must be text or json, not %q", output)
			}
			return runValidate(cmd.OutOrStdout(), dir, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&listFields, "fields", false, "print the table of supported fields (Markdown) and exit")
	return cmd
}

type validateResult struct {
	Valid   bool              `json:"valid"`
	Objects map[string]int    `json:"objects"`
	Errors  []*manifest.Error `json:"errors"`
}

func runValidate(w io.Writer, dir, output string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("validate: %s is not a directory", dir)
	}
	objs, err := manifest.Load(os.DirFS(dir), ".")
	var errs manifest.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return fmt.Errorf("validate %s: %w", dir, err)
	}
	res := validateResult{Valid: len(errs) == 0, Objects: map[string]int{}, Errors: errs}
	if res.Errors == nil {
		res.Errors = []*manifest.Error{}
	}
	if res.Valid {
		for _, o := range objs {
			res.Objects[string(o.Kind)]++
		}
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if res.Valid {
		fmt.Fprintln(w, summary(dir, res.Objects))
	} else {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
	}
	if !res.Valid {
		return exitError{code: 1}
	}
	return nil
}

func summary(dir string, counts map[string]int) string {
	kinds := make([]string, 0, len(counts))
	total := 0
	for k, n := range counts {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	if total == 0 {
		return fmt.Sprintf("%s: valid, no objects", dir)
	}
	return fmt.Sprintf("%s: valid, %d objects (%s)", dir, total, strings.Join(parts, ", "))
}
