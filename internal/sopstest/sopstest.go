// Package sopstest encrypts a YAML document the way `sops --encrypt --age`
// does, for tests only. Debian 12 packages no sops binary, so berth's
// tests build their SOPS files with this encoder, written from the SOPS
// format (getsops/sops: aes/cipher.go, sops.go Tree.Encrypt, stores/):
// every value AES-256-GCM with a 32-byte IV and the key path joined by
// ":" plus a trailing ":" as additional data; a SHA-512 MAC over every
// value in document order (True/False for booleans), printed as upper-case
// hex and encrypted with the last-modified time (RFC 3339) as additional
// data; the 32-byte data key wrapped for each recipient as an armored age
// file. Nothing here is shipped code.
package sopstest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Options are what sops takes on its command line.
type Options struct {
	// EncryptedRegex is --encrypted-regex: only values under a key that
	// matches are encrypted. Empty: every value is, except under keys that
	// end in _unencrypted (SOPS' default).
	EncryptedRegex string
	// LastModified is the time written to the metadata (default: now).
	LastModified time.Time
}

// Encrypt returns plain (one YAML mapping document) encrypted for the
// recipients, with the sops metadata key appended.
func Encrypt(plain []byte, recipients []*age.X25519Recipient, opts Options) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(plain, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("want one mapping document")
	}
	root := doc.Content[0]
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if opts.EncryptedRegex != "" {
		var err error
		if re, err = regexp.Compile(opts.EncryptedRegex); err != nil {
			return nil, err
		}
	}
	encrypted := func(path []string) bool {
		if re != nil {
			for _, p := range path {
				if re.MatchString(p) {
					return true
				}
			}
			return false
		}
		for _, p := range path {
			if strings.HasSuffix(p, "_unencrypted") {
				return false
			}
		}
		return true
	}
	h := sha512.New()
	var walk func(n *yaml.Node, path []string) error
	walk = func(n *yaml.Node, path []string) error {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := walk(n.Content[i+1], append(path[:len(path):len(path)], n.Content[i].Value)); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if err := walk(item, path); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			var v any
			if err := n.Decode(&v); err != nil {
				return err
			}
			var typ string
			var b []byte
			switch v := v.(type) {
			case nil:
				return nil
			case string:
				typ, b = "str", []byte(v)
			case int:
				typ, b = "int", []byte(strconv.Itoa(v))
			case float64:
				typ, b = "float", []byte(strconv.FormatFloat(v, 'f', -1, 64))
			case bool:
				typ, b = "bool", []byte("False")
				if v {
					b = []byte("True")
				}
			default:
				return fmt.Errorf("unsupported value type %T", v)
			}
			h.Write(b)
			if !encrypted(path) {
				return nil
			}
			if typ == "str" && len(b) == 0 {
				return nil // SOPS leaves empty strings as they are
			}
			enc, err := seal(key, b, strings.Join(path, ":")+":", typ)
			if err != nil {
				return err
			}
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: enc, Line: n.Line, Column: n.Column}
		}
		return nil
	}
	if err := walk(root, nil); err != nil {
		return nil, err
	}
	lm := opts.LastModified
	if lm.IsZero() {
		lm = time.Now()
	}
	lastModified := lm.UTC().Format(time.RFC3339)
	mac, err := seal(key, []byte(fmt.Sprintf("%X", h.Sum(nil))), lastModified, "str")
	if err != nil {
		return nil, err
	}
	ageList := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range recipients {
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		w, err := age.Encrypt(aw, r)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(key); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if err := aw.Close(); err != nil {
			return nil, err
		}
		ageList.Content = append(ageList.Content, mapping("recipient", str(r.String()), "enc", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.LiteralStyle, Value: buf.String()}))
	}
	meta := mapping("age", ageList, "lastmodified", str(lastModified), "mac", str(mac))
	if opts.EncryptedRegex != "" {
		meta.Content = append(meta.Content, str("encrypted_regex"), str(opts.EncryptedRegex))
	} else {
		meta.Content = append(meta.Content, str("unencrypted_suffix"), str("_unencrypted"))
	}
	meta.Content = append(meta.Content, str("version"), str("3.10.2"))
	root.Content = append(root.Content, str("sops"), meta)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(4)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

func seal(key, plain []byte, aad, typ string) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 32)
	if err != nil {
		return "", err
	}
	iv := make([]byte, 32)
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	out := gcm.Seal(nil, iv, plain, []byte(aad))
	n := len(out) - 16
	return fmt.Sprintf("ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]",
		base64.StdEncoding.EncodeToString(out[:n]), base64.StdEncoding.EncodeToString(iv),
		base64.StdEncoding.EncodeToString(out[n:]), typ), nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

// Forms lists the ways a secret value can stand in a file or an answer
// that leaked it: as it is, and base64-encoded (JSON's form of []byte,
// Kubernetes' data) at each of the three alignments, each trimmed to the
// characters that depend on the value alone. A test that looks for a leak
// looks for every form.
func Forms(value string) []string {
	out := []string{value}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", k) + value))
		if k > 0 {
			enc = enc[4:]
		}
		if len(enc) > 8 {
			out = append(out, enc[:len(enc)-4])
		}
	}
	return out
}
