package manifest

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The storage kinds: claims on node-local storage and the classes that
// say how it is kept.
const (
	KindPersistentVolumeClaim Kind = "PersistentVolumeClaim"
	KindStorageClass          Kind = "StorageClass"
)

// LocalProvisioner is the one provisioner berth implements: a claim is a
// directory under the node agent's --storage-dir, made on the node where
// its first pod is placed (WaitForFirstConsumer).
const LocalProvisioner = "berth.dev/local"

// hostPathProvisioners are other projects' provisioners that keep a claim
// as a directory on one node's disk, made when its first pod is placed:
// what berth's local provisioner does. A StorageClass naming one is
// provisioned by berth.dev/local, so a repository written for minikube or
// k3s reads unchanged; any other provisioner is refused by name.
var hostPathProvisioners = map[string]struct {
	what string
	// ignoresParameters: the provisioner reads no parameters, so berth
	// accepts and ignores them (with a warning) as it would.
	ignoresParameters bool
}{
	"k8s.io/minikube-hostpath": {what: "minikube's hostpath provisioner", ignoresParameters: true},
	"rancher.io/local-path":    {what: "k3s' local-path provisioner"},
}

// DefaultStorageClass is the built-in class a claim without
// storageClassName gets.
const DefaultStorageClass = "local"

// BuiltinStorageClass is the class berth has without any StorageClass in
// Git: local, reclaimPolicy Delete, WaitForFirstConsumer. A StorageClass
// named local in Git replaces it.
func BuiltinStorageClass() *storagev1.StorageClass {
	del, wffc := corev1.PersistentVolumeReclaimDelete, storagev1.VolumeBindingWaitForFirstConsumer
	return &storagev1.StorageClass{
		TypeMeta:          metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta:        metav1.ObjectMeta{Name: DefaultStorageClass},
		Provisioner:       LocalProvisioner,
		ReclaimPolicy:     &del,
		VolumeBindingMode: &wffc,
	}
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	mp := field.NewPath("metadata")
	var errs field.ErrorList
	if sc.Namespace != "" {
		errs = append(errs, field.Forbidden(mp.Child("namespace"), "a StorageClass is cluster-scoped: it has no namespace"))
	}
	mc := *sc.ObjectMeta.DeepCopy()
	mc.Namespace = ""
	errs = append(errs, apivalidation.ValidateObjectMeta(&mc, false, apivalidation.NameIsDNSSubdomain, mp)...)
	hp, hostPath := hostPathProvisioners[sc.Provisioner]
	switch {
	case sc.Provisioner == "":
		errs = append(errs, field.Required(field.NewPath("provisioner"), "berth provisions "+LocalProvisioner))
	case sc.Provisioner == LocalProvisioner, hostPath:
	default:
		supported := []string{LocalProvisioner}
		for p := range hostPathProvisioners {
			supported = append(supported, p)
		}
		slices.Sort(supported[1:])
		errs = append(errs, field.NotSupported(field.NewPath("provisioner"), sc.Provisioner, supported))
	}
	if len(sc.Parameters) > 0 && !hp.ignoresParameters && (sc.Provisioner == LocalProvisioner || hostPath) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "berth's local provisioner takes no parameters (a claim is a directory under the agent's --storage-dir)"))
	}
	if p := sc.ReclaimPolicy; p != nil && *p != corev1.PersistentVolumeReclaimDelete && *p != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, []string{string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain)}))
	}
	if m := sc.VolumeBindingMode; m != nil && *m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), *m, []string{string(storagev1.VolumeBindingWaitForFirstConsumer)}))
	}
	return errs
}

// storageClassWarning is what a StorageClass is accepted with but should
// change: parameters berth ignores, as the provisioner it names does.
func storageClassWarning(sc *storagev1.StorageClass) string {
	if hp := hostPathProvisioners[sc.Provisioner]; hp.ignoresParameters && len(sc.Parameters) > 0 {
		return fmt.Sprintf("ignored: %s reads no parameters, and berth.dev/local, which provisions this class, neither", hp.what)
	}
	return ""
}

func defaultStorageClass(sc *storagev1.StorageClass) {
	sc.TypeMeta = metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"}
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = ptr(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = ptr(storagev1.VolumeBindingWaitForFirstConsumer)
	}
}

func validatePVC(c *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validateMeta(&c.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	return append(errs, validateClaimSpec(&c.Spec, field.NewPath("spec"))...)
}

// validateClaimSpec checks a claim's spec, from Git or from a
// StatefulSet's volumeClaimTemplates.
func validateClaimSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), "at least 1 access mode is required"))
	}
	for i, m := range s.AccessModes {
		switch m {
		case corev1.ReadWriteOnce, corev1.ReadWriteOncePod:
		default:
			errs = append(errs, field.NotSupported(p.Child("accessModes").Index(i), m, []string{string(corev1.ReadWriteOnce), string(corev1.ReadWriteOncePod)}))
		}
	}
	rp := p.Child("resources", "requests")
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(rp.Key(string(corev1.ResourceStorage)), ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(rp.Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	for name := range s.Resources.Requests {
		if name != corev1.ResourceStorage {
			errs = append(errs, field.NotSupported(rp.Key(string(name)), name, []string{string(corev1.ResourceStorage)}))
		}
	}
	if s.StorageClassName != nil {
		if *s.StorageClassName == "" {
			errs = append(errs, field.Invalid(p.Child("storageClassName"), "", "berth has no pre-made volumes to bind a claim without a class to; leave storageClassName out for the default class "+DefaultStorageClass))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(*s.StorageClassName) {
				errs = append(errs, field.Invalid(p.Child("storageClassName"), *s.StorageClassName, msg))
			}
		}
	}
	if m := s.VolumeMode; m != nil && *m != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *m, []string{string(corev1.PersistentVolumeFilesystem)}))
	}
	return errs
}

// betaStorageClassAnnotation is the class a claim names in Kubernetes'
// older form, still honoured when storageClassName is not set (the
// cassandra example of kubernetes/examples uses it).
const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

func defaultClaimSpec(annotations map[string]string, s *corev1.PersistentVolumeClaimSpec) {
	if s.StorageClassName == nil {
		if c := annotations[betaStorageClassAnnotation]; c != "" {
			s.StorageClassName = ptr(c)
		} else {
			s.StorageClassName = ptr(DefaultStorageClass)
		}
	}
	if s.VolumeMode == nil {
		s.VolumeMode = ptr(corev1.PersistentVolumeFilesystem)
	}
}

// ClaimFromTemplate is the claim a StatefulSet's volumeClaimTemplate gives
// one pod, named name, in the set's namespace.
func ClaimFromTemplate(tpl *corev1.PersistentVolumeClaim, namespace, name string) *corev1.PersistentVolumeClaim {
	c := tpl.DeepCopy()
	c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
	c.Name, c.Namespace = name, namespace
	defaultClaimSpec(c.Annotations, &c.Spec)
	return c
}

// CheckStorage reports, across a whole tree, every claim whose
// storageClassName names no class (the built-in local or a StorageClass
// in Git), and every pod volume whose claimName names no claim in Git in
// the pod's namespace (a StatefulSet's own claim templates count).
func CheckStorage(objs []Object) ErrorList {
	classes := map[string]bool{DefaultStorageClass: true}
	claims := map[[2]string]bool{}
	for i := range objs {
		o := &objs[i]
		switch o.Kind {
		case KindStorageClass:
			classes[o.Name] = true
		case KindPersistentVolumeClaim:
			claims[[2]string{o.Namespace, o.Name}] = true
		}
	}
	var errs ErrorList
	class := func(o *Object, s *corev1.PersistentVolumeClaimSpec, path string) {
		if s.StorageClassName != nil && !classes[*s.StorageClassName] {
			errs = append(errs, &Error{File: o.File, Line: o.Line, Field: path,
				Message: fmt.Sprintf("storage class %q is neither the built-in %s nor a StorageClass in Git", *s.StorageClassName, DefaultStorageClass)})
		}
	}
	volumes := func(o *Object, spec *corev1.PodSpec, own map[string]bool, path string) {
		for i, v := range spec.Volumes {
			if v.PersistentVolumeClaim == nil || own[v.Name] {
				continue
			}
			if !claims[[2]string{o.Namespace, v.PersistentVolumeClaim.ClaimName}] {
				errs = append(errs, &Error{File: o.File, Line: o.Line, Field: fmt.Sprintf("%s.volumes[%d].persistentVolumeClaim.claimName", path, i),
					Message: fmt.Sprintf("no PersistentVolumeClaim %s/%s in Git", o.Namespace, v.PersistentVolumeClaim.ClaimName)})
			}
		}
	}
	for i := range objs {
		o := &objs[i]
		switch {
		case o.PersistentVolumeClaim != nil:
			class(o, &o.PersistentVolumeClaim.Spec, "spec.storageClassName")
		case o.Pod != nil:
			volumes(o, &o.Pod.Spec, nil, "spec")
		case o.Deployment != nil:
			volumes(o, &o.Deployment.Spec.Template.Spec, nil, "spec.template.spec")
		case o.Job != nil:
			volumes(o, &o.Job.Spec.Template.Spec, nil, "spec.template.spec")
		case o.CronJob != nil:
			volumes(o, &o.CronJob.Spec.JobTemplate.Spec.Template.Spec, nil, "spec.jobTemplate.spec.template.spec")
		case o.DaemonSet != nil:
			volumes(o, &o.DaemonSet.Spec.Template.Spec, nil, "spec.template.spec")
		case o.StatefulSet != nil:
			own := map[string]bool{}
			for j := range o.StatefulSet.Spec.VolumeClaimTemplates {
				t := &o.StatefulSet.Spec.VolumeClaimTemplates[j]
				own[t.Name] = true
				class(o, &t.Spec, fmt.Sprintf("spec.volumeClaimTemplates[%d].spec.storageClassName", j))
			}
			volumes(o, &o.StatefulSet.Spec.Template.Spec, own, "spec.template.spec")
		}
	}
	return errs
}

func validateClaimVolume(v *corev1.PersistentVolumeClaimVolumeSource, p *field.Path) field.ErrorList {
	if v.ClaimName == "" {
		return field.ErrorList{field.Required(p.Child("claimName"), "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(v.ClaimName) {
		errs = append(errs, field.Invalid(p.Child("claimName"), v.ClaimName, msg))
	}
	return errs
}
