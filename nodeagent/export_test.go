package nodeagent

import "time"

// SetStepTrace has the agent report each step of starting and removing
// pods to f (benchmarks print the breakdown).
func SetStepTrace(a *Agent, f func(uid, step string, d time.Duration)) {
	t := stepTrace(f)
	a.trace.Store(&t)
}

// DefaultConflist is the CNI config the agent writes for cfg.
func DefaultConflist(cfg *Config) ([]byte, error) { return defaultConflist(cfg) }

// ContainerID is the containerd ID of one attempt of a pod's container.
func ContainerID(uid, name string, attempt int) string { return containerID(uid, name, attempt) }
