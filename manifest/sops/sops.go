// Package sops reads YAML documents encrypted by SOPS (getsops/sops) for
// age recipients and decrypts them in memory.
//
// It reads the SOPS document format directly instead of importing
// github.com/getsops/sops/v3: that module links every cloud KMS SDK (AWS,
// GCP, Azure, Vault, HuaweiCloud) and a PGP stack into the server for a
// format that is small and stable — AES-256-GCM values written as
// ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] with the key path as
// additional data, a data key wrapped for each age recipient as an armored
// age file, and a SHA-512 MAC over the values, itself encrypted with the
// last-modified time as additional data. Only age recipients are read;
// files for other key services and Shamir key groups are refused by name.
//
// Values are never put into an error or any string this package returns.
package sops

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Key is the top-level key that holds SOPS' metadata in an encrypted file.
const Key = "sops"

// maxNodes bounds the size of a document this package walks.
const maxNodes = 100000

// Errors callers branch on.
var (
	// ErrNoIdentity: none of the identities opens the data key.
	ErrNoIdentity = errors.New("no age identity given can decrypt this file's data key")
	// ErrMAC: the values do not match the MAC written when the file was
	// encrypted; it was changed afterwards (or is corrupt).
	ErrMAC = errors.New("MAC mismatch: the file was changed after it was encrypted")
)

// Error is a problem at a place in the document. It never holds a value.
type Error struct {
	Line    int
	Field   string
	Message string
	Err     error // one of the Err* values, when one applies
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Document is one SOPS-encrypted YAML document.
type Document struct {
	root *yaml.Node // the mapping as written, the sops key included
	meta metadata
}

type metadata struct {
	line              int
	age               []ageKey
	lastModified      string // as SOPS formats it: RFC 3339
	mac               string
	unencryptedSuffix string
	encryptedSuffix   string
	unencryptedRegex  *regexp.Regexp
	encryptedRegex    *regexp.Regexp
	macOnlyEncrypted  bool
}

type ageKey struct {
	recipient string
	enc       string
}

// Read parses the SOPS metadata of a document (a mapping node with a top
// level "sops" key) and checks that every value the metadata says is
// encrypted is. It does not need a key.
func Read(root *yaml.Node) (*Document, error) {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, &Error{Message: "a SOPS document must be a mapping"}
	}
	d := &Document{root: root}
	var metaNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == Key {
			metaNode = root.Content[i+1]
			d.meta.line = root.Content[i].Line
		}
	}
	if metaNode == nil {
		return nil, &Error{Message: "no sops metadata"}
	}
	if err := d.meta.read(metaNode); err != nil {
		return nil, err
	}
	budget := maxNodes
	err := walk(root, nil, &budget, func(n *yaml.Node, path []string) error {
		if !d.meta.encrypted(path) || isNull(n) {
			return nil
		}
		if n.Value != "" && !encRE.MatchString(n.Value) {
			return &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "the sops metadata says this value is encrypted, but it is not (was the file edited after encryption?)"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (m *metadata) read(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &Error{Line: n.Line, Field: Key, Message: "must be a mapping"}
	}
	var others []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := Key + "." + k.Value
		str := func() (string, error) {
			if v.Kind != yaml.ScalarNode {
				return "", &Error{Line: v.Line, Field: field, Message: "must be a string"}
			}
			return v.Value, nil
		}
		re := func() (*regexp.Regexp, error) {
			s, err := str()
			if err != nil || s == "" {
				return nil, err
			}
			r, err := regexp.Compile(s)
			if err != nil {
				return nil, &Error{Line: v.Line, Field: field, Message: "invalid regular expression: " + err.Error()}
			}
			return r, nil
		}
		var err error
		switch k.Value {
		case "age":
			if v.Kind != yaml.SequenceNode {
				if isNull(v) {
					continue
				}
				return &Error{Line: v.Line, Field: field, Message: "must be a list of recipients"}
			}
			for _, item := range v.Content {
				var a ageKey
				if item.Kind != yaml.MappingNode {
					return &Error{Line: item.Line, Field: field, Message: "each recipient must be a mapping with recipient and enc"}
				}
				for j := 0; j+1 < len(item.Content); j += 2 {
					switch item.Content[j].Value {
					case "recipient":
						a.recipient = item.Content[j+1].Value
					case "enc":
						a.enc = item.Content[j+1].Value
					}
				}
				if a.enc == "" {
					return &Error{Line: item.Line, Field: field + ".enc", Message: "Required value: the data key encrypted for this recipient"}
				}
				m.age = append(m.age, a)
			}
		case "lastmodified":
			var s string
			if s, err = str(); err == nil {
				t, perr := time.Parse(time.RFC3339, s)
				if perr != nil {
					return &Error{Line: v.Line, Field: field, Message: "must be an RFC 3339 time"}
				}
				m.lastModified = t.Format(time.RFC3339)
			}
		case "mac":
			m.mac, err = str()
		case "unencrypted_suffix":
			m.unencryptedSuffix, err = str()
		case "encrypted_suffix":
			m.encryptedSuffix, err = str()
		case "unencrypted_regex":
			m.unencryptedRegex, err = re()
		case "encrypted_regex":
			m.encryptedRegex, err = re()
		case "mac_only_encrypted":
			m.macOnlyEncrypted = v.Kind == yaml.ScalarNode && (v.Value == "true" || v.Value == "True")
		case "version":
		case "kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "hckms":
			if !isNull(v) && !(v.Kind == yaml.SequenceNode && len(v.Content) == 0) {
				others = append(others, k.Value)
			}
		case "key_groups", "shamir_threshold":
			if !isNull(v) && !(v.Kind == yaml.SequenceNode && len(v.Content) == 0) && !(k.Value == "shamir_threshold" && v.Value == "0") {
				return &Error{Line: k.Line, Field: field, Message: "not supported by berth: key groups (Shamir secret sharing); encrypt for age recipients only"}
			}
		case "unencrypted_comment_regex", "encrypted_comment_regex":
			if !isNull(v) && v.Value != "" {
				return &Error{Line: k.Line, Field: field, Message: "not supported by berth: choose what is encrypted by key (--encrypted-regex), not by comment"}
			}
		default:
			return &Error{Line: k.Line, Field: field, Message: "unknown SOPS metadata field"}
		}
		if err != nil {
			return err
		}
	}
	switch {
	case len(m.age) == 0 && len(others) > 0:
		return &Error{Line: n.Line, Field: Key, Message: fmt.Sprintf("no age recipient: berth decrypts with age only, this file is encrypted for %s", strings.Join(others, ", "))}
	case len(m.age) == 0:
		return &Error{Line: n.Line, Field: Key + ".age", Message: "Required value: at least one age recipient"}
	case m.lastModified == "":
		return &Error{Line: n.Line, Field: Key + ".lastmodified", Message: "Required value"}
	case m.mac == "":
		return &Error{Line: n.Line, Field: Key + ".mac", Message: "Required value"}
	}
	if m.unencryptedSuffix == "" && m.encryptedSuffix == "" && m.unencryptedRegex == nil && m.encryptedRegex == nil {
		m.unencryptedSuffix = "_unencrypted" // SOPS' default when nothing is chosen
	}
	return nil
}

// encrypted is SOPS' rule for whether the value at path is encrypted:
// the last matching rule in this order wins.
func (m *metadata) encrypted(path []string) bool {
	enc := true
	if m.unencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, m.unencryptedSuffix) {
				enc = false
				break
			}
		}
	}
	if m.encryptedSuffix != "" {
		enc = false
		for _, p := range path {
			if strings.HasSuffix(p, m.encryptedSuffix) {
				enc = true
				break
			}
		}
	}
	if m.unencryptedRegex != nil {
		for _, p := range path {
			if m.unencryptedRegex.MatchString(p) {
				enc = false
				break
			}
		}
	}
	if m.encryptedRegex != nil {
		enc = false
		for _, p := range path {
			if m.encryptedRegex.MatchString(p) {
				enc = true
				break
			}
		}
	}
	return enc
}

// Encrypted reports whether the value at the top-level key is encrypted
// (used to insist that apiVersion, kind and metadata stay readable).
func (d *Document) Encrypted(key string) bool { return d.meta.encrypted([]string{key}) }

// Recipients lists the age recipients the data key is encrypted for.
func (d *Document) Recipients() []string {
	out := make([]string, len(d.meta.age))
	for i, a := range d.meta.age {
		out[i] = a.recipient
	}
	return out
}

// Blank returns a copy of the document without the sops key, in which
// every encrypted value is an empty string: its structure (keys, lines)
// can be checked without the key.
func (d *Document) Blank() *yaml.Node {
	return d.transform(func(n *yaml.Node, path []string) (*yaml.Node, error) {
		if d.meta.encrypted(path) && !isNull(n) {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Line: n.Line, Column: n.Column}, nil
		}
		return nil, nil
	})
}

// Decrypt opens the data key with the first identity that can, decrypts
// every value, verifies the MAC and returns the plain document (without
// the sops key). Decrypted strings are double-quoted scalars, so YAML
// resolution cannot change them.
func (d *Document) Decrypt(ids []age.Identity) (*yaml.Node, error) {
	if len(ids) == 0 {
		return nil, &Error{Line: d.meta.line, Field: Key, Message: ErrNoIdentity.Error(), Err: ErrNoIdentity}
	}
	key, err := d.dataKey(ids)
	if err != nil {
		return nil, err
	}
	h := sha512.New()
	if d.meta.macOnlyEncrypted {
		h.Write(macOnlyEncryptedInit)
	}
	plain, err := d.transformErr(func(n *yaml.Node, path []string) (*yaml.Node, error) {
		if isNull(n) {
			return nil, nil
		}
		enc := d.meta.encrypted(path)
		var out *yaml.Node
		var macBytes []byte
		if enc {
			v, typ, err := decryptValue(n.Value, key, strings.Join(path, ":")+":")
			if err != nil {
				return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "cannot decrypt value: " + err.Error()}
			}
			out = &yaml.Node{Kind: yaml.ScalarNode, Line: n.Line, Column: n.Column}
			switch typ {
			case "str", "bytes", "time":
				out.Tag, out.Style, out.Value = "!!str", yaml.DoubleQuotedStyle, string(v)
			case "int":
				if _, err := strconv.Atoi(string(v)); err != nil {
					return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "decrypted value of type int is not an integer"}
				}
				out.Tag, out.Value = "!!int", string(v)
			case "float":
				if _, err := strconv.ParseFloat(string(v), 64); err != nil {
					return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "decrypted value of type float is not a number"}
				}
				out.Tag, out.Value = "!!float", string(v)
			case "bool":
				b, err := strconv.ParseBool(string(v))
				if err != nil {
					return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "decrypted value of type bool is not a boolean"}
				}
				out.Tag, out.Value = "!!bool", strconv.FormatBool(b)
				v = []byte(pyBool(b))
			default:
				return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: fmt.Sprintf("unknown SOPS value type %q", typ)}
			}
			macBytes = v
		} else {
			var err error
			if macBytes, err = plainBytes(n); err != nil {
				return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: err.Error()}
			}
		}
		if !d.meta.macOnlyEncrypted || enc {
			h.Write(macBytes)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	want, typ, err := decryptValue(d.meta.mac, key, d.meta.lastModified)
	if err != nil || typ != "str" {
		return nil, &Error{Line: d.meta.line, Field: Key + ".mac", Message: ErrMAC.Error(), Err: ErrMAC}
	}
	got := fmt.Sprintf("%X", h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
		return nil, &Error{Line: d.meta.line, Field: Key + ".mac", Message: ErrMAC.Error(), Err: ErrMAC}
	}
	return plain, nil
}

// macOnlyEncryptedInit is the constant SOPS starts the MAC with when
// mac_only_encrypted is set, so the two kinds of MAC never agree.
var macOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// plainBytes is what SOPS feeds the MAC for a value it did not encrypt:
// the value as yaml.v3 decodes it, printed as SOPS prints it.
func plainBytes(n *yaml.Node) ([]byte, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, errors.New("cannot read value")
	}
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int:
		return []byte(strconv.Itoa(v)), nil
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		return []byte(pyBool(v)), nil
	case time.Time:
		return v.MarshalText()
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("SOPS cannot read a value of type %T", v)
}

func (d *Document) dataKey(ids []age.Identity) ([]byte, error) {
	for _, a := range d.meta.age {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(a.enc)), ids...)
		if err != nil {
			continue
		}
		key, err := io.ReadAll(io.LimitReader(r, 64))
		if err == nil && len(key) == 32 {
			return key, nil
		}
	}
	return nil, &Error{Line: d.meta.line, Field: Key + ".age", Message: fmt.Sprintf("%v (recipients: %s)", ErrNoIdentity, strings.Join(d.Recipients(), ", ")), Err: ErrNoIdentity}
}

var encRE = regexp.MustCompile(`^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:([a-z]+)\]$`)

// decryptValue opens one ENC[…] value. The empty string is SOPS' encoding
// of an empty value.
func decryptValue(s string, key []byte, aad string) ([]byte, string, error) {
	if s == "" {
		return nil, "str", nil
	}
	m := encRE.FindStringSubmatch(s)
	if m == nil {
		return nil, "", errors.New("not in SOPS' ENC[AES256_GCM,…] format")
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, "", errors.New("invalid base64 in encrypted value")
		}
		parts[i] = b
	}
	data, iv, tag := parts[0], parts[1], parts[2]
	if len(iv) == 0 || len(tag) != 16 {
		return nil, "", errors.New("invalid iv or tag length")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, "", err
	}
	plain, err := gcm.Open(nil, iv, append(bytes.Clone(data), tag...), []byte(aad))
	if err != nil {
		return nil, "", errors.New("authentication failed (wrong key, or the value or its place was changed)")
	}
	return plain, m[4], nil
}

// walk calls fn for every scalar leaf under the top-level mapping except
// the sops key, with the path of mapping keys (list indexes are not part
// of it, as in SOPS).
func walk(root *yaml.Node, path []string, budget *int, fn func(n *yaml.Node, path []string) error) error {
	_, err := transformNode(root, path, budget, true, func(n *yaml.Node, p []string) (*yaml.Node, error) {
		return nil, fn(n, p)
	})
	return err
}

func (d *Document) transform(fn func(n *yaml.Node, path []string) (*yaml.Node, error)) *yaml.Node {
	out, _ := d.transformErr(fn)
	return out
}

func (d *Document) transformErr(fn func(n *yaml.Node, path []string) (*yaml.Node, error)) (*yaml.Node, error) {
	budget := maxNodes
	return transformNode(d.root, nil, &budget, true, fn)
}

// transformNode copies n, replacing each scalar leaf with what fn returns
// (nil keeps a copy of the leaf). Anchors and aliases are refused: SOPS
// expands them, which would make the MAC depend on expansion order.
func transformNode(n *yaml.Node, path []string, budget *int, top bool, fn func(n *yaml.Node, path []string) (*yaml.Node, error)) (*yaml.Node, error) {
	*budget--
	if *budget < 0 {
		return nil, &Error{Line: n.Line, Message: "document too large"}
	}
	if len(path) > 64 {
		return nil, &Error{Line: n.Line, Message: "nesting too deep"}
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return nil, &Error{Line: n.Line, Field: strings.Join(path, "."), Message: "anchors and aliases are not supported in a SOPS-encrypted document"}
	}
	c := *n
	c.Content = nil
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if top && k.Value == Key {
				continue
			}
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, &Error{Line: k.Line, Field: strings.Join(path, "."), Message: "mapping keys must be strings"}
			}
			nv, err := transformNode(v, append(path[:len(path):len(path)], k.Value), budget, false, fn)
			if err != nil {
				return nil, err
			}
			kc := *k
			c.Content = append(c.Content, &kc, nv)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			nv, err := transformNode(item, path, budget, false, fn)
			if err != nil {
				return nil, err
			}
			c.Content = append(c.Content, nv)
		}
	case yaml.ScalarNode:
		r, err := fn(n, path)
		if err != nil {
			return nil, err
		}
		if r != nil {
			return r, nil
		}
	default:
		return nil, &Error{Line: n.Line, Message: "unsupported YAML node"}
	}
	return &c, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }
