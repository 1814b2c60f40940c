// Package flagfile reads a role's YAML config file (/etc/berth/server.yaml,
// /etc/berth/agent.yaml) into the command's flag set, and prints the
// effective settings back.
//
// The keys are the flag names themselves, taken from the flag set, so a
// flag cannot be added without becoming a key. A flag given on the command
// line wins over the file; a key that names no flag is an error naming the
// key and its line.
//
//	listen: 0.0.0.0:7070        # --listen
//	agent-labels: [zone=a]      # a list flag takes a list (or one value)
//	agent-allocatable:          # a key=value flag takes a mapping
//	  cpu: "2"
package flagfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// ErrConfig marks every problem with the file's content.
var ErrConfig = errors.New("config file")

// Load reads the file at path into fs. skip names flags that are not
// settings (the --config flag itself, --help): they are no keys.
func Load(fs *pflag.FlagSet, path string, skip ...string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return Apply(fs, path, b, skip...)
}

// Apply sets the flags of fs from YAML data (named path in errors), except
// flags already set on the command line. All problems are reported at once.
func Apply(fs *pflag.FlagSet, path string, data []byte, skip ...string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w %s: %v", ErrConfig, path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file: all defaults
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%w %s:%d: want a mapping of settings (key: value), got a %s", ErrConfig, path, root.Line, kindName(root.Kind))
	}
	onCommandLine := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			onCommandLine[f.Name] = true
		}
	})
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	seen := map[string]int{}
	var errs []error
	bad := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w %s:%d: %s", ErrConfig, path, n.Line, fmt.Sprintf(format, args...)))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			bad(k, "a key must be a flag name")
			continue
		}
		key := k.Value
		if line, dup := seen[key]; dup {
			bad(k, "key %q given twice (first on line %d)", key, line)
			continue
		}
		seen[key] = k.Line
		f := fs.Lookup(key)
		if f == nil || skipped[key] || f.Hidden {
			bad(k, "unknown key %q%s", key, suggest(fs, key, skipped))
			continue
		}
		if f.Deprecated != "" {
			bad(k, "key %q is deprecated: %s", key, f.Deprecated)
			continue
		}
		if onCommandLine[key] {
			continue // the command line wins
		}
		if err := set(fs, f, v); err != nil {
			bad(v, "%s: %v", key, err)
		}
	}
	return errors.Join(errs...)
}

// set gives flag f the value of node v.
func set(fs *pflag.FlagSet, f *pflag.Flag, v *yaml.Node) error {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return errors.New("no value (leave the key out for the default)")
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if err := sv.Replace([]string{v.Value}); err != nil {
				return err
			}
			f.Changed = true
			return nil
		}
		if f.Value.Type() == "stringToString" {
			return errors.New("want a mapping of key: value")
		}
		return fs.Set(f.Name, v.Value)
	case yaml.SequenceNode:
		sv, ok := f.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("takes one %s value, not a list", f.Value.Type())
		}
		var items []string
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a list item must be a plain value", it.Line)
			}
			items = append(items, it.Value)
		}
		if err := sv.Replace(items); err != nil {
			return err
		}
		f.Changed = true
		return nil
	case yaml.MappingNode:
		if f.Value.Type() != "stringToString" {
			return fmt.Errorf("takes a %s value, not a mapping", f.Value.Type())
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			mk, mv := v.Content[i], v.Content[i+1]
			if mk.Kind != yaml.ScalarNode || mv.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want key: value", mk.Line)
			}
			if strings.ContainsAny(mk.Value+mv.Value, ",=\"") {
				return fmt.Errorf("line %d: %q: key and value may not hold , = or \"", mk.Line, mk.Value)
			}
			if err := fs.Set(f.Name, mk.Value+"="+mv.Value); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unsupported YAML %s", kindName(v.Kind))
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "plain value"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// suggest names the key the user probably meant.
func suggest(fs *pflag.FlagSet, key string, skipped map[string]bool) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *pflag.Flag) {
		if skipped[f.Name] || f.Hidden {
			return
		}
		if d := distance(key, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return " (the keys are the command's flag names without --)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Effective renders every setting of fs (all flags but skip) as a config
// file Load reads back: one key per flag with its current value and its
// help text as a comment, keys in flag-name order.
func Effective(fs *pflag.FlagSet, skip ...string) ([]byte, error) {
	return render(fs, false, skip)
}

// Changed renders only the settings set on the command line or by a file,
// as `berth install` writes a new config file: short, and every default
// left to the binary that reads it.
func Changed(fs *pflag.FlagSet, skip ...string) ([]byte, error) {
	return render(fs, true, skip)
}

func render(fs *pflag.FlagSet, onlyChanged bool, skip []string) ([]byte, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	var flags []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if !skipped[f.Name] && !f.Hidden && f.Deprecated == "" && (f.Changed || !onlyChanged) {
			flags = append(flags, f)
		}
	})
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range flags {
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name, HeadComment: f.Usage}
		v, err := valueNode(fs, f)
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", f.Name, err)
		}
		root.Content = append(root.Content, k, v)
	}
	var buf bytes.Buffer
	if len(root.Content) == 0 {
		return []byte("{}\n"), nil
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func valueNode(fs *pflag.FlagSet, f *pflag.Flag) (*yaml.Node, error) {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range sv.GetSlice() {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s, Tag: "!!str"})
		}
		return n, nil
	}
	if f.Value.Type() == "stringToString" {
		m, err := fs.GetStringToString(f.Name)
		if err != nil {
			return nil, err
		}
		n := &yaml.Node{Kind: yaml.MappingNode}
		if len(m) == 0 {
			n.Style = yaml.FlowStyle
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k, Tag: "!!str"},
				&yaml.Node{Kind: yaml.ScalarNode, Value: m[k], Tag: "!!str"})
		}
		return n, nil
	}
	tag := "!!str"
	switch f.Value.Type() {
	case "bool":
		tag = "!!bool"
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: f.Value.String(), Tag: tag}, nil
}
