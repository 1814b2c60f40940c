package podstatus

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/nodeagent/restart"
)

// Condition reasons, as pkg/kubelet/status/generate.go names them.
const (
	ReasonUnknownContainerStatuses = "UnknownContainerStatuses"
	ReasonPodCompleted             = "PodCompleted"
	ReasonPodFailed                = "PodFailed"
	ReasonContainersNotReady       = "ContainersNotReady"
	ReasonContainersNotInitialized = "ContainersNotInitialized"
	ReasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// ErrObservation marks an observation that contradicts the pod spec.
var ErrObservation = errors.New("observation does not match the pod spec")

// Generate returns the status of pod given what the runtime observed and
// the status reported before (nil or empty for a new pod). now stamps the
// conditions that changed and a first StartTime.
//
// It follows the kubelet step by step: container statuses start from the
// previous ones (a terminated status sticks until the runtime shows a newer
// attempt), the latest attempt sets state, the one before it lastState;
// a container due for a (re)start shows the runtime's start failure as its
// waiting state; probe results set started and ready; getPhase turns the
// statuses into the phase, which never leaves Succeeded or Failed once
// there; the conditions follow from phase and statuses, keeping their
// transition time while their status holds.
//
// Where berth differs from the kubelet of Kubernetes 1.31: a native
// sidecar's start failure (CrashLoopBackOff) shows whatever the pod's
// restart policy, because a sidecar is always restarted (the kubelet
// consults the pod's policy there and leaves a crashed sidecar of a Never
// pod shown as terminated until it restarts); and a pod whose containers
// are all stopped with Terminal set is Succeeded or Failed even though it
// is a static pod (kubernetes#116484).
func Generate(pod *corev1.Pod, prev *corev1.PodStatus, obs Observation, now time.Time) (corev1.PodStatus, error) {
	if prev == nil {
		prev = &corev1.PodStatus{}
	}
	byName, err := index(&pod.Spec, obs.Containers)
	if err != nil {
		return corev1.PodStatus{}, err
	}

	s := corev1.PodStatus{QOSClass: QOSClass(&pod.Spec)}
	s.StartTime = prev.StartTime
	if s.StartTime == nil {
		t := metav1.NewTime(now)
		s.StartTime = &t
	}
	setIPs(&s, obs)

	if obs.Rejected != nil {
		// The kubelet's rejectPod: nothing ran, nothing else to say.
		s.Phase = corev1.PodFailed
		s.Reason = obs.Rejected.Reason
		s.Message = "Pod was rejected: " + obs.Rejected.Message
		return s, nil
	}

	g := generator{
		pod:      pod,
		obs:      byName,
		hasInit:  len(pod.Spec.InitContainers) > 0,
		deleting: pod.DeletionTimestamp != nil,
	}
	s.InitContainerStatuses = g.containerStatuses(prev.InitContainerStatuses, pod.Spec.InitContainers, true)
	s.ContainerStatuses = g.containerStatuses(prev.ContainerStatuses, pod.Spec.Containers, false)
	g.applyProbes(&s)

	all := make([]corev1.ContainerStatus, 0, len(s.InitContainerStatuses)+len(s.ContainerStatuses))
	all = append(all, s.ContainerStatuses...)
	all = append(all, s.InitContainerStatuses...)
	s.Phase = Phase(&pod.Spec, all, obs.Terminal)

	// A terminal phase, once reported, stays: not even the other terminal
	// phase may replace it.
	if terminal(prev.Phase) {
		s.Phase = prev.Phase
	}
	if s.Phase == prev.Phase {
		s.Reason, s.Message = prev.Reason, prev.Message
	}

	// Conditions other components own (readiness gates) pass through.
	for _, c := range prev.Conditions {
		if !ownedByKubelet(c.Type) {
			s.Conditions = append(s.Conditions, c)
		}
	}
	initAndApps := append(append([]corev1.ContainerStatus{}, s.InitContainerStatuses...), s.ContainerStatuses...)
	owned := []corev1.PodCondition{
		readyToStartContainersCondition(obs.SandboxReady),
		InitializedCondition(&pod.Spec, initAndApps, s.Phase),
		ReadyCondition(&pod.Spec, s.Conditions, initAndApps, s.Phase),
		ContainersReadyCondition(&pod.Spec, initAndApps, s.Phase),
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}
	for _, c := range owned {
		c.LastTransitionTime = metav1.NewTime(now)
		for _, old := range prev.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		s.Conditions = append(s.Conditions, c)
	}
	return s, nil
}

// index maps observed containers by name, checking them against the spec.
func index(spec *corev1.PodSpec, cs []Container) (map[string]*Container, error) {
	m := make(map[string]*Container, len(cs))
	var errs []error
	for i := range cs {
		c := &cs[i]
		if _, dup := m[c.Name]; dup {
			errs = append(errs, fmt.Errorf("%w: container %q observed twice", ErrObservation, c.Name))
			continue
		}
		kind, found := restart.KindOf(spec, c.Name)
		if !found {
			// The kubelet ignores runtime containers the spec does not
			// name (the pause container, say); so do we.
			continue
		}
		if c.Kind != restart.KindUnspecified && c.Kind != kind {
			errs = append(errs, fmt.Errorf("%w: container %q observed as %v, the spec makes it %v", ErrObservation, c.Name, c.Kind, kind))
			continue
		}
		m[c.Name] = c
	}
	return m, errors.Join(errs...)
}

func setIPs(s *corev1.PodStatus, obs Observation) {
	for _, ip := range obs.PodIPs {
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(obs.PodIPs) > 0 {
		s.PodIP = obs.PodIPs[0]
	}
	for _, ip := range obs.HostIPs {
		s.HostIPs = append(s.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(obs.HostIPs) > 0 {
		s.HostIP = obs.HostIPs[0]
	}
}

func terminal(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

func ownedByKubelet(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers:
		return true
	}
	return false
}

type generator struct {
	pod      *corev1.Pod
	obs      map[string]*Container
	hasInit  bool
	deleting bool
}

// attempts lists the attempts of a container the runtime knows, newest
// first, as the kubelet's sorted runtime statuses (at most two matter).
func attempts(c *Container) []*Container {
	if c == nil {
		return nil
	}
	var out []*Container
	if c.State != StateNone {
		out = append(out, c)
	}
	if p := c.Previous; p != nil {
		out = append(out, &Container{
			Name:        c.Name,
			State:       StateExited,
			ExitCode:    p.ExitCode,
			Reason:      p.Reason,
			Message:     p.Message,
			StartedAt:   p.StartedAt,
			FinishedAt:  p.FinishedAt,
			ContainerID: p.ContainerID,
			Image:       c.Image,
			ImageID:     c.ImageID,
		})
	}
	return out
}

// terminationReason is the reason containerd's CRI plugin gives an exit.
func terminationReason(reason string, exitCode int32) string {
	switch {
	case reason != "":
		return reason
	case exitCode == 0:
		return ReasonCompleted
	default:
		return ReasonError
	}
}

func (g *generator) defaultWaiting() corev1.ContainerState {
	if g.hasInit {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonPodInitializing}}
	}
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}}
}

// convert is the kubelet's convertContainerStatus for one attempt.
func convert(spec *corev1.Container, a *Container, old *corev1.ContainerStatus) *corev1.ContainerStatus {
	st := &corev1.ContainerStatus{
		Name:         a.Name,
		RestartCount: a.RestartCount,
		Image:        a.Image,
		ImageID:      a.ImageID,
		ContainerID:  a.ContainerID,
	}
	if st.Image == "" {
		st.Image = spec.Image
	}
	switch {
	case a.State == StateRunning:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(a.StartedAt)}
	case a.State == StateCreated:
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: a.Reason, Message: a.Message}
	case a.State == StateExited:
		st.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode:    a.ExitCode,
			Reason:      terminationReason(a.Reason, a.ExitCode),
			Message:     a.Message,
			StartedAt:   metav1.NewTime(a.StartedAt),
			FinishedAt:  metav1.NewTime(a.FinishedAt),
			ContainerID: a.ContainerID,
		}
	case a.State == StateUnknown && old != nil && old.State.Running != nil:
		// It ran and is gone without a trace: say it ended, not that it
		// never started, or a run-once pod could run twice.
		st.State.Terminated = &corev1.ContainerStateTerminated{
			Reason:   ReasonContainerStatusUnknown,
			Message:  "The container could not be located when the pod was terminated",
			ExitCode: 137,
		}
		st.RestartCount = old.RestartCount + 1
	default:
		st.State.Waiting = &corev1.ContainerStateWaiting{}
	}
	return st
}

// containerStatuses is the kubelet's convertToAPIContainerStatuses for one
// list of containers (init or app).
func (g *generator) containerStatuses(previous []corev1.ContainerStatus, containers []corev1.Container, isInit bool) []corev1.ContainerStatus {
	if len(containers) == 0 {
		return nil
	}
	olds := make(map[string]corev1.ContainerStatus, len(previous))
	for _, o := range previous {
		olds[o.Name] = o
	}

	statuses := make(map[string]*corev1.ContainerStatus, len(containers))
	for i := range containers {
		c := &containers[i]
		st := &corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: g.defaultWaiting()}
		if old, ok := olds[c.Name]; ok {
			if old.State.Terminated != nil {
				st = &old
			} else {
				st.RestartCount = old.RestartCount
				st.LastTerminationState = old.LastTerminationState
			}
		}
		statuses[c.Name] = st
	}

	// A container seen running before that the runtime no longer knows
	// did end somehow; record that so the pod does not fall back to
	// Pending.
	for i := range containers {
		c := &containers[i]
		if len(attempts(g.obs[c.Name])) > 0 {
			continue
		}
		old, ok := olds[c.Name]
		if !ok || old.State.Terminated != nil || old.State.Running == nil {
			continue
		}
		st := statuses[c.Name]
		if st.State.Waiting == nil || st.State.Waiting.Reason != g.defaultWaiting().Waiting.Reason {
			continue
		}
		if st.LastTerminationState.Terminated != nil {
			continue
		}
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			Reason:   ReasonContainerStatusUnknown,
			Message:  "The container could not be located when the pod was deleted.  The container used to be Running",
			ExitCode: 137,
		}
		if !g.deleting {
			st.RestartCount++
		}
	}

	// The latest attempt sets the state, the one before it lastState.
	for i := range containers {
		c := &containers[i]
		var oldPtr *corev1.ContainerStatus
		if old, ok := olds[c.Name]; ok {
			oldPtr = &old
		}
		for n, a := range attempts(g.obs[c.Name]) {
			st := convert(c, a, oldPtr)
			if n == 0 {
				statuses[c.Name] = st
			} else {
				statuses[c.Name].LastTerminationState = st.State
			}
		}
	}

	// A container due for a (re)start shows why it has not happened yet.
	for i := range containers {
		c := &containers[i]
		o := g.obs[c.Name]
		as := attempts(o)
		if isInit && len(as) > 0 && as[0].State == StateExited && as[0].ExitCode == 0 && !manifest.IsSidecar(c) {
			continue
		}
		if !g.dueForStart(c, as) || o == nil || o.StartFailure == nil {
			continue
		}
		st := statuses[c.Name]
		if st.State.Terminated != nil {
			st.LastTerminationState = st.State
		}
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  o.StartFailure.Reason,
			Message: o.StartFailure.Message,
		}}
	}

	out := make([]corev1.ContainerStatus, 0, len(containers))
	if isInit {
		// Init containers keep spec order: the order they run in.
		for i := range containers {
			out = append(out, *statuses[containers[i].Name])
		}
		return out
	}
	for _, st := range statuses {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// dueForStart is the kubelet's ShouldContainerBeRestarted, with the
// restart decision taken per container kind.
func (g *generator) dueForStart(c *corev1.Container, as []*Container) bool {
	if g.deleting {
		return false
	}
	if len(as) == 0 {
		return true
	}
	switch as[0].State {
	case StateRunning:
		return false
	case StateUnknown, StateCreated:
		return true
	}
	kind := restart.KindApp
	if k, ok := restart.KindOf(&g.pod.Spec, c.Name); ok {
		kind = k
	}
	return restart.ShouldRestart(g.pod.Spec.RestartPolicy, kind, as[0].ExitCode)
}

// applyProbes is the probe manager's UpdatePodStatus: started and ready
// from the runtime's probe answers.
func (g *generator) applyProbes(s *corev1.PodStatus) {
	probed := func(st *corev1.ContainerStatus) {
		o := g.obs[st.Name]
		started := st.State.Running != nil && o != nil && o.Started
		st.Started = &started
		if !started {
			return
		}
		st.Ready = o.Ready
	}
	for i := range s.ContainerStatuses {
		probed(&s.ContainerStatuses[i])
	}
	for i := range s.InitContainerStatuses {
		st := &s.InitContainerStatuses[i]
		if manifest.IsSidecar(&g.pod.Spec.InitContainers[i]) {
			probed(st)
			continue
		}
		// Init containers take no probes: started while running, ready
		// once they succeeded.
		started := st.State.Running != nil
		st.Started = &started
		if st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
			st.Ready = true
		}
	}
}

func findStatus(statuses []corev1.ContainerStatus, name string) (corev1.ContainerStatus, bool) {
	for _, st := range statuses {
		if st.Name == name {
			return st, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// Phase is the kubelet's getPhase: the pod phase from the statuses of all
// its containers (init and app, in any order). podIsTerminal says the pod
// will run nothing more, so stopped containers decide Succeeded or Failed
// whatever the restart policy.
func Phase(spec *corev1.PodSpec, statuses []corev1.ContainerStatus, podIsTerminal bool) corev1.PodPhase {
	policy := restart.EffectivePolicy(spec.RestartPolicy)
	pendingSidecars, pendingInit, failedInit := 0, 0, 0

	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if manifest.IsSidecar(c) {
			continue
		}
		st, ok := findStatus(statuses, c.Name)
		if !ok {
			pendingInit++
			continue
		}
		switch {
		case st.State.Running != nil:
			pendingInit++
		case st.State.Terminated != nil:
			if st.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated != nil {
				if st.LastTerminationState.Terminated.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}

	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if !manifest.IsSidecar(c) {
			continue
		}
		st, ok := findStatus(statuses, c.Name)
		if !ok {
			unknown++
			continue
		}
		switch {
		case st.State.Running != nil:
			if st.Started == nil || !*st.Started {
				pendingSidecars++
			}
			running++
		case st.State.Terminated != nil:
			// A stopped sidecar says nothing about the pod's outcome.
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated == nil {
				pendingSidecars++
				waiting++
			}
		default:
			pendingSidecars++
			unknown++
		}
	}

	for i := range spec.Containers {
		st, ok := findStatus(statuses, spec.Containers[i].Name)
		if !ok {
			unknown++
			continue
		}
		switch {
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			if st.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}

	if failedInit > 0 && policy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 || (pendingSidecars > 0 && !podIsTerminal):
		// Init containers have not finished. (A terminal pod's sidecars
		// are stopped: they cannot hold it in Pending.)
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if policy == corev1.RestartPolicyAlways {
			// Every container is on its way to a restart.
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		// OnFailure with a failure: restarting.
		return corev1.PodRunning
	default:
		return corev1.PodPending
	}
}

func readyToStartContainersCondition(sandboxReady bool) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse}
	if sandboxReady {
		c.Status = corev1.ConditionTrue
	}
	return c
}

func terminalContainersReady(phase corev1.PodPhase) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse}
	switch phase {
	case corev1.PodFailed:
		c.Reason = ReasonPodFailed
	case corev1.PodSucceeded:
		c.Reason = ReasonPodCompleted
	}
	return c
}

// ContainersReadyCondition is true when every app container and sidecar
// is ready (GenerateContainersReadyCondition).
func ContainersReadyCondition(spec *corev1.PodSpec, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	if statuses == nil {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: ReasonUnknownContainerStatuses}
	}
	var unknown, unready []string
	check := func(name string) {
		st, ok := findStatus(statuses, name)
		switch {
		case !ok:
			unknown = append(unknown, name)
		case !st.Ready:
			unready = append(unready, name)
		}
	}
	for i := range spec.InitContainers {
		if manifest.IsSidecar(&spec.InitContainers[i]) {
			check(spec.InitContainers[i].Name)
		}
	}
	for i := range spec.Containers {
		check(spec.Containers[i].Name)
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 {
		return terminalContainersReady(phase)
	}
	if phase == corev1.PodFailed {
		return terminalContainersReady(phase)
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(unready) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unready status: %s", unready))
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{
			Type:    corev1.ContainersReady,
			Status:  corev1.ConditionFalse,
			Reason:  ReasonContainersNotReady,
			Message: strings.Join(msgs, ", "),
		}
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
}

// ReadyCondition is ContainersReady and every readiness gate's condition
// true (GeneratePodReadyCondition). conditions are the pod's conditions
// not owned by the kubelet, where readiness gates are looked up.
func ReadyCondition(spec *corev1.PodSpec, conditions []corev1.PodCondition, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	cr := ContainersReadyCondition(spec, statuses, phase)
	if cr.Status != corev1.ConditionTrue {
		return corev1.PodCondition{Type: corev1.PodReady, Status: cr.Status, Reason: cr.Reason, Message: cr.Message}
	}
	var msgs []string
	for _, rg := range spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range conditions {
			if conditions[i].Type == rg.ConditionType {
				found = &conditions[i]
				break
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(rg.ConditionType)))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(rg.ConditionType), found.Status))
		}
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{
			Type:    corev1.PodReady,
			Status:  corev1.ConditionFalse,
			Reason:  ReasonReadinessGatesNotReady,
			Message: strings.Join(msgs, ", "),
		}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}

// InitializedCondition is true once every init container has succeeded
// and every sidecar has started, or any app container has ever run
// (GeneratePodInitializedCondition).
func InitializedCondition(spec *corev1.PodSpec, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	if statuses == nil && len(spec.InitContainers) > 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Reason: ReasonUnknownContainerStatuses}
	}
	var unknown, incomplete []string
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		st, ok := findStatus(statuses, c.Name)
		if !ok {
			unknown = append(unknown, c.Name)
			continue
		}
		if manifest.IsSidecar(c) {
			if st.Started == nil || !*st.Started {
				incomplete = append(incomplete, c.Name)
			}
		} else if !st.Ready {
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, Reason: ReasonPodCompleted}
	}
	// An app container that has run means the pod was initialized, even if
	// a sidecar is restarting now.
	if anyAppStarted(spec, statuses) {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(incomplete) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with incomplete status: %s", incomplete))
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{
			Type:    corev1.PodInitialized,
			Status:  corev1.ConditionFalse,
			Reason:  ReasonContainersNotInitialized,
			Message: strings.Join(msgs, ", "),
		}
	}
	return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
}

func anyAppStarted(spec *corev1.PodSpec, statuses []corev1.ContainerStatus) bool {
	for i := range spec.Containers {
		if st, ok := findStatus(statuses, spec.Containers[i].Name); ok && (st.State.Running != nil || st.State.Terminated != nil) {
			return true
		}
	}
	return false
}
