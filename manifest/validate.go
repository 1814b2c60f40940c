package manifest

import (
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits Kubernetes puts on names that become parts of other names: a
// Job's name is a label value on its pods, a CronJob's name gets an
// 11-character suffix to name its Jobs.
const (
	maxJobNameLength     = validation.LabelValueMaxLength
	maxCronJobNameLength = 52
)

// Validation follows Kubernetes' pkg/apis/*/validation for the fields
// berth implements, and words its messages the same way, so a user sees
// what kubectl apply would have told them.

func validateMeta(m *metav1.ObjectMeta, maxName int, p *field.Path) field.ErrorList {
	// Every berth kind is namespaced; the default is applied after
	// validation, so check a copy that already has it.
	mc := *m
	if mc.Namespace == "" {
		mc.Namespace = DefaultNamespace
	}
	errs := apivalidation.ValidateObjectMeta(&mc, true, apivalidation.NameIsDNSSubdomain, p)
	if m.Name != "" && len(m.Name) > maxName {
		errs = append(errs, field.TooLong(p.Child("name"), m.Name, maxName))
	}
	return errs
}

func validateTemplateMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(m.Labels, p.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
	errs = append(errs, validateAnnotationsSupported(m.Annotations, p.Child("annotations"))...)
	return errs
}

func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := validateMeta(&pod.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	allowed := []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	errs = append(errs, validatePodSpec(&pod.Spec, allowed, field.NewPath("spec"))...)
	errs = append(errs, validateGang(pod.Annotations, field.NewPath("metadata", "annotations"))...)
	errs = append(errs, validateAnnotationsSupported(pod.Annotations, field.NewPath("metadata", "annotations"))...)
	return errs
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(&d.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	if d.Spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*d.Spec.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, validateSelector(d.Spec.Selector, d.Spec.Template.Labels, p)...)
	errs = append(errs, validateTemplateMeta(&d.Spec.Template.ObjectMeta, p.Child("template", "metadata"))...)
	errs = append(errs, validatePodSpec(&d.Spec.Template.Spec, []corev1.RestartPolicy{corev1.RestartPolicyAlways}, p.Child("template", "spec"))...)
	errs = append(errs, validateGang(d.Spec.Template.Annotations, p.Child("template", "metadata", "annotations"))...)
	sp := p.Child("strategy")
	switch d.Spec.Strategy.Type {
	case "", appsv1.RollingUpdateDeploymentStrategyType:
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
			errs = append(errs, validateIntOrPercent(ru.MaxSurge, sp.Child("rollingUpdate", "maxSurge"))...)
			errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, sp.Child("rollingUpdate", "maxUnavailable"))...)
			if isZero(ru.MaxSurge) && isZero(ru.MaxUnavailable) {
				errs = append(errs, field.Invalid(sp.Child("rollingUpdate", "maxUnavailable"), ru.MaxUnavailable.String(), "may not be 0 when maxSurge is 0"))
			}
		}
	case appsv1.RecreateDeploymentStrategyType:
		if d.Spec.Strategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	default:
		errs = append(errs, field.NotSupported(sp.Child("type"), d.Spec.Strategy.Type, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(d.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	if pd := d.Spec.ProgressDeadlineSeconds; pd != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*pd), p.Child("progressDeadlineSeconds"))...)
		if *pd <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *pd, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateSelector(sel *metav1.LabelSelector, tmplLabels map[string]string, p *field.Path) field.ErrorList {
	sp := p.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(sp, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, "{}", "empty selector is invalid for deployment"))
	}
	if len(errs) > 0 {
		return errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(sp, "", err.Error()))
	}
	if !s.Matches(labels.Set(tmplLabels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), tmplLabels, "`selector` does not match template `labels`"))
	}
	return errs
}

func validateIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		var n int
		if _, err := fmt.Sscanf(v.StrVal, "%d%%", &n); err != nil || fmt.Sprintf("%d%%", n) != v.StrVal {
			return field.ErrorList{field.Invalid(p, v.StrVal, "must be an integer or percentage (e.g '5%')")}
		}
		if n < 0 || n > 100 {
			return field.ErrorList{field.Invalid(p, v.StrVal, "must not be greater than 100%")}
		}
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(v.IntVal), p)
}

func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return false
	}
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return v.StrVal == "0%"
}

func validateJob(j *batchv1.Job) field.ErrorList {
	errs := validateMeta(&j.ObjectMeta, maxJobNameLength, field.NewPath("metadata"))
	errs = append(errs, validateJobRules(&j.Spec, j.Annotations, field.NewPath("spec"), field.NewPath("metadata", "annotations"))...)
	return append(errs, validateJobTemplate(&j.Spec, field.NewPath("spec"))...)
}

// MaxIndexes is the most completions an Indexed Job may have.
const MaxIndexes = 100000

// ValidateJobRules checks the rules of a Job's spec that the Job
// controller acts on (counts, completion mode, back-off limits, deadlines,
// the pod failure policy, the gang annotation), as Load checks them for a
// Job or a CronJob's jobTemplate. It is the one place these rules live:
// jobs.SyncJob calls it rather than checking again by its own rules.
func ValidateJobRules(j *batchv1.Job) error {
	return validateJobRules(&j.Spec, j.Annotations, field.NewPath("spec"), field.NewPath("metadata", "annotations")).ToAggregate()
}

// validateJobTemplate checks the pod template of a Job spec.
func validateJobTemplate(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := validateTemplateMeta(&s.Template.ObjectMeta, p.Child("template", "metadata"))
	errs = append(errs, validatePodSpec(&s.Template.Spec, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}, p.Child("template", "spec"))...)
	return append(errs, validateGang(s.Template.Annotations, p.Child("template", "metadata", "annotations"))...)
}

// validateJobRules checks s, a Job spec at p whose Job carries annotations
// ann (at annPath).
func validateJobRules(s *batchv1.JobSpec, ann map[string]string, p, annPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	nonNeg := func(v *int32, name string) {
		if v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), p.Child(name))...)
		}
	}
	nonNeg(s.Parallelism, "parallelism")
	nonNeg(s.Completions, "completions")
	nonNeg(s.BackoffLimit, "backoffLimit")
	nonNeg(s.BackoffLimitPerIndex, "backoffLimitPerIndex")
	nonNeg(s.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *s.ActiveDeadlineSeconds, "must be greater than 0"))
	}
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if s.CompletionMode != nil && !indexed && *s.CompletionMode != batchv1.NonIndexedCompletion {
		errs = append(errs, field.NotSupported(p.Child("completionMode"), *s.CompletionMode, []string{string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion)}))
	}
	if indexed && s.Completions == nil {
		errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
	}
	if indexed && s.Completions != nil && *s.Completions > MaxIndexes {
		errs = append(errs, field.Invalid(p.Child("completions"), *s.Completions, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", MaxIndexes, batchv1.IndexedCompletion)))
	}
	if s.BackoffLimitPerIndex != nil && !indexed {
		errs = append(errs, field.Forbidden(p.Child("backoffLimitPerIndex"), "requires indexed completion mode"))
	}
	if s.MaxFailedIndexes != nil {
		nonNeg(s.MaxFailedIndexes, "maxFailedIndexes")
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		if s.Completions != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	}
	// The Job's own berth.dev/gang-min makes its pods a gang: at most
	// parallelism of them can run together.
	if v, ok := ann[AnnotationGangMin]; ok {
		n, err := ParseGangMin(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(annPath.Key(AnnotationGangMin), v, "must be a positive integer"))
		case s.Parallelism != nil && *s.Parallelism > 1 && n > *s.Parallelism:
			errs = append(errs, field.Invalid(annPath.Key(AnnotationGangMin), v, fmt.Sprintf("must not exceed spec.parallelism (%d)", *s.Parallelism)))
		}
	}
	if s.Selector != nil || s.ManualSelector != nil {
		errs = append(errs, field.Forbidden(p.Child("selector"), "not supported by berth: the selector is generated"))
	}
	restart := s.Template.Spec.RestartPolicy
	if pfp := s.PodFailurePolicy; pfp != nil {
		pp := p.Child("podFailurePolicy")
		if restart != "" && restart != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(p.Child("template", "spec", "restartPolicy"), restart, "only \"Never\" is supported when podFailurePolicy is specified"))
		}
		containers := sets.New[string]()
		for _, c := range s.Template.Spec.Containers {
			containers.Insert(c.Name)
		}
		for _, c := range s.Template.Spec.InitContainers {
			containers.Insert(c.Name)
		}
		for i, r := range pfp.Rules {
			rp := pp.Child("rules").Index(i)
			actions := []string{string(batchv1.PodFailurePolicyActionFailJob), string(batchv1.PodFailurePolicyActionIgnore), string(batchv1.PodFailurePolicyActionCount)}
			switch r.Action {
			case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount:
			case batchv1.PodFailurePolicyActionFailIndex:
				if s.BackoffLimitPerIndex == nil {
					errs = append(errs, field.Forbidden(rp.Child("action"), "FailIndex requires backoffLimitPerIndex"))
				}
			default:
				errs = append(errs, field.NotSupported(rp.Child("action"), r.Action, actions))
			}
			if len(r.OnPodConditions) > 0 {
				errs = append(errs, field.Forbidden(rp.Child("onPodConditions"), "not supported by berth: use onExitCodes"))
			}
			ec := r.OnExitCodes
			if ec == nil {
				errs = append(errs, field.Required(rp.Child("onExitCodes"), "berth matches pod failures on exit codes"))
				continue
			}
			ep := rp.Child("onExitCodes")
			if ec.ContainerName != nil && !containers.Has(*ec.ContainerName) {
				errs = append(errs, field.Invalid(ep.Child("containerName"), *ec.ContainerName, "must be one of the container or initContainer names in the pod template"))
			}
			if ec.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn && ec.Operator != batchv1.PodFailurePolicyOnExitCodesOpNotIn {
				errs = append(errs, field.NotSupported(ep.Child("operator"), ec.Operator, []string{string(batchv1.PodFailurePolicyOnExitCodesOpIn), string(batchv1.PodFailurePolicyOnExitCodesOpNotIn)}))
			}
			if len(ec.Values) == 0 {
				errs = append(errs, field.Required(ep.Child("values"), "at least one value is required"))
			}
			seen := map[int32]bool{}
			for k, v := range ec.Values {
				vp := ep.Child("values").Index(k)
				if seen[v] {
					errs = append(errs, field.Duplicate(vp, v))
				}
				seen[v] = true
				if v == 0 && ec.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn {
					errs = append(errs, field.Invalid(vp, v, "must not be 0 for the In operator"))
				}
			}
		}
	}
	return errs
}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(&cj.ObjectMeta, maxCronJobNameLength, field.NewPath("metadata"))
	if strings.TrimSpace(cj.Spec.Schedule) == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else if _, _, err := ParseSchedule(cj.Spec.Schedule, nil); err != nil {
		errs = append(errs, field.Invalid(p.Child("schedule"), cj.Spec.Schedule, err.Error()))
	}
	if cj.Spec.TimeZone != nil {
		if _, err := ParseTimeZone(*cj.Spec.TimeZone); err != nil {
			errs = append(errs, field.Invalid(p.Child("timeZone"), *cj.Spec.TimeZone, err.Error()))
		}
	}
	switch cj.Spec.ConcurrencyPolicy {
	case "", batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), cj.Spec.ConcurrencyPolicy, []string{string(batchv1.AllowConcurrent), string(batchv1.ForbidConcurrent), string(batchv1.ReplaceConcurrent)}))
	}
	if v := cj.Spec.StartingDeadlineSeconds; v != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*v, p.Child("startingDeadlineSeconds"))...)
	}
	for name, v := range map[string]*int32{"successfulJobsHistoryLimit": cj.Spec.SuccessfulJobsHistoryLimit, "failedJobsHistoryLimit": cj.Spec.FailedJobsHistoryLimit} {
		if v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), p.Child(name))...)
		}
	}
	jt := p.Child("jobTemplate")
	errs = append(errs, validateTemplateMeta(&cj.Spec.JobTemplate.ObjectMeta, jt.Child("metadata"))...)
	errs = append(errs, validateJobRules(&cj.Spec.JobTemplate.Spec, cj.Spec.JobTemplate.Annotations, jt.Child("spec"), jt.Child("metadata", "annotations"))...)
	errs = append(errs, validateJobTemplate(&cj.Spec.JobTemplate.Spec, jt.Child("spec"))...)
	return errs
}

// Gang annotations: see the scheduler's README.
const (
	AnnotationGang    = "berth.dev/gang"
	AnnotationGangMin = "berth.dev/gang-min"
)

// ParseGangMin reads a berth.dev/gang-min value: a positive whole number
// written plainly ("3", not "03" or "+3"). manifest, jobs and the
// scheduler all read it with this one parser.
func ParseGangMin(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
		return 0, fmt.Errorf("%s %q must be a positive integer", AnnotationGangMin, v)
	}
	return int32(n), nil
}

// IsSidecar reports whether an init container is a native sidecar
// (restartPolicy: Always): it starts in order but keeps running.
func IsSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func validateGang(ann map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v, ok := ann[AnnotationGangMin]; ok {
		if _, err := ParseGangMin(v); err != nil {
			errs = append(errs, field.Invalid(p.Key(AnnotationGangMin), v, "must be a positive integer"))
		}
	}
	if v, ok := ann[AnnotationGang]; ok && v == "" {
		errs = append(errs, field.Invalid(p.Key(AnnotationGang), v, "must name the gang"))
	}
	return errs
}

func validatePodSpec(s *corev1.PodSpec, allowedRestart []corev1.RestartPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.RestartPolicy != "" {
		ok := false
		for _, r := range allowedRestart {
			ok = ok || r == s.RestartPolicy
		}
		if !ok {
			vals := make([]string, len(allowedRestart))
			for i, r := range allowedRestart {
				vals[i] = string(r)
			}
			errs = append(errs, field.NotSupported(p.Child("restartPolicy"), s.RestartPolicy, vals))
		}
	}
	if s.TerminationGracePeriodSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.TerminationGracePeriodSeconds, p.Child("terminationGracePeriodSeconds"))...)
	}
	if s.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(s.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), s.Hostname, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, validatePodSpecExtras(s, p)...)
	errs = append(errs, validatePodDNS(s, p)...)
	for i, t := range s.Tolerations {
		errs = append(errs, validateToleration(t, p.Child("tolerations").Index(i))...)
	}

	vols := map[string]bool{}
	for i, v := range s.Volumes {
		vp := p.Child("volumes").Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(vp.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
			}
			if vols[v.Name] {
				errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
			}
			vols[v.Name] = true
		}
		errs = append(errs, validateVolumeSource(&v.VolumeSource, vp)...)
	}

	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), "a pod needs at least one container"))
	}
	names := map[string]bool{}
	hostPorts := map[string]bool{}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		cp := p.Child("initContainers").Index(i)
		sidecar := c.RestartPolicy != nil
		if sidecar && *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			errs = append(errs, field.NotSupported(cp.Child("restartPolicy"), *c.RestartPolicy, []string{string(corev1.ContainerRestartPolicyAlways)}))
		}
		if !sidecar {
			for _, pr := range []struct {
				probe *corev1.Probe
				name  string
			}{{c.LivenessProbe, "livenessProbe"}, {c.ReadinessProbe, "readinessProbe"}, {c.StartupProbe, "startupProbe"}} {
				if pr.probe != nil {
					errs = append(errs, field.Forbidden(cp.Child(pr.name), "may not be set for init containers without restartPolicy=Always"))
				}
			}
			if c.Lifecycle != nil {
				errs = append(errs, field.Forbidden(cp.Child("lifecycle"), "may not be set for init containers without restartPolicy=Always"))
			}
		} else {
			errs = append(errs, validateLifecycle(c.Lifecycle, s.TerminationGracePeriodSeconds, cp.Child("lifecycle"))...)
		}
		errs = append(errs, validateContainer(c, names, vols, hostPorts, cp)...)
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		cp := p.Child("containers").Index(i)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(cp.Child("restartPolicy"), "may only be set on init containers (a sidecar)"))
		}
		errs = append(errs, validateLifecycle(c.Lifecycle, s.TerminationGracePeriodSeconds, cp.Child("lifecycle"))...)
		errs = append(errs, validateContainer(c, names, vols, hostPorts, cp)...)
	}
	return errs
}

func validateToleration(t corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		if t.Key == "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}))
	}
	if t.TolerationSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("tolerationSeconds"), "not supported by berth"))
	}
	return errs
}

func validateVolumeSource(v *corev1.VolumeSource, p *field.Path) field.ErrorList {
	n, errs := validateConfigVolume(v, p)
	if v.EmptyDir != nil {
		n++
	}
	if v.HostPath != nil {
		n++
	}
	if v.PersistentVolumeClaim != nil {
		n++
	}
	switch {
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 volume type"))
	case v.PersistentVolumeClaim != nil:
		errs = append(errs, validateClaimVolume(v.PersistentVolumeClaim, p.Child("persistentVolumeClaim"))...)
	case n == 1 && v.EmptyDir == nil && v.HostPath == nil:
	case v.EmptyDir != nil:
		ep := p.Child("emptyDir")
		if v.EmptyDir.Medium != corev1.StorageMediumDefault && v.EmptyDir.Medium != corev1.StorageMediumMemory {
			errs = append(errs, field.NotSupported(ep.Child("medium"), v.EmptyDir.Medium, []string{`""`, string(corev1.StorageMediumMemory)}))
		}
		if v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Invalid(ep.Child("sizeLimit"), v.EmptyDir.SizeLimit.String(), "must be greater than or equal to 0"))
		}
	case v.HostPath != nil:
		hp := p.Child("hostPath")
		if v.HostPath.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		} else if !path.IsAbs(v.HostPath.Path) {
			errs = append(errs, field.Invalid(hp.Child("path"), v.HostPath.Path, "must be an absolute path"))
		} else if hasDotDot(v.HostPath.Path) {
			errs = append(errs, field.Invalid(hp.Child("path"), v.HostPath.Path, "must not contain '..'"))
		}
		if t := v.HostPath.Type; t != nil {
			switch *t {
			case corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile:
			default:
				errs = append(errs, field.NotSupported(hp.Child("type"), *t, []string{`""`, string(corev1.HostPathDirectoryOrCreate), string(corev1.HostPathDirectory), string(corev1.HostPathFileOrCreate), string(corev1.HostPathFile)}))
			}
		}
	case setFields(v) == 0:
		// A volume of another type (nfs, iscsi, …) is
		// already refused by name as not supported.
		errs = append(errs, field.Required(p, "must specify a volume type: emptyDir, hostPath, configMap, secret, downwardAPI, projected or persistentVolumeClaim"))
	}
	return errs
}

// setFields counts the volume types set in v, supported or not.
func setFields(v *corev1.VolumeSource) int {
	n := 0
	rv := reflect.ValueOf(v).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func validateContainer(c *corev1.Container, names, vols, hostPorts map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
		if names[c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		names[c.Name] = true
	}
	if strings.TrimSpace(c.Image) == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, field.NotSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy, []string{string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever)}))
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		errs = append(errs, field.Invalid(p.Child("workingDir"), c.WorkingDir, "must be an absolute path"))
	}
	for i, e := range c.Env {
		ep := p.Child("env").Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), e.Name, msg))
			}
		}
	}
	errs = append(errs, validateEnvSources(c, p)...)
	errs = append(errs, validateTermination(c, p)...)
	errs = append(errs, validateContainerSecurity(c.SecurityContext, p.Child("securityContext"))...)
	portNames := map[string]bool{}
	for i, port := range c.Ports {
		pp := p.Child("ports").Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if portNames[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			portNames[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		proto := port.Protocol
		switch proto {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP:
		default:
			errs = append(errs, field.NotSupported(pp.Child("protocol"), proto, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}))
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
			}
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			key := fmt.Sprintf("%s/%d", proto, port.HostPort)
			if hostPorts[key] {
				errs = append(errs, field.Duplicate(pp.Child("hostPort"), key))
			}
			hostPorts[key] = true
		}
		if port.HostIP != "" {
			errs = append(errs, validation.IsValidIP(pp.Child("hostIP"), port.HostIP)...)
		}
	}
	errs = append(errs, validateResources(&c.Resources, p.Child("resources"))...)
	mounts := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !vols[m.Name] {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case mounts[path.Clean(m.MountPath)]:
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mounts[path.Clean(m.MountPath)] = true
		if m.SubPath != "" {
			if path.IsAbs(m.SubPath) {
				errs = append(errs, field.Invalid(mp.Child("subPath"), m.SubPath, "must be a relative path"))
			} else if hasDotDot(m.SubPath) {
				errs = append(errs, field.Invalid(mp.Child("subPath"), m.SubPath, "must not contain '..'"))
			}
		}
	}
	errs = append(errs, validateProbe(c.LivenessProbe, true, p.Child("livenessProbe"))...)
	errs = append(errs, validateProbe(c.ReadinessProbe, false, p.Child("readinessProbe"))...)
	errs = append(errs, validateProbe(c.StartupProbe, true, p.Child("startupProbe"))...)
	return errs
}

func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(list corev1.ResourceList, lp *field.Path) {
		for name, q := range list {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
				errs = append(errs, field.NotSupported(lp.Key(string(name)), name, []string{string(corev1.ResourceCPU), string(corev1.ResourceMemory)}))
				continue
			}
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(lp.Key(string(name)), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, p.Child("limits"))
	check(r.Requests, p.Child("requests"))
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	if len(r.Claims) > 0 {
		errs = append(errs, field.Forbidden(p.Child("claims"), "not supported by berth"))
	}
	return errs
}

func validateProbe(pr *corev1.Probe, successMustBeOne bool, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	handlers := 0
	if pr.Exec != nil {
		handlers++
		if len(pr.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if pr.HTTPGet != nil {
		handlers++
		errs = append(errs, validatePort(pr.HTTPGet.Port, p.Child("httpGet", "port"))...)
		switch pr.HTTPGet.Scheme {
		case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
		default:
			errs = append(errs, field.NotSupported(p.Child("httpGet", "scheme"), pr.HTTPGet.Scheme, []string{"HTTP", "HTTPS"}))
		}
	}
	if pr.TCPSocket != nil {
		handlers++
		errs = append(errs, validatePort(pr.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	if pr.GRPC != nil {
		errs = append(errs, field.Forbidden(p.Child("grpc"), "not supported by berth"))
		handlers++
	}
	if handlers == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type: exec, httpGet or tcpSocket"))
	} else if handlers > 1 {
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	for name, v := range map[string]int32{"initialDelaySeconds": pr.InitialDelaySeconds, "periodSeconds": pr.PeriodSeconds, "timeoutSeconds": pr.TimeoutSeconds, "successThreshold": pr.SuccessThreshold, "failureThreshold": pr.FailureThreshold} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v), p.Child(name))...)
	}
	if successMustBeOne && pr.SuccessThreshold > 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

// validateLifecycle checks a container's postStart and preStop hooks as
// Kubernetes' validateLifecycle and validateHandler do: exactly one
// handler each, exec with a command, httpGet with a valid port, scheme and
// header names, sleep within the pod's grace period (default 30s). The
// deprecated tcpSocket handler, which Kubernetes accepts and the kubelet
// then fails at run time, is refused here.
func validateLifecycle(lc *corev1.Lifecycle, grace *int64, p *field.Path) field.ErrorList {
	if lc == nil {
		return nil
	}
	g := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if grace != nil {
		g = *grace
	}
	var errs field.ErrorList
	if lc.PostStart != nil {
		errs = append(errs, validateLifecycleHandler(lc.PostStart, g, p.Child("postStart"))...)
	}
	if lc.PreStop != nil {
		errs = append(errs, validateLifecycleHandler(lc.PreStop, g, p.Child("preStop"))...)
	}
	return errs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, grace int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	handlers := 0
	// one counts a handler in Kubernetes' order; a second one is refused
	// by its own name.
	one := func(name string) bool {
		handlers++
		if handlers > 1 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return false
		}
		return true
	}
	if h.Exec != nil && one("exec") && len(h.Exec.Command) == 0 {
		errs = append(errs, field.Required(p.Child("exec", "command"), ""))
	}
	if a := h.HTTPGet; a != nil && one("httpGet") {
		hp := p.Child("httpGet")
		errs = append(errs, validatePort(a.Port, hp.Child("port"))...)
		switch a.Scheme {
		case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
		default:
			errs = append(errs, field.NotSupported(hp.Child("scheme"), a.Scheme, []string{string(corev1.URISchemeHTTP), string(corev1.URISchemeHTTPS)}))
		}
		for _, hdr := range a.HTTPHeaders {
			for _, msg := range validation.IsHTTPHeaderName(hdr.Name) {
				errs = append(errs, field.Invalid(hp.Child("httpHeaders"), hdr.Name, msg))
			}
		}
	}
	if h.TCPSocket != nil && one("tcpSocket") {
		errs = append(errs, field.Forbidden(p.Child("tcpSocket"), "not supported by berth: tcpSocket is deprecated as a lifecycle handler and the kubelet fails such a hook when it runs; use exec, httpGet or sleep"))
	}
	if h.Sleep != nil && one("sleep") && (h.Sleep.Seconds < 0 || h.Sleep.Seconds > grace) {
		errs = append(errs, field.Invalid(p.Child("sleep"), h.Sleep.Seconds, fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", grace)))
	}
	if handlers == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type"))
	}
	return errs
}

func validatePort(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if v.Type == intstr.Int {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortNum(v.IntValue()) {
			errs = append(errs, field.Invalid(p, v.IntVal, msg))
		}
		return errs
	}
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortName(v.StrVal) {
		errs = append(errs, field.Invalid(p, v.StrVal, msg))
	}
	return errs
}
