package manifest

import (
	"errors"
	"fmt"

	"filippo.io/age"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/berth-dev/berth/manifest/sops"
)

const sopsKey = sops.Key

// sopsSource is a SOPS-encrypted Secret as read from Git: the parsed
// document, the copy with blanked values that was validated, and (on the
// copy DecryptSecrets makes) the decrypted document.
type sopsSource struct {
	doc       *sops.Document
	blank     *yaml.Node
	decrypted *yaml.Node
	index     int
	line      int // of the sops key
}

// readSOPS parses the SOPS metadata of a document. apiVersion, kind and
// metadata must stay in clear so that every reader, with or without the
// key, knows what the object is.
func readSOPS(root *yaml.Node, index int) (*sopsSource, []fieldProblem) {
	doc, err := sops.Read(root)
	if err != nil {
		var se *sops.Error
		if errors.As(err, &se) {
			return nil, []fieldProblem{{path: se.Field, line: se.Line, message: se.Message}}
		}
		return nil, []fieldProblem{{path: sopsKey, line: root.Line, message: err.Error()}}
	}
	var problems []fieldProblem
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		if doc.Encrypted(k) {
			problems = append(problems, fieldProblem{path: k, line: lineOf(root, k, root.Line),
				message: "is encrypted: encrypt only a Secret's values (sops --encrypt --encrypted-regex '^(data|stringData)$')"})
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &sopsSource{doc: doc, blank: doc.Blank(), index: index, line: lineOf(root, sopsKey, root.Line)}, nil
}

// IdentitySource gives the age identities that decrypt Secrets. The
// server reads them from its data dir; berth validate from a file given
// on the command line, or not at all.
type IdentitySource interface {
	AgeIdentities() ([]age.Identity, error)
}

// Identities is a fixed list of identities as an IdentitySource.
type Identities []age.Identity

// AgeIdentities returns the list.
func (l Identities) AgeIdentities() ([]age.Identity, error) { return l, nil }

// DecryptSecrets returns objs with every SOPS-encrypted Secret decrypted
// in memory with ids. Objects are shared read-only between snapshots, so
// a decrypted Secret is a new Object; the others are returned as they
// are. A Secret that cannot be decrypted (no identity opens it, a value
// or the MAC does not verify, or its plain content is invalid) is an
// error at its file and line, and is left out.
func DecryptSecrets(objs []Object, ids IdentitySource) ([]Object, ErrorList) {
	var list []age.Identity
	var errs ErrorList
	need := false
	for i := range objs {
		need = need || (objs[i].Secret != nil && objs[i].Secret.sops != nil)
	}
	if !need {
		return objs, nil
	}
	if ids != nil {
		var err error
		if list, err = ids.AgeIdentities(); err != nil {
			return objs, ErrorList{{File: "(age identity)", Message: fmt.Sprintf("read age identities: %v", err)}}
		}
	}
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		if o.Secret == nil || o.Secret.sops == nil || o.Secret.Decrypted {
			out = append(out, o)
			continue
		}
		src := o.Secret.sops
		plain, err := src.doc.Decrypt(list)
		if err != nil {
			e := &Error{File: o.File, Line: o.Line, Field: sopsKey, Message: err.Error()}
			var se *sops.Error
			if errors.As(err, &se) {
				e.Field, e.Message = se.Field, se.Message
				if se.Line > 0 {
					e.Line = se.Line
				}
			}
			errs = append(errs, e)
			continue
		}
		s := *src
		s.decrypted = plain
		d := &docErrors{file: o.File, root: plain, seen: map[string]bool{}}
		no, derrs := decodeNode(d, o.File, plain, src.index, &s)
		if len(derrs) > 0 {
			errs = append(errs, derrs...)
			continue
		}
		out = append(out, *no)
	}
	errs.Sort()
	return out, errs
}

// EncryptedSecrets lists the Secrets that are SOPS-encrypted in Git and
// not decrypted (berth validate without an identity reports them).
func EncryptedSecrets(objs []Object) []Key {
	var keys []Key
	for i := range objs {
		if s := objs[i].Secret; s != nil && s.Encrypted && !s.Decrypted {
			keys = append(keys, objs[i].Key())
		}
	}
	return keys
}
