package reconciler

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/berth-dev/berth/manifest"
)

// AnnotationSpecHash on a Job record names the Git spec it was made
// from: a Job whose spec changes in Git is replaced by a new run.
const AnnotationSpecHash = "berth.dev/spec-hash"

type podWant struct {
	pod  *corev1.Pod
	hash string
}

type deployWant struct {
	d    *appsv1.Deployment
	hash string
}

type jobWant struct {
	job  *batchv1.Job
	hash string
}

// desiredIndex is an admitted revision with its objects indexed by
// namespace/name and their template hashes computed once.
type desiredIndex struct {
	*Desired
	appliedAt   time.Time
	pods        map[string]podWant
	deployments map[string]deployWant
	jobs        map[string]jobWant
	cronjobs    map[string]*batchv1.CronJob
	// services are the revision's Services with their allocated
	// addresses, set when the revision is admitted (allocateServices).
	services []*corev1.Service

	daemonsets map[string]daemonWant
	// statefulsets, the claims written in Git and the StorageClasses of
	// Git (by name; the built-in local one is not among them).
	statefulsets map[string]statefulWant
	claims       map[string]*corev1.PersistentVolumeClaim
	classes      map[string]*storagev1.StorageClass
}

func key(ns, name string) string { return ns + "/" + name }

func indexDesired(d *Desired) *desiredIndex {
	idx := &desiredIndex{
		Desired:     d,
		pods:        map[string]podWant{},
		deployments: map[string]deployWant{},
		jobs:        map[string]jobWant{},
		cronjobs:    map[string]*batchv1.CronJob{},
		daemonsets:  map[string]daemonWant{},

		statefulsets: map[string]statefulWant{},
		claims:       map[string]*corev1.PersistentVolumeClaim{},
		classes:      map[string]*storagev1.StorageClass{},
	}
	for i := range d.Objects {
		o := &d.Objects[i]
		k := key(o.Namespace, o.Name)
		switch o.Kind {
		case manifest.KindPod:
			idx.pods[k] = podWant{o.Pod, templateHash(&o.Pod.ObjectMeta, &o.Pod.Spec)}
		case manifest.KindDeployment:
			t := &o.Deployment.Spec.Template
			idx.deployments[k] = deployWant{o.Deployment, templateHash(&t.ObjectMeta, &t.Spec)}
		case manifest.KindJob:
			idx.jobs[k] = jobWant{o.Job, specHash(o.Job.Spec)}
		case manifest.KindCronJob:
			idx.cronjobs[k] = o.CronJob
		case manifest.KindDaemonSet:
			t := &o.DaemonSet.Spec.Template
			idx.daemonsets[k] = daemonWant{o.DaemonSet, templateHash(&t.ObjectMeta, &t.Spec)}
		case manifest.KindStatefulSet:
			t := &o.StatefulSet.Spec.Template
			idx.statefulsets[k] = statefulWant{o.StatefulSet, templateHash(&t.ObjectMeta, &t.Spec)}
		case manifest.KindPersistentVolumeClaim:
			idx.claims[k] = o.PersistentVolumeClaim
		case manifest.KindStorageClass:
			idx.classes[o.StorageClass.Name] = o.StorageClass
		}
	}
	return idx
}

func specHash(spec batchv1.JobSpec) string { return fmt.Sprintf("%016x", hashJSON(spec)) }
