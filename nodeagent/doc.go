// Package nodeagent is the node side of berth. Given the pods that should
// run on this node, it makes containerd match, level-triggered, and reports
// what it sees. It knows nothing of Git or scheduling.
//
// # Feeding it
//
// Agent.Sync takes the full list of pods that should run (the pod UID is
// the identity) and replaces the previous list; Agent.Status returns every
// pod the agent holds with a corev1.PodStatus computed as the kubelet does
// (package podstatus). A Source drives Sync: DirSource reads static pods
// from a directory (`berth agent --manifests-dir`), and the control plane's
// agent API (package remote) feeds the same loop from the server. Agent.Run
// couples a Source with periodic garbage collection.
//
// # One pod
//
// Each pod has a worker goroutine that owns all of the pod's containerd
// objects and makes one pass toward the desired state per wake-up (an
// exit, a probe result, a back-off deadline on the injected clock, a new
// spec, or the resync period):
//
//  1. volumes: emptyDir directories (tmpfs for medium Memory, with its
//     sizeLimit) and, only with Config.AllowHostPath, hostPath; configMap,
//     secret, projected and downwardAPI volumes from Config.Configs (a
//     ConfigSource), written with the kubelet's AtomicWriter scheme
//     (timestamped dir, ..data symlink swap, a link per key) and rewritten
//     in place on every pass whose data differs (Agent.ConfigsChanged
//     wakes the workers at once), Secret and projected ones on tmpfs only;
//     fsGroup owns emptyDirs and config volumes; a disk-backed emptyDir over
//     its sizeLimit gets the pod evicted (measured every 10s);
//  2. the sandbox: pods/<uid>/pod.json is written first, then a network
//     namespace pinned under pods/<uid>/netns (containerd's pkg/netns), a
//     CNI ADD (libcni, conflist at Config.CNIConfPath, default bridge +
//     host-local + portmap + loopback, cniVersion 1.0.0), /etc/hosts,
//     resolv.conf and hostname for the pod, and the pause container (an
//     image the agent builds from the pause binary and imports itself).
//     Every step is undone on a fresh context if a later one fails, with
//     the errors joined;
//  3. init containers in order, each to success; native sidecars (init
//     containers with restartPolicy Always) started in order and kept
//     running; then the app containers. Every container joins the
//     sandbox's network, IPC and UTS namespaces (and its shim, through the
//     io.kubernetes.cri.sandbox-id annotation), with its own PID and mount
//     namespaces, cgroup CPU and memory limits, the securityContext
//     (security.go: user and groups, runAsNonRoot, capabilities from
//     containerd's default set, no_new_privs, read-only root, seccomp,
//     privileged; pod sysctls on the pause container), env resolved once
//     from fieldRef, resourceFieldRef, ConfigMaps and Secrets (a missing
//     one is CreateContainerConfigError, retried every pass), a
//     termination-message file, and its output going from the shim
//     straight to a log file per attempt. A postStart hook runs as soon
//     as the task starts; the container counts as running, and later app
//     containers start, only once it returns; if it fails the container
//     is stopped, a FailedPostStartHook event recorded and the restart
//     policy applies (hooks.go);
//  4. exits are recorded (OOMKilled from TaskOOM events or the memory
//     cgroup, the termination message from its file or, with
//     FallbackToLogsOnError, the log tail), restarts follow package restart (policy and the kubelet's
//     crash-loop back-off), probes run through package probe;
//  5. on removal: app containers get their preStop hook, SIGTERM, then
//     SIGKILL after the grace period (hook and signal share it), then
//     sidecars in reverse order, the same way; every stop the agent makes
//     (a failed liveness probe or postStart hook too) runs preStop first,
//     and a hook that fails or runs out of time records a
//     FailedPreStopHook event and the stop goes on. Events go up with the
//     status reports (Agent.TakeEvents); then containers, snapshots,
//     the pause container, the CNI lease (DEL even without a netns), the
//     netns, the pod directory and its logs are released. A tear-down that
//     fails is retried; the pod is never forgotten before it succeeds.
//
// # Crash safety
//
// The agent keeps no checkpoint. Every containerd object it creates carries
// labels (LabelPodUID, LabelPodName, LabelPodNS, LabelContainer,
// LabelAttempt, LabelSpecHash, ...); an exited container keeps its exit code
// and times as labels until its successor runs. A new worker first adopts
// what containerd holds for its UID: running tasks are followed, not
// restarted, exits that happened meanwhile are recorded, attempt numbers
// (restart counts) carry on. Before the first Sync nothing is removed;
// after it, and every Config.GCInterval, containers, pod directories,
// snapshots, IP leases and log directories that no wanted pod owns are torn
// down or removed.
//
// # Several agents
//
// Each agent owns a containerd namespace, a run dir, a log dir, a CNI
// network name, a bridge and a pod subnet (within 198.18.0.0/15); with
// distinct values several agents act as several nodes on one machine.
package nodeagent
