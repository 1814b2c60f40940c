package manifest

import (
	"bytes"
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
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func decodeFile(name string, data []byte) ([]Object, ErrorList) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: name, Message: errTooLarge.Error()}}
	}
	var objs []Object
	var errs ErrorList
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
		obj, derrs := decodeDocument(name, doc.Content[0])
		errs = append(errs, derrs...)
		if obj != nil && len(derrs) == 0 {
			objs = append(objs, *obj)
		}
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
	KindPod:        {"v1", func() any { return &corev1.Pod{} }},
	KindDeployment: {"apps/v1", func() any { return &appsv1.Deployment{} }},
	KindJob:        {"batch/v1", func() any { return &batchv1.Job{} }},
	KindCronJob:    {"batch/v1", func() any { return &batchv1.CronJob{} }},

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

func decodeDocument(file string, root *yaml.Node) (*Object, ErrorList) {
	d := &docErrors{file: file, root: root, seen: map[string]bool{}}
	if root.Kind != yaml.MappingNode {
		d.add("", root.Line, "a document must be a mapping with apiVersion, kind and metadata")
		return nil, d.errs
	}
	js, problems := toJSON(root)
	for _, p := range problems {
		d.add(p.path, p.line, p.message)
	}
	if js == nil {
		return nil, d.errs
	}
	apiVersion, kind := scalarField(root, "apiVersion"), scalarField(root, "kind")
	k, ok := kinds[Kind(kind)]
	switch {
	case kind == "":
		d.add("kind", 0, "Required value: every document needs a kind")
		return nil, d.errs
	case !ok:
		d.add("kind", 0, fmt.Sprintf("unknown kind %q: berth reads Pod and PersistentVolumeClaim (v1), Deployment, StatefulSet and DaemonSet (apps/v1), Job and CronJob (batch/v1), StorageClass (storage.k8s.io/v1)", kind))
		return nil, d.errs
	case apiVersion == "":
		d.add("apiVersion", 0, fmt.Sprintf("Required value: %s needs apiVersion %s", kind, k.apiVersion))
		return nil, d.errs
	case apiVersion != k.apiVersion:
		d.add("apiVersion", 0, fmt.Sprintf("unknown apiVersion %q for %s: berth reads %s", apiVersion, kind, k.apiVersion))
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
		return nil, d.errs
	}
	for _, p := range checkSupported(Kind(kind), root, unknown) {
		d.add(p.path, p.line, p.message)
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
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	setDefaults(o)
	return o, nil
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
		return m[2], fmt.Sprintf("wrong type: expected %s, got %s", goTypeName(m[3]), m[1])
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
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "v1.") || strings.Contains(t, "."):
		return "a mapping (" + t + ")"
	}
	return t
}
