package manifest

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The per-node and per-identity workload kinds.
const (
	KindStatefulSet Kind = "StatefulSet"
	KindDaemonSet   Kind = "DaemonSet"
)

// maxStatefulSetNameLength leaves room in a pod's name and its
// controller-revision-hash label value for "-<ordinal>", as Kubernetes'
// ValidateStatefulSetName does (a label value is at most 63).
const maxStatefulSetNameLength = validation.LabelValueMaxLength - 11

func validateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(&s.ObjectMeta, maxStatefulSetNameLength, field.NewPath("metadata"))
	for _, msg := range validation.IsDNS1123Label(s.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, msg))
	}
	if s.Spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.Spec.Replicas), p.Child("replicas"))...)
	}
	if s.Spec.ServiceName != "" {
		for _, msg := range validation.IsDNS1123Label(s.Spec.ServiceName) {
			errs = append(errs, field.Invalid(p.Child("serviceName"), s.Spec.ServiceName, msg))
		}
	}
	switch s.Spec.PodManagementPolicy {
	case "", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.NotSupported(p.Child("podManagementPolicy"), s.Spec.PodManagementPolicy, []string{string(appsv1.OrderedReadyPodManagement), string(appsv1.ParallelPodManagement)}))
	}
	up := p.Child("updateStrategy")
	switch s.Spec.UpdateStrategy.Type {
	case "", appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			if ru.Partition != nil {
				errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*ru.Partition), up.Child("rollingUpdate", "partition"))...)
			}
			errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, up.Child("rollingUpdate", "maxUnavailable"))...)
		}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.Spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(up.Child("rollingUpdate"), "only allowed for updateStrategy 'RollingUpdate'"))
		}
	default:
		errs = append(errs, field.NotSupported(up.Child("type"), s.Spec.UpdateStrategy.Type, []string{string(appsv1.RollingUpdateStatefulSetStrategyType), string(appsv1.OnDeleteStatefulSetStrategyType)}))
	}
	if rp := s.Spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", rp.WhenDeleted}, {"whenScaled", rp.WhenScaled}} {
			switch f.v {
			case "", appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
			default:
				errs = append(errs, field.NotSupported(pp.Child(f.name), f.v, []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}))
			}
		}
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateSelector(s.Spec.Selector, s.Spec.Template.Labels, p)...)
	errs = append(errs, validateTemplateMeta(&s.Spec.Template.ObjectMeta, p.Child("template", "metadata"))...)

	// Each claim template becomes a volume of the pod under its name, as
	// the StatefulSet controller adds it, so mounts may name it.
	spec := s.Spec.Template.Spec.DeepCopy()
	seen := map[string]bool{}
	for i := range s.Spec.VolumeClaimTemplates {
		t := &s.Spec.VolumeClaimTemplates[i]
		tp := p.Child("volumeClaimTemplates").Index(i)
		if t.Name == "" {
			errs = append(errs, field.Required(tp.Child("metadata", "name"), ""))
		}
		for _, msg := range validation.IsDNS1123Label(t.Name) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "name"), t.Name, msg))
		}
		if seen[t.Name] {
			errs = append(errs, field.Duplicate(tp.Child("metadata", "name"), t.Name))
		}
		seen[t.Name] = true
		errs = append(errs, validateTemplateMeta(&t.ObjectMeta, tp.Child("metadata"))...)
		errs = append(errs, validateClaimSpec(&t.Spec, tp.Child("spec"))...)
	}
	spec.Volumes = nil
	for _, v := range s.Spec.Template.Spec.Volumes {
		if !seen[v.Name] {
			spec.Volumes = append(spec.Volumes, v)
		}
	}
	for i := range s.Spec.VolumeClaimTemplates {
		t := &s.Spec.VolumeClaimTemplates[i]
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: t.Name}}})
	}
	errs = append(errs, validatePodSpec(spec, []corev1.RestartPolicy{corev1.RestartPolicyAlways}, p.Child("template", "spec"))...)
	return errs
}

func validateDaemonSet(d *appsv1.DaemonSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(&d.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	errs = append(errs, validateSelector(d.Spec.Selector, d.Spec.Template.Labels, p)...)
	errs = append(errs, validateTemplateMeta(&d.Spec.Template.ObjectMeta, p.Child("template", "metadata"))...)
	errs = append(errs, validatePodSpec(&d.Spec.Template.Spec, []corev1.RestartPolicy{corev1.RestartPolicyAlways}, p.Child("template", "spec"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(d.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	up := p.Child("updateStrategy")
	switch d.Spec.UpdateStrategy.Type {
	case "", appsv1.RollingUpdateDaemonSetStrategyType:
		if ru := d.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, up.Child("rollingUpdate", "maxUnavailable"))...)
			errs = append(errs, validateIntOrPercent(ru.MaxSurge, up.Child("rollingUpdate", "maxSurge"))...)
			// Defaults first, as Kubernetes validates: maxUnavailable 1,
			// maxSurge 0; so a surge needs maxUnavailable: 0 written out.
			surge0 := ru.MaxSurge == nil || isZero(ru.MaxSurge)
			unavail0 := ru.MaxUnavailable != nil && isZero(ru.MaxUnavailable)
			if surge0 && unavail0 {
				errs = append(errs, field.Invalid(up.Child("rollingUpdate", "maxUnavailable"), ru.MaxUnavailable.String(), "may not be 0 when maxSurge is 0"))
			}
			if !surge0 && !unavail0 {
				errs = append(errs, field.Invalid(up.Child("rollingUpdate", "maxSurge"), ru.MaxSurge.String(), "may not be set when maxUnavailable is non-zero"))
			}
		}
	case appsv1.OnDeleteDaemonSetStrategyType:
		if d.Spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(up.Child("rollingUpdate"), "only allowed for updateStrategy 'RollingUpdate'"))
		}
	default:
		errs = append(errs, field.NotSupported(up.Child("type"), d.Spec.UpdateStrategy.Type, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	return errs
}

// validatePositiveIntOrPercent is validateIntOrPercent that also refuses 0.
func validatePositiveIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	errs := validateIntOrPercent(v, p)
	if len(errs) == 0 && isZero(v) {
		errs = append(errs, field.Invalid(p, v.String(), "must be greater than 0"))
	}
	return errs
}

func defaultStatefulSet(s *appsv1.StatefulSetSpec) {
	if s.Replicas == nil {
		s.Replicas = ptr(int32(1))
	}
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if s.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		if s.UpdateStrategy.RollingUpdate.Partition == nil {
			s.UpdateStrategy.RollingUpdate.Partition = ptr(int32(0))
		}
		if s.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			s.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt32(1))
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := s.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	for i := range s.VolumeClaimTemplates {
		defaultClaimSpec(s.VolumeClaimTemplates[i].Annotations, &s.VolumeClaimTemplates[i].Spec)
	}
	defaultPodSpec(&s.Template.Spec, corev1.RestartPolicyAlways)
}

func defaultDaemonSet(s *appsv1.DaemonSetSpec) {
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			s.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt32(1))
		}
		if s.UpdateStrategy.RollingUpdate.MaxSurge == nil {
			s.UpdateStrategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(0))
		}
	}
	defaultPodSpec(&s.Template.Spec, corev1.RestartPolicyAlways)
}
