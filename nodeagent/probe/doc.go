// Package probe runs a container's liveness, readiness and startup probes
// (exec, HTTP GET, TCP socket) the way the kubelet's prober workers do
// (pkg/kubelet/prober/worker.go), and keeps the results the runtime and
// podstatus read.
//
// One Prober serves one container. The runtime tells it when an attempt
// starts and stops; the Prober schedules each probe on an injected clock:
// the first run initialDelaySeconds after the attempt started, then every
// periodSeconds, each run bounded by timeoutSeconds. A result changes only
// after successThreshold consecutive successes or failureThreshold
// consecutive failures. Until the startup probe succeeds the other two do
// not run; once it has, it runs no more. Readiness starts false and is
// false whenever the container is not running; liveness starts healthy.
// A liveness or startup failure puts that probe on hold until the next
// attempt and is the runtime's signal to kill the container (and restart
// it or not, as package restart decides).
//
// Results are both state (Started, Ready, Healthy) and, through an
// optional callback, events on every change, so the runtime can resync a
// pod the moment something changes instead of polling.
//
// The runtime drives a Prober in one of two ways: Run, a loop that sleeps
// on the clock until the next probe is due; or Step plus NextAt, for a
// loop of its own. Exec probes run through the runtime's Execer (an exec
// in the container); HTTP and TCP probes are real network calls from the
// agent to the pod IP (or the probe's host). gRPC probes are not
// supported: New refuses them.
//
// Hook runs a container's postStart and preStop handlers (exec, httpGet,
// sleep) with the same exec and HTTP code, as the kubelet's handler
// runner shares its prober's, and words failures as the kubelet does; the
// runtime decides when they run (nodeagent/hooks.go).
package probe
