// Package restart decides whether an exited container is started again and
// when: the pod's restart policy applied per container kind (init, native
// sidecar, app) and the kubelet's crash-loop back-off.
//
// The back-off follows the kubelet (pkg/kubelet/kuberuntime doBackOff over
// client-go's flowcontrol.Backoff, no jitter): the first restart after a
// crash is immediate and arms a 10 s back-off; every later restart waits
// until the back-off has passed since the container finished, then doubles
// it, up to 5 minutes. A container that ran for more than twice the cap
// (10 minutes) since its last restart starts over at 10 s. The answer is a
// time ("may start at T"), so the runtime's loop can sleep until exactly
// then on its own clock instead of polling.
//
// Back-off state lives in memory, as in the kubelet: an agent that restarts
// forgets it, so the first crash after adoption restarts at once.
package restart
