package nodeagent

import (
	"context"
	"time"

	"github.com/berth-dev/berth/nodeagent/probe"
)

// containerExecer runs exec probes and hooks in one container, keeping
// at most probe.MaxExecOutput bytes of each stream.
type containerExecer struct {
	a  *Agent
	id func() string
}

func (e containerExecer) Exec(ctx context.Context, cmd []string) ([]byte, int, error) {
	out, errOut, code, err := e.a.exec(ctx, e.id(), cmd, true)
	return append(out, errOut...), code, err
}

func hasProbes(c *ctr) bool {
	return c.spec.LivenessProbe != nil || c.spec.ReadinessProbe != nil || c.spec.StartupProbe != nil
}

// ensureProbers starts the probes of every running container that has
// some and none running yet (a new attempt, a new sandbox, or a container
// adopted from an earlier agent).
func (w *podWorker) ensureProbers() {
	for _, c := range w.ctrs {
		if !c.running() || c.prober != nil || !hasProbes(c) || w.sb == nil {
			continue
		}
		p, err := probe.New(c.spec, w.sb.ip, w.execer(c), w.a.cfg.Clock, probe.WithNotify(func(probe.Event) { w.poke() }))
		if err != nil {
			w.log.Warn("probes not run", "container", c.spec.Name, "err", err)
			continue
		}
		ctx, cancel := context.WithCancel(w.a.ctx)
		c.prober, c.stopProber = p, cancel
		p.ContainerStarted(c.startedAt)
		go p.Run(ctx)
	}
}

// stopProbers ends every container's probes, when the pod or its sandbox
// goes away.
func (w *podWorker) stopProbers() {
	for _, c := range w.ctrs {
		if c.stopProber != nil {
			c.stopProber()
		}
		c.prober, c.stopProber = nil, nil
	}
}

// killUnhealthy stops every running container whose liveness or startup
// probe failed, as the kubelet does; the next pass restarts it or not by
// the pod's restart policy.
func (w *podWorker) killUnhealthy(ctx context.Context, grace time.Duration) {
	for _, c := range w.ctrs {
		if !c.running() || c.prober == nil {
			continue
		}
		ok, msg := c.prober.Healthy()
		if ok {
			continue
		}
		w.log.Info("killing unhealthy container", "container", c.spec.Name, "why", msg)
		if g := c.spec.LivenessProbe; g != nil && g.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*g.TerminationGracePeriodSeconds) * time.Second
		}
		if err := w.stopCtr(ctx, c, c.task, grace); err != nil {
			w.log.Error("kill unhealthy container", "container", c.spec.Name, "err", err)
		}
	}
}

// started reports whether the container counts as started: running, and
// its startup probe (if any) has succeeded.
func (c *ctr) started() bool {
	if !c.running() {
		return false
	}
	if c.prober == nil {
		return c.spec.StartupProbe == nil
	}
	return c.prober.Started()
}

// ready reports whether the container is started and its readiness probe
// (if any) stands at success.
func (c *ctr) ready() bool {
	if !c.running() {
		return false
	}
	if c.prober == nil {
		return !hasProbes(c)
	}
	return c.prober.Ready()
}
