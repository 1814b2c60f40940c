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
	"github.com/berth-dev/berth/render"
)

func newValidateCmd() *cobra.Command {
	var output string
	var listFields, rendered bool
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a directory of manifests the way the server would",
		Long: `Validate decodes every .yaml, .yml and .json file under DIR (default: the
current directory) exactly as berth server reads a commit, and reports every
problem at once, one per line, as

    file:line: field.path: message

It exits 1 when there is any problem and 0 otherwise, so it fits a pull
request check. With --output json it prints one JSON document instead.

A directory holding a kustomization.yaml (or .yml, or Kustomization) is
rendered with kustomize, and a directory holding a Chart.yaml with Helm,
exactly as the server renders them, and only what they produce is read;
.berth.yaml at DIR's root sets the Helm release and values and the kinds
to skip (listed, never run). --rendered prints what each renders, as
kubectl kustomize and helm template print it.

berth implements a subset of Kubernetes; a field outside it is an error that
names it, never silently ignored. --fields prints that subset.`,
		Example: `  berth validate examples-repo
  berth validate --output json . | jq '.errors[]'
  berth validate --rendered overlays/`,
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
			if rendered {
				return runRendered(cmd.OutOrStdout(), dir)
			}
			return runValidate(cmd.OutOrStdout(), dir, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&listFields, "fields", false, "print the table of supported fields (Markdown) and exit")
	cmd.Flags().BoolVar(&rendered, "rendered", false, "print what the kustomizations and charts under DIR render, as kubectl kustomize and helm template do")
	return cmd
}

type validateResult struct {
	Valid   bool              `json:"valid"`
	Objects map[string]int    `json:"objects"`
	Skipped []skippedObject   `json:"skipped,omitempty"`
	Errors  []*manifest.Error `json:"errors"`
}

type skippedObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line"`
}

// loadDir reads dir as the server reads a commit's tree: the same loader
// and renderer, over an os.Root so nothing outside dir is reachable.
func loadDir(dir string) (*manifest.Tree, *render.Renderer, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	r := render.New(render.Limits{})
	tree, err := (&manifest.Loader{Renderer: r}).Load(root.FS(), ".")
	return tree, r, err
}

func runRendered(w io.Writer, dir string) error {
	_, r, err := loadDir(dir)
	var errs manifest.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return fmt.Errorf("validate %s: %w", dir, err)
	}
	for _, o := range r.Outputs() {
		fmt.Fprintf(w, "# berth: %s rendered by %s\n", o.Root, o.Tool)
		w.Write(o.YAML)
	}
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, e.Error())
	}
	if len(errs) > 0 {
		return exitError{code: 1}
	}
	return nil
}

func runValidate(w io.Writer, dir, output string) error {
	tree, _, err := loadDir(dir)
	var errs manifest.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return fmt.Errorf("validate %s: %w", dir, err)
	}
	objs := tree.Objects
	res := validateResult{Valid: len(errs) == 0, Objects: map[string]int{}, Errors: errs}
	for _, o := range tree.Skipped {
		res.Skipped = append(res.Skipped, skippedObject{Kind: string(o.Kind), Namespace: o.Namespace, Name: o.Name, File: o.File, Line: o.Line})
	}
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
		for _, o := range res.Skipped {
			fmt.Fprintf(w, "%s:%d: %s %s: skipped (not run by berth)\n", o.File, o.Line, o.Kind, o.Name)
		}
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
