package manifest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func decodeFile(name string, data []byte, skip map[string]bool) ([]Object, ErrorList) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: name, Message: errTooLarge.Error()}}
	}
	var objs []Object
	var errs ErrorList
	sopsLine, nonEmpty := 0, 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for docs := 0; ; docs++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlError(name, err))
			break // the parser cannot resynchronise after a syntax error
		}
		if docs >= MaxDocuments {
			errs = append(errs, &Error{File: name, Line: doc.Line, Message: fmt.Sprintf("more than %d documents in one file", MaxDocuments)})
			break
		}
		if len(doc.Content) == 0 || isUnset(doc.Content[0]) {
			continue // an empty document between two "---" is allowed
		}
		nonEmpty++
		if doc.Content[0].Kind == yaml.MappingNode && hasKey(doc.Content[0], sopsKey) && sopsLine == 0 {
			sopsLine = doc.Content[0].Line
		}
		obj, derrs := decodeOrSkip(name, doc.Content[0], docs, skip)
		errs = append(errs, derrs...)
		if obj != nil && len(derrs) == 0 {
			objs = append(objs, *obj)
		}
	}
	if sopsLine > 0 && nonEmpty > 1 {
		// SOPS computes one MAC over every document of a file; berth reads
		// a SOPS file only when it holds one document.
		errs = append(errs, &Error{File: name, Line: sopsLine, Field: sopsKey, Message: "a SOPS-encrypted file must hold exactly one document"})
		objs = nil
	}
	errs.Sort()
	return objs, errs
}

func yamlError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Message: "invalid YAML: " + m[2]}
	}
	return &Error{File: name, Message: "invalid YAML: " + msg}
}

// kinds maps each kind to its apiVersion and a constructor of its type.
var kinds = map[Kind]struct {
	apiVersion string
	make       func() any
}{
	KindPod:                   {"v1", func() any { return &corev1.Pod{} }},
	KindDeployment:            {"apps/v1", func() any { return &appsv1.Deployment{} }},
	KindJob:                   {"batch/v1", func() any { return &batchv1.Job{} }},
	KindCronJob:               {"batch/v1", func() any { return &batchv1.CronJob{} }},
	KindConfigMap:             {"v1", func() any { return &corev1.ConfigMap{} }},
	KindSecret:                {"v1", func() any { return &corev1.Secret{} }},
	KindNamespace:             {"v1", func() any { return &corev1.Namespace{} }},
	KindService:               {"v1", func() any { return &corev1.Service{} }},
	KindStatefulSet:           {"apps/v1", func() any { return &appsv1.StatefulSet{} }},
	KindDaemonSet:             {"apps/v1", func() any { return &appsv1.DaemonSet{} }},
	KindPersistentVolumeClaim: {"v1", func() any { return &corev1.PersistentVolumeClaim{} }},
	KindStorageClass:          {"storage.k8s.io/v1", func() any { return &storagev1.StorageClass{} }},
}

// docErrors collects one document's problems and places each on a line.
type docErrors struct {
	file string
	root *yaml.Node
	errs ErrorList
	seen map[string]bool // field paths already reported
}

func (d *docErrors) add(path string, line int, msg string) {
	if line == 0 {
		line = lineOf(d.root, path, d.root.Line)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: path, Message: msg})
	d.seen[path] = true
}

func (d *docErrors) addField(errs field.ErrorList) {
	for _, e := range errs {
		if d.seen[e.Field] {
			continue
		}
		d.add(e.Field, 0, e.ErrorBody())
	}
}

// decodeDocument decodes one document; index is its place in the file,
// which seeds the name of an object that has only metadata.generateName.
func decodeDocument(file string, root *yaml.Node, index int) (*Object, ErrorList) {
	d := &docErrors{file: file, root: root, seen: map[string]bool{}}
	if root.Kind != yaml.MappingNode {
		d.add("", root.Line, "a document must be a mapping with apiVersion, kind and metadata")
		return nil, d.errs
	}
	// A SOPS document is decoded with its encrypted values blanked: the
	// structure (kind, metadata, keys) is checked without the key, and
	// DecryptSecrets decodes it again once the values are known.
	var src *sopsSource
	if hasKey(root, sopsKey) {
		var problems []fieldProblem
		src, problems = readSOPS(root, index)
		for _, p := range problems {
			d.add(p.path, p.line, p.message)
		}
		if src == nil {
			return nil, d.errs
		}
		root = src.blank
		d.root = root
	}
	return decodeNode(d, file, root, index, src)
}

func decodeNode(d *docErrors, file string, root *yaml.Node, index int, src *sopsSource) (*Object, ErrorList) {
	js, problems := toJSON(root)
	for _, p := range problems {
		d.add(p.path, p.line, p.message)
	}
	if js == nil {
		return nil, d.redacted(root)
	}
	apiVersion, kind := scalarField(root, "apiVersion"), scalarField(root, "kind")
	k, ok := kinds[Kind(kind)]
	switch {
	case kind == "":
		d.add("kind", 0, "Required value: every document needs a kind")
		return nil, d.errs
	case !ok:
		d.add("kind", 0, fmt.Sprintf("unknown kind %q: berth reads Pod, Service, ConfigMap, Secret, Namespace and PersistentVolumeClaim (v1), Deployment, StatefulSet and DaemonSet (apps/v1), Job and CronJob (batch/v1), StorageClass (storage.k8s.io/v1)", kind))
		return nil, d.errs
	case apiVersion == "":
		d.add("apiVersion", 0, fmt.Sprintf("Required value: %s needs apiVersion %s", kind, k.apiVersion))
		return nil, d.errs
	case apiVersion != k.apiVersion:
		d.add("apiVersion", 0, fmt.Sprintf("unknown apiVersion %q for %s: berth reads %s", apiVersion, kind, k.apiVersion))
		return nil, d.errs
	case src != nil && Kind(kind) != KindSecret:
		d.add(sopsKey, src.line, fmt.Sprintf("only a Secret may be SOPS-encrypted, not a %s", kind))
		return nil, d.errs
	}

	obj := k.make()
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowUnknownFields)
	unknown := map[string]bool{}
	for _, se := range strict {
		path, msg := strictError(se)
		unknown[path] = true
		d.add(path, 0, msg)
	}
	if err != nil {
		path, msg := typeError(err)
		d.add(path, 0, msg)
		return nil, d.redacted(root)
	}
	for _, p := range checkSupported(Kind(kind), root, unknown) {
		d.add(p.path, p.line, p.message)
	}
	if m, ok := obj.(metav1.Object); ok && m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(generatedName(m.GetGenerateName(), file, kind, index))
	}

	o := &Object{Kind: Kind(kind), File: file, Line: root.Line}
	switch v := obj.(type) {
	case *corev1.Pod:
		o.Pod = v
		d.addField(validatePod(v))
	case *appsv1.Deployment:
		o.Deployment = v
		d.addField(validateDeployment(v))
	case *batchv1.Job:
		o.Job = v
		d.addField(validateJob(v))
	case *batchv1.CronJob:
		o.CronJob = v
		d.addField(validateCronJob(v))
	case *corev1.ConfigMap:
		o.ConfigMap = v
		d.addField(validateConfigMap(v))
	case *corev1.Secret:
		d.addField(validateSecret(v, src != nil && src.decrypted == nil))
		o.Secret = newSecret(v)
		if src != nil {
			o.Secret.Encrypted, o.Secret.sops = true, src
			o.Secret.Decrypted = src.decrypted != nil
		} else if len(v.Data)+len(v.StringData) > 0 {
			f := "data"
			if len(v.Data) == 0 {
				f = "stringData"
			}
			o.Warnings = append(o.Warnings, &Error{File: file, Line: lineOf(root, f, root.Line), Field: f,
				Message: "this Secret's values are in Git in clear text: encrypt it with sops and age (see the README, Secrets in Git)"})
		}
	case *corev1.Namespace:
		o.NamespaceObject = v
		d.addField(validateNamespace(v))
	case *corev1.Service:
		o.Service = v
		d.addField(validateService(v))
	case *appsv1.StatefulSet:
		o.StatefulSet = v
		d.addField(validateStatefulSet(v))
	case *appsv1.DaemonSet:
		o.DaemonSet = v
		d.addField(validateDaemonSet(v))
	case *corev1.PersistentVolumeClaim:
		o.PersistentVolumeClaim = v
		d.addField(validatePVC(v))
	case *storagev1.StorageClass:
		o.StorageClass = v
		d.addField(validateStorageClass(v))
		if w := storageClassWarning(v); w != "" {
			o.Warnings = append(o.Warnings, &Error{File: file, Line: lineOf(root, "parameters", root.Line), Field: "parameters", Message: w})
		}
	}
	if len(d.errs) > 0 {
		return nil, d.redacted(root)
	}
	setDefaults(o)
	o.refs = collectRefs(o, root)
	return o, nil
}

// generatedName gives an object that sets only metadata.generateName a
// name as Kubernetes' name generator shapes it (the prefix cut to 58
// characters, then 5 characters), but derived from where the object is
// written instead of random, so every read of the same tree names it the
// same and berth does not create it again on each revision.
func generatedName(prefix, file, kind string, index int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' utilrand alphabet
	const maxPrefix = validation.DNS1123LabelMaxLength - 5
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%s", file, kind, index, prefix)))
	b := []byte(prefix)
	for i := 0; i < 5; i++ {
		b = append(b, alphabet[int(sum[i])%len(alphabet)])
	}
	return string(b)
}

// hasKey reports whether a mapping has key at its top level.
func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// redacted returns the document's errors with every Secret value that
// appears quoted in a message replaced (messages quote the values they
// show), and longer values wherever they appear, so no error carries a
// secret.
func (d *docErrors) redacted(root *yaml.Node) ErrorList {
	if scalarField(root, "kind") != string(KindSecret) {
		return d.errs
	}
	var values []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		if f := root.Content[i].Value; (f != "data" && f != "stringData") || root.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := root.Content[i+1]
		for j := 1; j < len(m.Content); j += 2 {
			if v := m.Content[j].Value; v != "" {
				values = append(values, v)
			}
		}
	}
	const hidden = "<secret contents redacted>"
	for _, e := range d.errs {
		for _, v := range values {
			e.Message = strings.ReplaceAll(e.Message, strconv.Quote(v), `"`+hidden+`"`)
			if len(v) >= 6 {
				e.Message = strings.ReplaceAll(e.Message, v, hidden)
			}
		}
	}
	return d.errs
}

// scalarField returns a top-level scalar value of a mapping, or "".
func scalarField(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// strictError turns sigs.k8s.io/json's `unknown field "a.b[0].c"` into a
// path and a message.
func strictError(err error) (string, string) {
	msg := err.Error()
	if p, ok := strings.CutPrefix(msg, `unknown field "`); ok {
		return strings.TrimSuffix(p, `"`), "unknown field"
	}
	if p, ok := strings.CutPrefix(msg, `duplicate field "`); ok {
		return strings.TrimSuffix(p, `"`), "duplicate field"
	}
	return "", msg
}

var typeErrorRE = regexp.MustCompile(`^json: cannot unmarshal (.+?) into Go struct field \w+\.(\S+) of type (\S+)$`)

// typeError turns a JSON type error into a field path (without list
// indexes, which encoding/json does not keep) and a message.
func typeError(err error) (string, string) {
	if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		// encoding/json names embedded Go structs in the path
		// (spec.volumes.VolumeSource.nfs); JSON names are lower case.
		segs := strings.Split(m[2], ".")
		path := segs[:0]
		for _, s := range segs {
			if s != "" && (s[0] < 'A' || s[0] > 'Z') {
				path = append(path, s)
			}
		}
		return strings.Join(path, "."), fmt.Sprintf("wrong type: expected %s, got %s", goTypeName(m[3]), m[1])
	}
	return "", strings.TrimPrefix(err.Error(), "json: ")
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean (true or false)"
	case t == "[]uint8":
		return "a base64-encoded string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "v1.") || strings.Contains(t, "."):
		return "a mapping (" + t + ")"
	}
	return t
}
