package jobs

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/manifest"
)

// Labels, annotations and environment variables the controllers put on what
// they create. The batch.kubernetes.io names are Kubernetes' own, so tools
// and habits that select on them keep working.
const (
	// JobNameLabel and ControllerUIDLabel go on every pod of a Job, together
	// with their pre-1.27 short forms, as Kubernetes' job controller does.
	JobNameLabel             = batchv1.JobNameLabel
	LegacyJobNameLabel       = "job-name"
	ControllerUIDLabel       = batchv1.ControllerUidLabel
	LegacyControllerUIDLabel = "controller-uid"

	// CompletionIndexAnnotation (also set as a label) and the environment
	// variable CompletionIndexEnv carry an Indexed Job pod's index.
	CompletionIndexAnnotation = batchv1.JobCompletionIndexAnnotation
	CompletionIndexEnv        = "JOB_COMPLETION_INDEX"

	// CronJobNameLabel names the CronJob on each Job it creates;
	// ScheduledTimeAnnotation holds the run's scheduled time (RFC 3339, in
	// the CronJob's zone).
	CronJobNameLabel        = "batch.kubernetes.io/cronjob-name"
	ScheduledTimeAnnotation = batchv1.CronJobScheduledTimestampAnnotation

	// GangMinAnnotation on a Job with parallelism > 1 makes its pods a gang:
	// each pod gets GangAnnotation "<namespace>/<job name>" and
	// GangMinAnnotation, and the scheduler places at least that many of the
	// gang's pods together or none of them.
	GangAnnotation    = manifest.AnnotationGang
	GangMinAnnotation = manifest.AnnotationGangMin
)

// ErrInvalidSpec is wrapped by every error caused by the Job or CronJob the
// caller passed in (as opposed to the observed state), so the reconciler can
// show it to the user as a spec problem.
var ErrInvalidSpec = errors.New("invalid spec")

// Event is something a user should see in `berth describe`, with
// Kubernetes' event types (Normal, Warning) and reasons.
type Event struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event reasons the controllers emit, as Kubernetes names them.
const (
	ReasonSuccessfulCreate   = "SuccessfulCreate"
	ReasonSuccessfulDelete   = "SuccessfulDelete"
	ReasonMissSchedule       = "MissSchedule"
	ReasonJobAlreadyActive   = "JobAlreadyActive"
	ReasonTooManyMissedTimes = "TooManyMissedTimes"
	ReasonCompleted          = "Completed"
	ReasonSuspended          = "Suspended"
	ReasonResumed            = "Resumed"
)

func normalEvent(reason, format string, args ...any) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func warningEvent(reason, format string, args ...any) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ScheduledJobName is the name of the Job a CronJob creates for the run
// scheduled at t: the CronJob's name and t in whole minutes since the Unix
// epoch. Two attempts to create the same run therefore collide on the name
// instead of running twice.
func ScheduledJobName(cronJobName string, t time.Time) string {
	return cronJobName + "-" + strconv.FormatInt(t.Unix()/60, 10)
}

// scheduledTimeFromName recovers a run's scheduled minute from a Job name
// made by ScheduledJobName; ok is false for any other name.
func scheduledTimeFromName(cronJobName, jobName string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(jobName, cronJobName+"-")
	if !ok || rest == "" {
		return time.Time{}, false
	}
	m, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || m < 0 || m > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(m*60, 0).UTC(), true
}

// podName is a Job pod's name: the Job's name, the completion index for
// Indexed Jobs, and a sequence number the controller never reuses within a
// Job, so names are deterministic (a replayed sync creates the same pods)
// and never collide with a finished pod kept for its logs.
func podName(jobName string, index int32, seq int64) string {
	if index >= 0 {
		return fmt.Sprintf("%s-%d-%d", jobName, index, seq)
	}
	return fmt.Sprintf("%s-%d", jobName, seq)
}

// podSeq recovers the sequence number from a name made by podName; -1 when
// the name is not one of ours.
func podSeq(jobName, name string) int64 {
	rest, ok := strings.CutPrefix(name, jobName+"-")
	if !ok {
		return -1
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		rest = rest[i+1:]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// controlledMeta is the metadata of an object made from a template: the
// given name, owner's namespace, copies of the template's labels and
// annotations (never nil, so the caller can add its own) and owner, of
// the batch/v1 kind given, as its controller.
func controlledMeta(name string, tmpl *metav1.ObjectMeta, owner metav1.Object, ownerKind string) metav1.ObjectMeta {
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	annotations := maps.Clone(tmpl.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       owner.GetNamespace(),
		Labels:          labels,
		Annotations:     annotations,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, batchv1.SchemeGroupVersion.WithKind(ownerKind))},
	}
}
