package jobs

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/manifest"
)

// JobProgress is what the Job controller must remember between calls
// besides the Job's status. The caller stores it together with the status,
// in one write: counting a finished pod and remembering that it was counted
// then happen together or not at all, which is what makes counting
// exactly-once across crashes and repeated reports.
type JobProgress struct {
	// Counted holds the UID of every finished pod already reflected in the
	// status (or deliberately not counted: ignored failures, pods berth
	// stopped) that the store still holds: a UID is dropped once its pod
	// is gone, so Counted never outgrows the pods kept.
	Counted map[types.UID]bool `json:"counted,omitempty"`
	// FailuresSinceSuccess and LastFailure drive the back-off before
	// replacement pods are created.
	FailuresSinceSuccess int32     `json:"failuresSinceSuccess,omitempty"`
	LastFailure          time.Time `json:"lastFailure,omitzero"`
	// IndexFailures counts failures per completion index for
	// backoffLimitPerIndex.
	IndexFailures map[int32]IndexFailures `json:"indexFailures,omitempty"`
	// NextPod is the sequence number the next pod's name will carry.
	NextPod int64 `json:"nextPod,omitempty"`
}

// IndexFailures is the failure record of one completion index.
type IndexFailures struct {
	Count int32     `json:"count"`
	Last  time.Time `json:"last"`
}

func (p JobProgress) clone() JobProgress {
	c := p
	c.Counted = maps.Clone(p.Counted)
	c.IndexFailures = maps.Clone(p.IndexFailures)
	return c
}

// JobInput is everything SyncJob decides from.
type JobInput struct {
	// Job is the Job as declared (defaulted by manifest), with Status set
	// to the status SyncJob last returned for it (zero for a new Job). It
	// must carry the UID the store gave it: pods are labelled with it.
	Job *batchv1.Job
	// Progress is the JobProgress SyncJob last returned (zero value at first).
	Progress JobProgress
	// Pods are all pods of this Job the store holds, finished ones included.
	Pods []ObservedPod
	// Now is the time of this sync, read by the caller from its clock.
	Now time.Time
}

// PodRef names a pod to delete; the UID guards against deleting a pod that
// replaced it under the same name.
type PodRef struct {
	Name string
	UID  types.UID
}

// JobResult is what the caller must do after SyncJob.
type JobResult struct {
	// Create are new pods, complete and with deterministic names: creating
	// a pod whose name already exists must be treated as done.
	Create []*corev1.Pod
	// Delete are pods to stop and remove.
	Delete []PodRef
	// Status and Progress replace the Job's status and progress, written
	// together in one store write. Changed reports whether either differs
	// from the input, so an unchanged sync needs no write.
	Status   batchv1.JobStatus
	Progress JobProgress
	Changed  bool
	// RequeueAt, when not zero, is when the Job must be synced again even
	// if nothing is observed to change (end of a back-off, the active
	// deadline, the TTL). The caller also syncs on any change of its pods.
	RequeueAt time.Time
	// Expired is true once a finished Job's ttlSecondsAfterFinished has
	// passed: Delete then lists all its pods, and the Job's record may go.
	Expired bool
	// Events are worth showing the user (the Job finished, was suspended).
	Events []Event
}

// SyncJob is the Job controller: from the Job, what it remembers and the
// pods observed, it decides which pods to create and delete and what the
// status is now. It is a pure function; replaying it against the same
// input gives the same output.
func SyncJob(in JobInput) (JobResult, error) {
	if in.Job == nil {
		return JobResult{}, fmt.Errorf("sync job: %w: no Job", ErrInvalidSpec)
	}
	spec, err := readJobSpec(in.Job)
	if err != nil {
		return JobResult{}, fmt.Errorf("sync job %s/%s: %w", in.Job.Namespace, in.Job.Name, err)
	}
	s := &jobSync{job: in.Job, spec: spec, now: in.Now, st: in.Job.Status.DeepCopy(), prog: in.Progress.clone()}
	if s.succIdx, err = parseIndexSet(s.st.CompletedIndexes); err != nil {
		return JobResult{}, fmt.Errorf("sync job %s/%s: status.completedIndexes: %w", in.Job.Namespace, in.Job.Name, err)
	}
	if s.failIdx, err = parseIndexSet(ptr.Deref(s.st.FailedIndexes, "")); err != nil {
		return JobResult{}, fmt.Errorf("sync job %s/%s: status.failedIndexes: %w", in.Job.Namespace, in.Job.Name, err)
	}
	s.observe(in.Pods)
	s.run()
	s.res.Status = *s.st
	s.res.Progress = s.prog
	s.res.Changed = !equality.Semantic.DeepEqual(in.Job.Status, *s.st) || !reflect.DeepEqual(in.Progress, s.prog)
	return s.res, nil
}

// jobSpec is the part of a Job's spec the controller acts on, checked and
// with Kubernetes' defaults filled in where the caller left them unset.
type jobSpec struct {
	parallelism      int32
	completions      *int32 // nil: a work queue, done when one pod succeeded and none run
	indexed          bool
	backoffLimit     int32
	perIndex         *int32
	maxFailedIndexes *int32
	deadline         *time.Duration
	ttl              *time.Duration
	suspend          bool
	onFailure        bool
	policy           *batchv1.PodFailurePolicy
	gangMin          int32 // 0: no gang
}

func readJobSpec(j *batchv1.Job) (jobSpec, error) {
	if j.UID == "" {
		return jobSpec{}, errNoUID
	}
	js := j.Spec
	s := jobSpec{
		parallelism:      1,
		completions:      js.Completions,
		indexed:          ptr.Deref(js.CompletionMode, "") == batchv1.IndexedCompletion,
		backoffLimit:     6,
		perIndex:         js.BackoffLimitPerIndex,
		maxFailedIndexes: js.MaxFailedIndexes,
		suspend:          ptr.Deref(js.Suspend, false),
		onFailure:        js.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure,
		policy:           js.PodFailurePolicy,
	}
	if js.Parallelism != nil {
		s.parallelism = *js.Parallelism
	} else if js.Completions == nil {
		one := int32(1)
		s.completions = &one // Kubernetes' default when neither is set
	}
	if js.BackoffLimit != nil {
		s.backoffLimit = *js.BackoffLimit
	} else if js.BackoffLimitPerIndex != nil {
		s.backoffLimit = math.MaxInt32
	}
	// The rules are manifest's, the same Load applied to the Job or its
	// CronJob's jobTemplate; checking them here keeps a Job that did not
	// come through Load from reaching the controller half-valid.
	if err := manifest.ValidateJobRules(j); err != nil {
		return s, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	if d := js.ActiveDeadlineSeconds; d != nil {
		s.deadline = ptr.To(time.Duration(*d) * time.Second)
	}
	if ttl := js.TTLSecondsAfterFinished; ttl != nil {
		s.ttl = ptr.To(time.Duration(*ttl) * time.Second)
	}
	if v, ok := j.Annotations[GangMinAnnotation]; ok && s.parallelism > 1 {
		s.gangMin, _ = manifest.ParseGangMin(v) // checked by ValidateJobRules
	}
	return s, nil
}

// jobSync is one run of SyncJob.
type jobSync struct {
	job     *batchv1.Job
	spec    jobSpec
	now     time.Time
	st      *batchv1.JobStatus
	prog    JobProgress
	succIdx indexSet
	failIdx indexSet
	res     JobResult

	pods        []*ObservedPod // every observed pod, one per UID
	active      []*ObservedPod // running or pending, not being deleted
	newFinished []*ObservedPod // finished and not counted yet
	terminating int32          // being deleted, not finished
	created     int32
}

// observe sorts the observed pods into the groups the controller works
// with. A pod reported twice (same UID) is taken once, preferring the
// report that says it finished or is being deleted: reports only move
// forward.
func (s *jobSync) observe(pods []ObservedPod) {
	byUID := make(map[types.UID]int, len(pods))
	for i := range pods {
		p := &pods[i]
		if k, ok := byUID[p.UID]; ok {
			old := s.pods[k]
			if (p.finished() && !old.finished()) || (p.finished() == old.finished() && p.Deleting && !old.Deleting) {
				s.pods[k] = p
			}
			continue
		}
		byUID[p.UID] = len(s.pods)
		s.pods = append(s.pods, p)
	}
	slices.SortFunc(s.pods, func(a, b *ObservedPod) int { return cmp.Compare(a.Name, b.Name) })
	// Forget the UIDs of pods the store no longer holds, as the Kubernetes
	// job controller drops a UID from uncountedTerminatedPods once the
	// pod's count is in status and the pod is gone. Every UID in Counted is
	// already in status (both are written together), and a pod that is
	// gone cannot be reported again (UIDs are never reused), so Counted
	// stays as small as the pods kept.
	pruned := false
	for uid := range s.prog.Counted {
		if _, ok := byUID[uid]; !ok {
			delete(s.prog.Counted, uid)
			pruned = true
		}
	}
	if pruned && len(s.prog.Counted) == 0 {
		s.prog.Counted = nil
	}
	for _, p := range s.pods {
		switch {
		case p.finished():
			if !s.prog.Counted[p.UID] {
				s.newFinished = append(s.newFinished, p)
			}
		case p.Deleting:
			s.terminating++
		default:
			s.active = append(s.active, p)
		}
		if seq := podSeq(s.job.Name, p.Name); seq >= s.prog.NextPod {
			s.prog.NextPod = seq + 1
		}
	}
}

func (s *jobSync) run() {
	if fin := finishedCondition(s.st); fin != nil {
		// Finished earlier: counting has stopped. Stop any pod still
		// running (a crash may have come between finishing and stopping)
		// and keep the rest for their logs until the TTL.
		s.deleteActive()
		s.afterFinish(fin.LastTransitionTime.Time)
		return
	}
	failJobMsg := s.count()
	if !s.spec.suspend {
		// Before the deadline check: the deadline counts the time a Job
		// has run since it was last resumed, not the time it was suspended.
		s.resume()
		if s.st.StartTime == nil {
			s.st.StartTime = &metav1.Time{Time: s.now}
		}
	}
	if fin := s.finishReason(failJobMsg); fin != nil {
		s.finish(fin)
		return
	}
	if s.spec.suspend {
		s.suspend()
	} else {
		if s.spec.indexed {
			s.manageIndexed()
		} else {
			s.manageNonIndexed()
		}
		if s.spec.deadline != nil {
			s.requeue(s.st.StartTime.Add(*s.spec.deadline))
		}
	}
	s.setCounts()
}

// count adds each newly finished pod to the status, in the order the pods
// finished, and records it as counted.
func (s *jobSync) count() (failJobMsg string) {
	finishedAt := func(p *ObservedPod) time.Time {
		if p.FinishedAt.IsZero() {
			return s.now
		}
		return p.FinishedAt
	}
	slices.SortStableFunc(s.newFinished, func(a, b *ObservedPod) int {
		return finishedAt(a).Compare(finishedAt(b))
	})
	for _, p := range s.newFinished {
		if s.prog.Counted == nil {
			s.prog.Counted = map[types.UID]bool{}
		}
		s.prog.Counted[p.UID] = true
		at := finishedAt(p)
		validIndex := s.spec.indexed && p.Index >= 0 && p.Index < *s.spec.completions
		if p.Phase == corev1.PodSucceeded {
			s.prog.FailuresSinceSuccess = 0
			if !s.spec.indexed {
				s.st.Succeeded++
			} else if validIndex && !s.failIdx.has(p.Index) {
				s.succIdx.add(p.Index)
			}
			continue
		}
		if p.Deleting {
			continue // berth stopped it; not the workload's failure
		}
		action, msg := matchFailurePolicy(s.spec.policy, p, s.job.Namespace)
		if action == batchv1.PodFailurePolicyActionIgnore {
			continue
		}
		s.st.Failed++
		s.prog.FailuresSinceSuccess++
		if at.After(s.prog.LastFailure) {
			s.prog.LastFailure = at
		}
		switch {
		case action == batchv1.PodFailurePolicyActionFailJob:
			if failJobMsg == "" {
				failJobMsg = msg
			}
		case !validIndex:
		case action == batchv1.PodFailurePolicyActionFailIndex:
			s.failIdx.add(p.Index)
		case s.spec.perIndex != nil:
			if s.prog.IndexFailures == nil {
				s.prog.IndexFailures = map[int32]IndexFailures{}
			}
			f := s.prog.IndexFailures[p.Index]
			f.Count++
			if at.After(f.Last) {
				f.Last = at
			}
			s.prog.IndexFailures[p.Index] = f
			if f.Count > *s.spec.perIndex {
				s.failIdx.add(p.Index)
			}
		}
	}
	if s.spec.indexed {
		s.st.Succeeded = int32(len(s.succIdx))
	}
	return failJobMsg
}

// finishReason returns the condition that ends the Job now, if any, in
// Kubernetes' order of precedence.
func (s *jobSync) finishReason(failJobMsg string) *batchv1.JobCondition {
	failed := func(reason, msg string) *batchv1.JobCondition {
		return &batchv1.JobCondition{Type: batchv1.JobFailed, Reason: reason, Message: msg}
	}
	sp := &s.spec
	switch {
	case failJobMsg != "":
		return failed(batchv1.JobReasonPodFailurePolicy, failJobMsg)
	case s.st.Failed > sp.backoffLimit || (sp.onFailure && restartsPastBackoffLimit(s.active, sp.backoffLimit)):
		return failed(batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
	case sp.deadline != nil && !sp.suspend && s.st.StartTime != nil && !s.now.Before(s.st.StartTime.Add(*sp.deadline)):
		return failed(batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
	case sp.indexed && sp.maxFailedIndexes != nil && int32(len(s.failIdx)) > *sp.maxFailedIndexes:
		return failed(batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")
	case sp.indexed && len(s.failIdx) > 0 && int32(len(s.succIdx)+len(s.failIdx)) >= *sp.completions:
		return failed(batchv1.JobReasonFailedIndexes, "Job has failed indexes")
	}
	complete := false
	switch {
	case sp.completions == nil:
		complete = s.st.Succeeded > 0 && len(s.active) == 0
	case sp.indexed:
		complete = int32(len(s.succIdx)) >= *sp.completions
	default:
		complete = s.st.Succeeded >= *sp.completions
	}
	if complete {
		return &batchv1.JobCondition{Type: batchv1.JobComplete, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods"}
	}
	return nil
}

// finish ends the Job: it sets the final condition, stops the running pods
// and starts the TTL.
func (s *jobSync) finish(c *batchv1.JobCondition) {
	s.setCondition(c.Type, corev1.ConditionTrue, c.Reason, c.Message)
	if c.Type == batchv1.JobComplete {
		s.st.CompletionTime = &metav1.Time{Time: s.now}
		s.res.Events = append(s.res.Events, normalEvent(ReasonCompleted, "Job completed"))
	} else {
		s.res.Events = append(s.res.Events, warningEvent(c.Reason, "%s", c.Message))
	}
	s.deleteActive()
	s.afterFinish(s.now)
}

func (s *jobSync) afterFinish(finishedAt time.Time) {
	s.setCounts()
	if s.spec.ttl == nil {
		return
	}
	expire := finishedAt.Add(*s.spec.ttl)
	if s.now.Before(expire) {
		s.requeue(expire)
		return
	}
	s.res.Expired = true
	deleting := make(map[types.UID]bool, len(s.res.Delete))
	for _, d := range s.res.Delete {
		deleting[d.UID] = true
	}
	for _, p := range s.pods {
		if !p.Deleting && !deleting[p.UID] {
			s.res.Delete = append(s.res.Delete, PodRef{Name: p.Name, UID: p.UID})
		}
	}
}

// suspend stops the Job's pods without counting them as failures and marks
// the Job suspended.
func (s *jobSync) suspend() {
	s.deleteActive()
	if s.setCondition(batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended") {
		s.res.Events = append(s.res.Events, normalEvent(ReasonSuspended, "Job suspended"))
	}
}

// resume clears a Suspended condition. As in Kubernetes, a resumed Job
// starts afresh: its start time (and so its active deadline) restarts.
func (s *jobSync) resume() {
	for i := range s.st.Conditions {
		c := &s.st.Conditions[i]
		if c.Type == batchv1.JobSuspended && c.Status == corev1.ConditionTrue {
			s.setCondition(batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed")
			s.st.StartTime = &metav1.Time{Time: s.now}
			s.res.Events = append(s.res.Events, normalEvent(ReasonResumed, "Job resumed"))
			return
		}
	}
}

func (s *jobSync) manageNonIndexed() {
	sp := &s.spec
	want := sp.parallelism
	switch {
	case sp.completions != nil:
		want = max(0, min(want, *sp.completions-s.st.Succeeded))
	case s.st.Succeeded > 0:
		// A work queue with a success is draining: start nothing new,
		// let what runs finish.
		want = min(want, int32(len(s.active)))
	}
	if n := int32(len(s.active)); n > want {
		// Stop the pods least far along first, newest first among equals,
		// as Kubernetes ranks them.
		victims := slices.Clone(s.active)
		slices.SortStableFunc(victims, func(a, b *ObservedPod) int {
			if c := cmp.Compare(rankRunning(a), rankRunning(b)); c != 0 {
				return c
			}
			return cmp.Compare(podSeq(s.job.Name, b.Name), podSeq(s.job.Name, a.Name))
		})
		for _, p := range victims[:n-want] {
			s.deletePod(p)
		}
		return
	}
	missing := want - int32(len(s.active))
	if missing == 0 {
		return
	}
	if until := backoffUntil(s.prog.FailuresSinceSuccess, s.prog.LastFailure); s.now.Before(until) {
		s.requeue(until)
		return
	}
	for range missing {
		s.createPod(-1, want)
	}
}

// rankRunning orders pods by how far along they are: pending, then
// running but not ready, then ready.
func rankRunning(p *ObservedPod) int {
	switch {
	case p.Phase != corev1.PodRunning:
		return 0
	case !p.Ready:
		return 1
	}
	return 2
}

func (s *jobSync) manageIndexed() {
	sp := &s.spec
	completions := *sp.completions
	sorted := slices.Clone(s.active)
	slices.SortStableFunc(sorted, func(a, b *ObservedPod) int {
		if c := cmp.Compare(a.Index, b.Index); c != 0 {
			return c
		}
		return cmp.Compare(podSeq(s.job.Name, a.Name), podSeq(s.job.Name, b.Name))
	})
	// One running pod per index that still needs one; anything else (an
	// index out of range, already done or failed, a duplicate) is stopped.
	var kept []*ObservedPod
	running := indexSet{}
	for _, p := range sorted {
		ix := p.Index
		if ix < 0 || ix >= completions || s.succIdx.has(ix) || s.failIdx.has(ix) || running.has(ix) {
			s.deletePod(p)
			continue
		}
		running.add(ix)
		kept = append(kept, p)
	}
	remaining := completions - int32(len(s.succIdx)) - int32(len(s.failIdx))
	want := min(sp.parallelism, remaining)
	if n := int32(len(kept)); n > want {
		// Parallelism went down: stop the highest indexes.
		for _, p := range kept[want:] {
			s.deletePod(p)
			delete(running, p.Index)
		}
		kept = kept[:want]
	}
	s.active = kept
	slots := want - int32(len(kept))
	for ix := int32(0); ix < completions && slots > 0; ix++ {
		if s.succIdx.has(ix) || s.failIdx.has(ix) || running.has(ix) {
			continue
		}
		var until time.Time
		if sp.perIndex != nil {
			f := s.prog.IndexFailures[ix]
			until = backoffUntil(f.Count, f.Last)
		} else {
			until = backoffUntil(s.prog.FailuresSinceSuccess, s.prog.LastFailure)
		}
		if s.now.Before(until) {
			s.requeue(until)
			if sp.perIndex == nil {
				return
			}
			continue
		}
		s.createPod(ix, want)
		slots--
	}
}

// createPod adds a new pod for the given index (-1 for NonIndexed) to the
// result. want is how many pods the Job wants running now; a gang never
// asks for more members than that.
func (s *jobSync) createPod(index int32, want int32) {
	j := s.job
	seq := s.prog.NextPod
	s.prog.NextPod++
	name := podName(j.Name, index, seq)
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: controlledMeta(name, &j.Spec.Template.ObjectMeta, j, "Job"),
		Spec:       *j.Spec.Template.Spec.DeepCopy(),
	}
	labels, annotations := pod.Labels, pod.Annotations
	labels[JobNameLabel] = j.Name
	labels[LegacyJobNameLabel] = j.Name
	labels[ControllerUIDLabel] = string(j.UID)
	labels[LegacyControllerUIDLabel] = string(j.UID)
	if index >= 0 {
		ix := strconv.Itoa(int(index))
		annotations[CompletionIndexAnnotation] = ix
		labels[CompletionIndexAnnotation] = ix
		addEnv(pod.Spec.InitContainers, ix)
		addEnv(pod.Spec.Containers, ix)
		// Kubernetes gives Indexed pods the stable hostname <job>-<index>.
		if host := j.Name + "-" + ix; pod.Spec.Hostname == "" && len(host) <= 63 {
			pod.Spec.Hostname = host
		}
	}
	if s.spec.gangMin > 0 {
		annotations[GangAnnotation] = j.Namespace + "/" + j.Name
		annotations[GangMinAnnotation] = strconv.Itoa(int(min(s.spec.gangMin, want)))
	}
	s.res.Create = append(s.res.Create, pod)
	s.created++
}

// addEnv gives each container JOB_COMPLETION_INDEX unless it sets it itself.
func addEnv(cs []corev1.Container, ix string) {
	for i := range cs {
		if !slices.ContainsFunc(cs[i].Env, func(e corev1.EnvVar) bool { return e.Name == CompletionIndexEnv }) {
			cs[i].Env = append(cs[i].Env, corev1.EnvVar{Name: CompletionIndexEnv, Value: ix})
		}
	}
}

func (s *jobSync) deletePod(p *ObservedPod) {
	s.res.Delete = append(s.res.Delete, PodRef{Name: p.Name, UID: p.UID})
	s.terminating++
	s.active = slices.DeleteFunc(s.active, func(q *ObservedPod) bool { return q == p })
}

func (s *jobSync) deleteActive() {
	for _, p := range slices.Clone(s.active) {
		s.deletePod(p)
	}
}

// setCounts fills the status counters from what this sync leaves running.
func (s *jobSync) setCounts() {
	var ready int32
	for _, p := range s.active {
		if p.Ready {
			ready++
		}
	}
	s.st.Active = int32(len(s.active)) + s.created
	s.st.Ready = &ready
	s.st.Terminating = ptr.To(s.terminating)
	s.st.CompletedIndexes = ""
	if s.spec.indexed {
		s.st.CompletedIndexes = s.succIdx.String()
	}
	s.st.FailedIndexes = nil
	if s.spec.perIndex != nil {
		s.st.FailedIndexes = ptr.To(s.failIdx.String())
	}
}

// setCondition sets a condition's status, reason and message, stamping the
// transition time only when the status changes, and reports whether it did.
func (s *jobSync) setCondition(t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string) bool {
	now := metav1.Time{Time: s.now}
	for i := range s.st.Conditions {
		c := &s.st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == status {
			return false
		}
		*c = batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now}
		return true
	}
	if status != corev1.ConditionTrue {
		return false
	}
	s.st.Conditions = append(s.st.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now})
	return true
}

func (s *jobSync) requeue(t time.Time) {
	if s.res.RequeueAt.IsZero() || t.Before(s.res.RequeueAt) {
		s.res.RequeueAt = t
	}
}

// errNoUID is the caller's mistake, not the user's: the store assigns a
// Job its UID before the Job's first sync.
var errNoUID = errors.New("the Job has no UID; the store must assign one before its first sync")
