package manifest

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// objectRef is a pod's reference to a ConfigMap or Secret, kept from
// decoding so a revision-level check can name the line that refers.
type objectRef struct {
	kind     Kind
	name     string
	optional bool
	field    string
	line     int
}

// CheckRevision runs the checks that need the whole tree: every object is
// defined once, every ConfigMap or Secret a pod needs is in it, and so is
// every claim and storage class (CheckStorage).
// Load and gitsource both call it, so berth validate and the server agree.
func CheckRevision(objs []Object) ErrorList {
	errs := CheckUnique(objs)
	errs = append(errs, CheckStorage(objs)...)
	return append(errs, CheckReferences(objs)...)
}

// CheckReferences reports every reference from a pod (or a workload's pod
// template) to a ConfigMap or Secret that the revision does not hold and
// that is not optional: Kubernetes would leave such a pod in
// CreateContainerConfigError forever, berth refuses the revision.
func CheckReferences(objs []Object) ErrorList {
	have := map[Key]bool{}
	for i := range objs {
		have[objs[i].Key()] = true
	}
	var errs ErrorList
	for i := range objs {
		o := &objs[i]
		for _, r := range o.refs {
			if r.optional || have[Key{Kind: r.kind, Namespace: o.Namespace, Name: r.name}] {
				continue
			}
			errs = append(errs, &Error{File: o.File, Line: r.line, Field: r.field,
				Message: fmt.Sprintf("%s refers to %s %s/%s, which is not in this revision (set optional: true if it may be missing)", o.Key(), r.kind, o.Namespace, r.name)})
		}
	}
	return errs
}

// ImpliedNamespaces lists, sorted, the namespaces objects are in that no
// Namespace object declares (default excepted, which always exists).
// berth accepts them; berth validate names them.
func ImpliedNamespaces(objs []Object) []string {
	declared := map[string]bool{DefaultNamespace: true}
	for i := range objs {
		if objs[i].Kind == KindNamespace {
			declared[objs[i].Name] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for i := range objs {
		ns := objs[i].Namespace
		if ns != "" && !declared[ns] && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// Warnings collects every object's warnings, sorted.
func Warnings(objs []Object) ErrorList {
	var out ErrorList
	for i := range objs {
		out = append(out, objs[i].Warnings...)
	}
	out.Sort()
	return out
}

// podTemplate returns the pod spec an object runs and its field path.
func podTemplate(o *Object) (*corev1.PodSpec, *field.Path) {
	switch {
	case o.Pod != nil:
		return &o.Pod.Spec, field.NewPath("spec")
	case o.Deployment != nil:
		return &o.Deployment.Spec.Template.Spec, field.NewPath("spec", "template", "spec")
	case o.Job != nil:
		return &o.Job.Spec.Template.Spec, field.NewPath("spec", "template", "spec")
	case o.CronJob != nil:
		return &o.CronJob.Spec.JobTemplate.Spec.Template.Spec, field.NewPath("spec", "jobTemplate", "spec", "template", "spec")
	}
	return nil, nil
}

// collectRefs lists the ConfigMaps and Secrets a decoded object's pods
// use, with the line of each reference in root.
func collectRefs(o *Object, root *yaml.Node) []objectRef {
	s, p := podTemplate(o)
	if s == nil {
		return nil
	}
	var refs []objectRef
	add := func(kind Kind, name string, optional *bool, fp *field.Path) {
		f := fp.String()
		refs = append(refs, objectRef{kind: kind, name: name, optional: optional != nil && *optional, field: f, line: lineOf(root, f, root.Line)})
	}
	containers := func(list []corev1.Container, cp *field.Path) {
		for i := range list {
			c := &list[i]
			for j, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				vp := cp.Index(i).Child("env").Index(j).Child("valueFrom")
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add(KindConfigMap, r.Name, r.Optional, vp.Child("configMapKeyRef", "name"))
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add(KindSecret, r.Name, r.Optional, vp.Child("secretKeyRef", "name"))
				}
			}
			for j, ef := range c.EnvFrom {
				ep := cp.Index(i).Child("envFrom").Index(j)
				if r := ef.ConfigMapRef; r != nil {
					add(KindConfigMap, r.Name, r.Optional, ep.Child("configMapRef", "name"))
				}
				if r := ef.SecretRef; r != nil {
					add(KindSecret, r.Name, r.Optional, ep.Child("secretRef", "name"))
				}
			}
		}
	}
	containers(s.InitContainers, p.Child("initContainers"))
	containers(s.Containers, p.Child("containers"))
	for i, v := range s.Volumes {
		vp := p.Child("volumes").Index(i)
		if c := v.ConfigMap; c != nil {
			add(KindConfigMap, c.Name, c.Optional, vp.Child("configMap", "name"))
		}
		if sv := v.Secret; sv != nil {
			add(KindSecret, sv.SecretName, sv.Optional, vp.Child("secret", "secretName"))
		}
		if pr := v.Projected; pr != nil {
			for j, src := range pr.Sources {
				sp := vp.Child("projected", "sources").Index(j)
				if c := src.ConfigMap; c != nil {
					add(KindConfigMap, c.Name, c.Optional, sp.Child("configMap", "name"))
				}
				if sv := src.Secret; sv != nil {
					add(KindSecret, sv.Name, sv.Optional, sp.Child("secret", "name"))
				}
			}
		}
	}
	return refs
}
