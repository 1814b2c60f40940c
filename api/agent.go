package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HeartbeatRequest is the body of a heartbeat. It carries nothing yet:
// the call itself is the news. The server accepts an empty body too.
type HeartbeatRequest struct{}

// A Fence is one time a node lost the server for its lease and stopped
// the pods the server would move (package fencing). The server records it
// as a Fenced event of the node and of each pod.
type Fence struct {
	// ID is a random name the agent gives the fence. It sends a fence
	// with every status report until one is answered, so a report the
	// server took whose answer was lost brings it twice: the server
	// records a fence whose ID it has seen from the node once. At most
	// MaxFenceIDBytes; a fence without one is recorded each time.
	ID string `json:"id,omitempty"`
	// At is when the lease ran out, on the node's clock.
	At time.Time `json:"at"`
	// Unreachable is how long the server was: from the last call it
	// accepted before the fence to the first one after.
	Unreachable Duration `json:"unreachable"`
	// Lease is the node's lease: how long it keeps its pods without the
	// server.
	Lease Duration `json:"lease"`
	// Pods are the pods the node stopped.
	Pods []FencedPod `json:"pods"`
}

// MaxFenceIDBytes bounds a fence's ID.
const MaxFenceIDBytes = 64

// FencedPod is a pod a node stopped when it fenced.
type FencedPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// PodStatusResponse answers a status report.
type PodStatusResponse struct {
	// Drop lists the UIDs the agent reported that the server does not bind
	// to this node (unknown, deleted, or moved elsewhere): the agent stops
	// reporting them, and tears them down if it still runs them.
	Drop []string `json:"drop,omitempty"`
}

// Query parameters of the API.
const (
	ParamResourceVersion = "resourceVersion"
	ParamTimeoutSeconds  = "timeoutSeconds"
	ParamContainer       = "container"
	ParamFollow          = "follow"
	ParamPrevious        = "previous"
	ParamTailLines       = "tailLines"
	// Events are filtered by the object they are about.
	ParamKind      = "kind"
	ParamNamespace = "namespace"
	ParamName      = "name"
)

// PathAgentLogs is where an agent serves the logs of the pods it runs;
// the server proxies `berth logs` there with the join token.
const PathAgentLogs = "/berth/v1/logs/"

// AgentLogPath is the agent's URL path of one container's log.
func AgentLogPath(uid, container string) string {
	return PathAgentLogs + url.PathEscape(uid) + "/" + url.PathEscape(container)
}

// NamespacedPath returns the user path of a namespaced resource: base is
// one of PathPods, PathDeploy, PathJobs, PathCronJobs; an empty namespace
// means all namespaces and an empty name the whole list.
func NamespacedPath(base, namespace, name string) string {
	if namespace == "" {
		return base
	}
	// /api/v1/pods -> /api/v1/namespaces/{ns}/pods
	i := strings.LastIndex(base, "/")
	p := base[:i] + "/namespaces/" + url.PathEscape(namespace) + base[i:]
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// LogOptions select what `berth logs` reads.
type LogOptions struct {
	Container string
	Follow    bool
	Previous  bool
	// TailLines, when positive, starts that many lines from the end.
	TailLines int
}

// ParseLogOptions reads the options back from URL parameters (the inverse
// of Query), refusing values that are not booleans or non-negative counts.
func ParseLogOptions(q url.Values) (LogOptions, error) {
	o := LogOptions{Container: q.Get(ParamContainer)}
	for _, b := range []struct {
		param string
		dst   *bool
	}{{ParamFollow, &o.Follow}, {ParamPrevious, &o.Previous}} {
		if v := q.Get(b.param); v != "" {
			var err error
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return LogOptions{}, fmt.Errorf("%s=%q: not a boolean", b.param, v)
			}
		}
	}
	if v := q.Get(ParamTailLines); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return LogOptions{}, fmt.Errorf("%s=%q: not a non-negative number", ParamTailLines, v)
		}
		o.TailLines = n
	}
	return o, nil
}

// Query encodes the options as URL parameters.
func (o LogOptions) Query() url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set(ParamContainer, o.Container)
	}
	if o.Follow {
		q.Set(ParamFollow, "true")
	}
	if o.Previous {
		q.Set(ParamPrevious, "true")
	}
	if o.TailLines > 0 {
		q.Set(ParamTailLines, strconv.Itoa(o.TailLines))
	}
	return q
}
