package podstatus

import (
	"time"

	"github.com/berth-dev/berth/nodeagent/restart"
)

// State is what the runtime sees of a container's latest attempt, in the
// kubelet's terms (kubecontainer.State).
type State int

const (
	// StateNone: no attempt of this container exists, because it was never
	// created or its containerd objects are gone.
	StateNone State = iota
	// StateCreated: the containerd container exists, its task has not
	// started.
	StateCreated
	// StateRunning: the task is running.
	StateRunning
	// StateExited: the task ran and exited; ExitCode, Reason and the times
	// say how.
	StateExited
	// StateUnknown: an attempt exists but its state could not be read.
	StateUnknown
)

func (s State) String() string {
	switch s {
	case StateNone:
		return "none"
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	case StateUnknown:
		return "unknown"
	default:
		return "invalid"
	}
}

// Waiting reasons the runtime reports in Container.StartFailure, and the
// defaults the kubelet shows for a container not created yet.
const (
	ReasonContainerCreating          = "ContainerCreating"
	ReasonPodInitializing            = "PodInitializing"
	ReasonCrashLoopBackOff           = "CrashLoopBackOff"
	ReasonErrImagePull               = "ErrImagePull"
	ReasonImagePullBackOff           = "ImagePullBackOff"
	ReasonErrImageNeverPull          = "ErrImageNeverPull"
	ReasonInvalidImageName           = "InvalidImageName"
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonCreateContainerError       = "CreateContainerError"
	ReasonRunContainerError          = "RunContainerError"
)

// Termination reasons, as containerd's CRI plugin reports them: an exit
// code 0 is Completed, an OOM kill OOMKilled, anything else Error.
const (
	ReasonCompleted              = "Completed"
	ReasonError                  = "Error"
	ReasonOOMKilled              = "OOMKilled"
	ReasonContainerStatusUnknown = "ContainerStatusUnknown"
)

// Observation is what the runtime saw of one pod at one moment: the input
// that, with the pod spec and the previous status, determines the status.
type Observation struct {
	// SandboxReady: the pause sandbox runs in a network namespace that CNI
	// has set up, so containers can be started (PodReadyToStartContainers).
	SandboxReady bool
	// PodIPs are the sandbox's addresses, the first one primary.
	PodIPs []string
	// HostIPs are the node's addresses.
	HostIPs []string
	// Terminal is the kubelet's podIsTerminal: the runtime has decided the
	// pod runs nothing more (it is being torn down, or every app container
	// finished for good and the sidecars are being stopped). A pod whose
	// containers are all stopped is then Succeeded or Failed whatever its
	// restart policy.
	Terminal bool
	// Rejected, when set, fails the pod before anything runs, as the
	// kubelet's admission does (a hostPath volume the agent does not
	// allow, say): phase Failed with this reason and message.
	Rejected *Rejection
	// Containers holds one entry per container the runtime knows, in any
	// order. A container of the spec with no entry has never been seen; an
	// entry for a name the spec lacks is ignored.
	Containers []Container
}

// Rejection is why a pod was refused outright.
type Rejection struct {
	Reason  string
	Message string
}

// Container is what the runtime knows of one container of the pod: its
// latest attempt, how the one before it ended, and why the next start is
// held back, the same facts the kubelet reads from the runtime and its
// reason cache.
type Container struct {
	// Name is the container's name in the spec.
	Name string
	// Kind may be left unspecified; the spec decides, and a kind that
	// disagrees with the spec is an error (it means the runtime's
	// bookkeeping is off).
	Kind restart.Kind

	// State is the latest attempt's state; the fields below describe that
	// attempt.
	State State
	// ExitCode, for StateExited.
	ExitCode int32
	// Reason, for StateExited: OOMKilled, Error or Completed; empty means
	// derive it from ExitCode. For StateCreated a waiting reason may be
	// given.
	Reason string
	// Message, for StateExited: the termination message, if any.
	Message string
	// StartedAt is when the task started (StateRunning, StateExited).
	StartedAt time.Time
	// FinishedAt is when it exited (StateExited).
	FinishedAt time.Time
	// ContainerID names the attempt, e.g. "containerd://<id>".
	ContainerID string
	// Image is the image reference the attempt runs; empty means the
	// spec's.
	Image string
	// ImageID is the resolved image, e.g. "<repo>@sha256:…".
	ImageID string

	// RestartCount is how many times the container was started again
	// after its first attempt (the attempt label of the latest attempt).
	RestartCount int32
	// Started is the prober's answer for a running container: true when
	// it has no startup probe or the probe has succeeded.
	Started bool
	// Ready is the prober's answer for a running container: true when it
	// has no readiness probe or the probe last succeeded.
	Ready bool

	// Previous is how the attempt before the latest one ended, if the
	// runtime still knows it: it becomes lastState.terminated.
	Previous *Termination
	// StartFailure is why the latest try to (re)start the container did
	// not happen or failed — CrashLoopBackOff while backing off,
	// ErrImagePull, ImagePullBackOff, CreateContainerError… — the
	// kubelet's reason cache. The runtime clears it once a start succeeds.
	// It shows as the waiting state whenever the container is due to be
	// (re)started.
	StartFailure *Waiting
}

// Termination is how one attempt of a container ended.
type Termination struct {
	ExitCode    int32
	Reason      string
	Message     string
	StartedAt   time.Time
	FinishedAt  time.Time
	ContainerID string
}

// Waiting is why a container is not running yet.
type Waiting struct {
	Reason  string
	Message string
}
