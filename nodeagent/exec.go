package nodeagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/containerd/containerd/cio"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/nodeagent/probe"
)

// runningID returns the containerd ID of the named container's running
// instance, or "".
func (w *podWorker) runningID(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cs := range append(append([]corev1.ContainerStatus{}, w.status.InitContainerStatuses...), w.status.ContainerStatuses...) {
		if cs.Name == name && cs.State.Running != nil && len(cs.ContainerID) > len("containerd://") {
			return cs.ContainerID[len("containerd://"):]
		}
	}
	return ""
}

// outputBuffer collects one stream of an exec.
type outputBuffer interface {
	io.Writer
	Bytes() []byte
}

// exec runs cmd beside the container's main process, with the process
// settings (env, cwd, user) of the container's spec. With bounded, only
// the first probe.MaxExecOutput bytes of each stream are kept (probes and
// hooks); otherwise all of it (Agent.Exec).
func (a *Agent) exec(ctx context.Context, id string, cmd []string, bounded bool) (stdout, stderr []byte, code int, err error) {
	c, err := a.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	var b [6]byte
	_, _ = rand.Read(b[:])
	execID := "exec-" + hex.EncodeToString(b[:])
	// Separate buffers: one writer for both streams races and loses output.
	var out, errOut outputBuffer = &bytes.Buffer{}, &bytes.Buffer{}
	if bounded {
		out, errOut = &probe.BoundedBuffer{}, &probe.BoundedBuffer{}
	}
	p, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, out, errOut)))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer p.Delete(context.WithoutCancel(ctx))
	ch, err := p.Wait(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := p.Start(ctx); err != nil {
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	select {
	case st := <-ch:
		p.IO().Wait()
		ec, _, err := st.Result()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		return out.Bytes(), errOut.Bytes(), int(ec), nil
	case <-ctx.Done():
		_ = p.Kill(context.WithoutCancel(ctx), 9)
		// The copy goroutines may still be writing the buffers until the
		// deferred Delete closes the FIFOs: return no output rather than
		// read them now (a timed-out probe's output is not used).
		return nil, nil, 0, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
}
