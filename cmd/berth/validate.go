//go:build !berth_agent

package main

import (
	"io/fs"

	"encoding/json"
	"errors"
	agelib "filippo.io/age"
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
	var identityFile string
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
names it, never silently ignored. --fields prints that subset.

Warnings (a Secret in clear text in Git) are printed but do not fail the
check. Namespaces that objects use but no Namespace object declares are
listed as implied. A SOPS-encrypted Secret is checked for structure and
reported as encrypted; with --age-identity (an age identity file, as
age-keygen writes it) it is decrypted in memory and checked whole, as the
server does.`,
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
			var ids manifest.IdentitySource
			if identityFile != "" {
				list, err := readAgeIdentities(identityFile)
				if err != nil {
					return err
				}
				ids = manifest.Identities(list)
			}
			return runValidate(cmd.OutOrStdout(), dir, output, ids)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&listFields, "fields", false, "print the table of supported fields (Markdown) and exit")
	cmd.Flags().StringVar(&identityFile, "age-identity", "", "age identity file to decrypt SOPS-encrypted Secrets with")
	cmd.Flags().BoolVar(&rendered, "rendered", false, "print what the kustomizations and charts under DIR render, as kubectl kustomize and helm template do")
	return cmd
}

type validateResult struct {
	Valid             bool              `json:"valid"`
	Objects           map[string]int    `json:"objects"`
	Skipped           []skippedObject   `json:"skipped,omitempty"`
	Warnings          []*manifest.Error `json:"warnings"`
	ImpliedNamespaces []string          `json:"impliedNamespaces"`
	EncryptedSecrets  []string          `json:"encryptedSecrets"`
	Errors            []*manifest.Error `json:"errors"`
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

// AgeKeyFile is the age identity file in the server's data dir that
// decrypts SOPS-encrypted Secrets (age-keygen -o <data>/age.key).
const AgeKeyFile = "age.key"

// ageKeyFile is an age identity file read on every revision, so a key put
// in place (or rotated) takes effect without a restart. A missing file is
// no identity: a revision holding an encrypted Secret is then refused.
type ageKeyFile string

func (f ageKeyFile) AgeIdentities() ([]agelib.Identity, error) {
	ids, err := readAgeIdentities(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ids, err
}

// readAgeIdentities reads an age identity file (age-keygen's format).
func readAgeIdentities(path string) ([]agelib.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age identity: %w", err)
	}
	defer f.Close()
	ids, err := agelib.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", path, err)
	}
	return ids, nil
}

func runValidate(w io.Writer, dir, output string, ids manifest.IdentitySource) error {
	tree, _, err := loadDir(dir)
	var errs manifest.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return fmt.Errorf("validate %s: %w", dir, err)
	}
	objs := tree.Objects
	if len(errs) == 0 && ids != nil {
		var derrs manifest.ErrorList
		if objs, derrs = manifest.DecryptSecrets(objs, ids); len(derrs) > 0 {
			errs = derrs
		}
	}
	res := validateResult{Valid: len(errs) == 0, Objects: map[string]int{}, Errors: errs,
		Warnings: manifest.Warnings(objs), ImpliedNamespaces: manifest.ImpliedNamespaces(objs), EncryptedSecrets: []string{}}
	if res.Warnings == nil {
		res.Warnings = []*manifest.Error{}
	}
	if res.ImpliedNamespaces == nil {
		res.ImpliedNamespaces = []string{}
	}
	for _, k := range manifest.EncryptedSecrets(objs) {
		res.EncryptedSecrets = append(res.EncryptedSecrets, k.Namespace+"/"+k.Name)
	}
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
		for _, e := range res.Warnings {
			fmt.Fprintln(w, "warning: "+e.Error())
		}
		if len(res.ImpliedNamespaces) > 0 {
			fmt.Fprintf(w, "implied namespaces (used, not declared by a Namespace object): %s\n", strings.Join(res.ImpliedNamespaces, ", "))
		}
		if len(res.EncryptedSecrets) > 0 {
			fmt.Fprintf(w, "encrypted Secrets, checked for structure only (no --age-identity): %s\n", strings.Join(res.EncryptedSecrets, ", "))
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
