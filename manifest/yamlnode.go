package manifest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// maxNodes bounds how many YAML nodes one document may expand to, aliases
// included, so a "billion laughs" document fails fast instead of eating
// memory. Real manifests are a few hundred nodes.
const maxNodes = 200000

// converter turns a YAML node tree into JSON for the strict decoder, and on
// the way finds what JSON would lose or hide: duplicate keys, keys that are
// not strings, absurd depth, alias bombs and malformed quantities. The path
// of the node being converted is kept as a stack and only formatted when an
// error needs it, because formatting every path would dominate the cost.
type converter struct {
	buf    []byte
	path   []pathSeg
	budget int
	errs   []fieldProblem
	fatal  bool
}

type pathSeg struct {
	key   string
	index int // -1 for a mapping key
}

// fieldProblem is an error found while converting, located by node.
type fieldProblem struct {
	path    string
	line    int
	message string
}

func (c *converter) fail(line int, format string, args ...any) {
	c.errs = append(c.errs, fieldProblem{path: formatPath(c.path), line: line, message: fmt.Sprintf(format, args...)})
}

func formatPath(p []pathSeg) string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.index >= 0:
			fmt.Fprintf(&b, "[%d]", s.index)
		case i > 0 && needsBrackets(p[:i]):
			b.WriteString("[" + s.key + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// needsBrackets reports whether the children of the mapping at parent are
// free-form keys (labels, annotations, resource names, node selectors),
// which Kubernetes prints as [key] because they may contain dots.
func needsBrackets(parent []pathSeg) bool {
	if len(parent) == 0 {
		return false
	}
	switch parent[len(parent)-1].key {
	case "labels", "annotations", "limits", "requests", "nodeSelector", "matchLabels":
		return true
	}
	return false
}

// toJSON converts one document's root node. It returns nil JSON when a
// fatal limit was hit and the document cannot be decoded at all.
func toJSON(root *yaml.Node) ([]byte, []fieldProblem) {
	c := &converter{budget: maxNodes, buf: make([]byte, 0, 2048)}
	c.value(root, 0)
	if c.fatal {
		return nil, c.errs
	}
	return c.buf, c.errs
}

func (c *converter) value(n *yaml.Node, depth int) {
	if c.fatal {
		return
	}
	c.budget--
	if c.budget < 0 {
		c.fail(n.Line, "document expands to more than %d nodes (aliases nested too deeply?)", maxNodes)
		c.fatal = true
		return
	}
	if depth > MaxDepth {
		c.fail(n.Line, "nesting deeper than %d levels", MaxDepth)
		c.fatal = true
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			c.buf = append(c.buf, "null"...)
			return
		}
		c.value(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			c.fail(n.Line, "alias to an unknown anchor")
			c.buf = append(c.buf, "null"...)
			return
		}
		c.value(n.Alias, depth+1)
	case yaml.MappingNode:
		c.mapping(n, depth)
	case yaml.SequenceNode:
		c.buf = append(c.buf, '[')
		for i, item := range n.Content {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.path = append(c.path, pathSeg{index: i})
			c.value(item, depth+1)
			c.path = c.path[:len(c.path)-1]
		}
		c.buf = append(c.buf, ']')
	case yaml.ScalarNode:
		c.scalar(n)
	default:
		c.fail(n.Line, "unsupported YAML node")
		c.buf = append(c.buf, "null"...)
	}
}

type pair struct{ key, value *yaml.Node }

func (c *converter) mapping(n *yaml.Node, depth int) {
	pairs := make([]pair, 0, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.fail(k.Line, "mapping keys must be strings")
			continue
		}
		if ks := keyString(k); ks != k.Value {
			kc := *k
			kc.Value, kc.Style = ks, yaml.DoubleQuotedStyle
			k = &kc
		}
		dup := false
		for _, p := range pairs {
			if p.key.Value == k.Value {
				c.path = append(c.path, pathSeg{key: k.Value, index: -1})
				c.fail(k.Line, "duplicate key %q (first set on line %d)", k.Value, p.key.Line)
				c.path = c.path[:len(c.path)-1]
				dup = true
				break
			}
		}
		if !dup {
			pairs = append(pairs, pair{k, v})
		}
	}
	// YAML merge keys (<<: *base) add the keys a mapping does not set
	// itself, in the order the merged mappings are listed.
	for _, m := range merges {
		pairs = c.merge(pairs, m, depth)
	}
	c.buf = append(c.buf, '{')
	first := true
	for _, p := range pairs {
		c.path = append(c.path, pathSeg{key: p.key.Value, index: -1})
		if c.isQuantity() && !c.checkQuantity(p.value) {
			c.path = c.path[:len(c.path)-1]
			continue // reported; leaving it out lets decoding go on
		}
		if !first {
			c.buf = append(c.buf, ',')
		}
		first = false
		c.buf = appendJSONString(c.buf, p.key.Value)
		c.buf = append(c.buf, ':')
		c.value(p.value, depth+1)
		c.path = c.path[:len(c.path)-1]
	}
	c.buf = append(c.buf, '}')
}

func (c *converter) merge(pairs []pair, m *yaml.Node, depth int) []pair {
	for m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	switch m.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			set := false
			for _, p := range pairs {
				if p.key.Value == k.Value {
					set = true
					break
				}
			}
			if !set {
				pairs = append(pairs, pair{k, m.Content[i+1]})
			}
		}
	case yaml.SequenceNode:
		if depth > MaxDepth {
			return pairs
		}
		for _, item := range m.Content {
			pairs = c.merge(pairs, item, depth+1)
		}
	default:
		c.fail(m.Line, "merge key (<<) must name a mapping")
	}
	return pairs
}

// isQuantity reports whether the key on top of the path holds a
// resource.Quantity. They are checked here, with their path and line,
// because the JSON decoder reports a bad quantity without either and stops.
func (c *converter) isQuantity() bool {
	n := len(c.path)
	if n >= 3 && c.path[n-3].key == "resources" && (c.path[n-2].key == "limits" || c.path[n-2].key == "requests") {
		return true
	}
	return n >= 2 && c.path[n-2].key == "emptyDir" && c.path[n-1].key == "sizeLimit"
}

func (c *converter) checkQuantity(v *yaml.Node) bool {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		if v.Kind == yaml.ScalarNode {
			return true
		}
		c.fail(v.Line, "a quantity must be a string or a number, such as 500m or 128Mi")
		return false
	}
	if _, err := resource.ParseQuantity(v.Value); err != nil {
		c.fail(v.Line, "%v", err)
		return false
	}
	return true
}

func (c *converter) scalar(n *yaml.Node) {
	switch scalarTag(n) {
	case "!!null":
		c.buf = append(c.buf, "null"...)
	case "!!bool":
		b, ok := yaml11Bools[n.Value]
		if !ok {
			c.fail(n.Line, "invalid boolean %q", n.Value)
			c.buf = append(c.buf, "null"...)
			return
		}
		c.buf = strconv.AppendBool(c.buf, b)
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			c.buf = strconv.AppendInt(c.buf, i, 10)
			return
		}
		if u, err := strconv.ParseUint(s, 0, 64); err == nil {
			c.buf = strconv.AppendUint(c.buf, u, 10)
			return
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
			c.buf = strconv.AppendFloat(c.buf, f, 'g', -1, 64)
			return
		}
		c.fail(n.Line, "integer %q is out of range", n.Value)
		c.buf = append(c.buf, "null"...)
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if special, ok := yaml11Floats[n.Value]; ok {
			f, err = special, nil
		}
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.fail(n.Line, "number %q cannot be represented", n.Value)
			c.buf = append(c.buf, "null"...)
			return
		}
		c.buf = strconv.AppendFloat(c.buf, f, 'g', -1, 64)
	default:
		// Strings, timestamps and custom tags all reach Kubernetes types as
		// strings, as they do through sigs.k8s.io/yaml.
		c.buf = appendJSONString(c.buf, n.Value)
	}
}

// kubectl reads YAML through sigs.k8s.io/yaml, which resolves plain
// (unquoted, untagged) scalars by go-yaml v2's YAML 1.1 rules: yes/no,
// on/off and y/n are booleans, 0777 is octal, 1_000 is a thousand. berth
// parses with goyaml.v3 for its line numbers and node tree, and resolves
// plain scalars by those same v2 rules here, so a manifest means in berth
// what it means to kubectl: `readOnly: yes` is true, `suspend: off` is
// false, and an unquoted `on` as a label value is a boolean where a string
// is needed, a type error.
//
// Duplicate keys stay an error, where sigs.k8s.io/yaml lets the last one
// win: a key written twice is almost always a merge mistake, and berth
// would rather say so than pick one silently.

var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"true": true, "True": true, "TRUE": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"false": false, "False": false, "FALSE": false,
	"off": false, "Off": false, "OFF": false,
}

var yaml11Floats = map[string]float64{
	".nan": math.NaN(), ".NaN": math.NaN(), ".NAN": math.NaN(),
	".inf": math.Inf(1), ".Inf": math.Inf(1), ".INF": math.Inf(1),
	"+.inf": math.Inf(1), "+.Inf": math.Inf(1), "+.INF": math.Inf(1),
	"-.inf": math.Inf(-1), "-.Inf": math.Inf(-1), "-.INF": math.Inf(-1),
}

var yaml11Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// scalarTag is the tag a scalar resolves to as kubectl reads it: for a
// plain scalar go-yaml v2's YAML 1.1 resolution, otherwise what was
// written (quotes make a string, an explicit tag is kept).
func scalarTag(n *yaml.Node) string {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return n.ShortTag()
	}
	return resolve11(n.Value)
}

// resolve11 is go-yaml v2's resolve() for an untagged plain scalar.
func resolve11(in string) string {
	if in == "" {
		return "!!null"
	}
	switch in {
	case "~", "null", "Null", "NULL":
		return "!!null"
	case "<<":
		return "!!merge"
	}
	if _, ok := yaml11Bools[in]; ok {
		return "!!bool"
	}
	if _, ok := yaml11Floats[in]; ok {
		return "!!float"
	}
	switch c := in[0]; {
	case c == '.':
		if _, err := strconv.ParseFloat(in, 64); err == nil {
			return "!!float"
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		if isTimestamp11(in) {
			return "!!timestamp"
		}
		plain := strings.ReplaceAll(in, "_", "")
		if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return "!!int"
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return "!!int"
		}
		if yaml11Float.MatchString(plain) {
			if _, err := strconv.ParseFloat(plain, 64); err == nil {
				return "!!float"
			}
		}
		if b, ok := strings.CutPrefix(plain, "-0b"); ok {
			if _, err := strconv.ParseInt("-"+b, 2, 64); err == nil {
				return "!!int"
			}
		}
	}
	return "!!str"
}

// isTimestamp11 is go-yaml v2's parseTimestamp: a timestamp stays a string
// on its way to JSON, but must not be read as a number.
func isTimestamp11(s string) bool {
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, f := range []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00", "2006-1-2 15:4:5.999999999", "2006-1-2"} {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}

// keyString is a mapping key as sigs.k8s.io/yaml turns it into a JSON key:
// a plain key that resolves to a boolean or a number is printed as one
// (`on:` is the key "true"), anything else is its text.
func keyString(k *yaml.Node) string {
	if k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return k.Value
	}
	switch resolve11(k.Value) {
	case "!!bool":
		return strconv.FormatBool(yaml11Bools[k.Value])
	case "!!int":
		plain := strings.ReplaceAll(k.Value, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
	case "!!float":
		if f, err := strconv.ParseFloat(strings.ReplaceAll(k.Value, "_", ""), 64); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 32)
		}
	}
	return k.Value
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		ch := s[i]
		if ch < utf8.RuneSelf {
			if ch >= 0x20 && ch != '"' && ch != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch ch {
			case '"', '\\':
				b = append(b, '\\', ch)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[ch>>4], hexDigits[ch&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// lineOf finds the line of the node at a Kubernetes field path such as
// spec.containers[0].resources.limits[memory]; it returns the line of the
// deepest part of the path that exists, or def when none does.
func lineOf(root *yaml.Node, path string, def int) int {
	n := root
	line := def
	for _, seg := range splitPath(path) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return line
			}
			n = n.Content[0]
			fallthrough
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil {
				// encoding/json drops list indexes from its paths: take the
				// first item that has the key.
				next := firstItemWithKey(n, seg)
				if next == nil {
					return line
				}
				n = next
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == seg {
						line = n.Content[j].Line
						n = n.Content[j+1]
						break
					}
				}
				continue
			}
			if i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// splitPath splits a field path into keys and indexes; a bracketed part is
// one segment even when it holds dots (label keys do).
func splitPath(p string) []string {
	var segs []string
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(segs, p[1:])
			}
			segs = append(segs, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				return append(segs, p)
			}
			segs = append(segs, p[:end])
			p = p[end:]
		}
	}
	return segs
}

func firstItemWithKey(seq *yaml.Node, key string) *yaml.Node {
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == key {
				return item
			}
		}
	}
	return nil
}
