package manifest

import (
	"math"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultNamespace is where objects without metadata.namespace go.
const DefaultNamespace = "default"

// setDefaults applies Kubernetes' defaults (pkg/apis/*/v1/defaults.go) to a
// validated object, so every consumer sees explicit values. Where berth
// differs it says so: a Job's pods default to restartPolicy Never, where
// Kubernetes has no default and refuses the Job.
func setDefaults(o *Object) {
	var meta *metav1.ObjectMeta
	switch {
	case o.Pod != nil:
		meta = &o.Pod.ObjectMeta
		o.Pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		defaultPodSpec(&o.Pod.Spec, corev1.RestartPolicyAlways)
	case o.Deployment != nil:
		meta = &o.Deployment.ObjectMeta
		o.Deployment.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
		defaultDeployment(&o.Deployment.Spec)
	case o.Job != nil:
		meta = &o.Job.ObjectMeta
		o.Job.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
		defaultJobSpec(&o.Job.Spec)
	case o.CronJob != nil:
		meta = &o.CronJob.ObjectMeta
		o.CronJob.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}
		defaultCronJob(&o.CronJob.Spec)
	case o.ConfigMap != nil:
		meta = &o.ConfigMap.ObjectMeta
		o.ConfigMap.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	case o.Secret != nil:
		meta = &o.Secret.ObjectMeta
	case o.NamespaceObject != nil:
		o.NamespaceObject.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
		defaultNamespace(o.NamespaceObject)
		o.Name = o.NamespaceObject.Name
		return // cluster-scoped
	case o.Service != nil:
		meta = &o.Service.ObjectMeta
		defaultService(o.Service)
	case o.StatefulSet != nil:
		meta = &o.StatefulSet.ObjectMeta
		o.StatefulSet.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}
		defaultStatefulSet(&o.StatefulSet.Spec)
	case o.DaemonSet != nil:
		meta = &o.DaemonSet.ObjectMeta
		o.DaemonSet.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}
		defaultDaemonSet(&o.DaemonSet.Spec)
	case o.PersistentVolumeClaim != nil:
		meta = &o.PersistentVolumeClaim.ObjectMeta
		o.PersistentVolumeClaim.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
		defaultClaimSpec(o.PersistentVolumeClaim.Annotations, &o.PersistentVolumeClaim.Spec)
	case o.StorageClass != nil:
		// Cluster-scoped: no namespace.
		defaultStorageClass(o.StorageClass)
		o.Name = o.StorageClass.Name
		return
	}
	if meta.Namespace == "" {
		meta.Namespace = DefaultNamespace
	}
	o.Namespace, o.Name = meta.Namespace, meta.Name
}

func ptr[T any](v T) *T { return &v }

func defaultPodSpec(s *corev1.PodSpec, restart corev1.RestartPolicy) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = restart
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i].VolumeSource)
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
}

// defaultVolume applies Kubernetes' defaults to the volume types that
// carry files: mode 0644, and fieldRef apiVersion v1. Only fields inside
// those volumes get defaults, so pods written before berth read them keep
// the same template hash.
func defaultVolume(v *corev1.VolumeSource) {
	mode := func(m **int32) {
		if *m == nil {
			*m = ptr(corev1.ConfigMapVolumeSourceDefaultMode)
		}
	}
	fieldRefs := func(items []corev1.DownwardAPIVolumeFile) {
		for i := range items {
			if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = "v1"
			}
		}
	}
	if v.ConfigMap != nil {
		mode(&v.ConfigMap.DefaultMode)
	}
	if v.Secret != nil {
		mode(&v.Secret.DefaultMode)
	}
	if v.DownwardAPI != nil {
		mode(&v.DownwardAPI.DefaultMode)
		fieldRefs(v.DownwardAPI.Items)
	}
	if v.Projected != nil {
		mode(&v.Projected.DefaultMode)
		for i := range v.Projected.Sources {
			if d := v.Projected.Sources[i].DownwardAPI; d != nil {
				fieldRefs(d.Items)
			}
		}
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultPullPolicy(c.Image)
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	// Kubernetes takes a request from the limit when only the limit is set.
	for name, lim := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = corev1.ResourceList{}
			}
			c.Resources.Requests[name] = lim.DeepCopy()
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.TimeoutSeconds == 0 {
			p.TimeoutSeconds = 1
		}
		if p.PeriodSeconds == 0 {
			p.PeriodSeconds = 10
		}
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = 1
		}
		if p.FailureThreshold == 0 {
			p.FailureThreshold = 3
		}
		if g := p.HTTPGet; g != nil {
			if g.Path == "" {
				g.Path = "/"
			}
			if g.Scheme == "" {
				g.Scheme = corev1.URISchemeHTTP
			}
		}
	}
}

// DefaultPullPolicy is Kubernetes' rule: Always for :latest or no tag
// (unless pinned by digest), else IfNotPresent.
func DefaultPullPolicy(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	name := image
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i >= 0 {
		tag = name[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func defaultDeployment(s *appsv1.DeploymentSpec) {
	if s.Replicas == nil {
		s.Replicas = ptr(int32(1))
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == nil {
			s.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("25%"))
		}
		if s.Strategy.RollingUpdate.MaxSurge == nil {
			s.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromString("25%"))
		}
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = ptr(int32(600))
	}
	defaultPodSpec(&s.Template.Spec, corev1.RestartPolicyAlways)
}

func defaultJobSpec(s *batchv1.JobSpec) {
	// As Kubernetes: neither set means one pod to one success; only
	// parallelism set means a work queue (completions stays unset).
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr(int32(1))
		s.Parallelism = ptr(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr(int32(1))
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr(int32(math.MaxInt32))
		} else {
			s.BackoffLimit = ptr(int32(6))
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	defaultPodSpec(&s.Template.Spec, corev1.RestartPolicyNever)
}

func defaultCronJob(s *batchv1.CronJobSpec) {
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = ptr(int32(3))
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = ptr(int32(1))
	}
	defaultJobSpec(&s.JobTemplate.Spec)
}
