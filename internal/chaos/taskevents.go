package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/typeurl/v2"

	"github.com/berth-dev/berth/nodeagent"
)

// taskEvents measures two-copies windows from containerd's task events
// instead of samples: it keeps, for every pod name, the nodes where one of
// its app containers has a running process, and records each change into
// an overlaps at the moment containerd tells of it. A window shorter than
// the sampler's period is measured too, and "running" is any app process,
// not every one.
//
// A containerd restart breaks the event stream; the tracker subscribes
// again and rebuilds its state from a scan of every node's tasks (a gap it
// counts), so what happened while containerd was down is only sampled.
type taskEvents struct {
	c      *Cluster
	o      *overlaps
	nsNode map[string]string // containerd namespace → node name
	// labelsOf reads a container's labels (from containerd).
	labelsOf func(ctx context.Context, ns, id string) (map[string]string, error)

	mu      sync.Mutex
	running map[string]runningApp // "namespace/container ID" → its pod
	gaps    int
	starts  int // app processes seen starting

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type runningApp struct{ node, pod string }

func (c *Cluster) watchTaskEvents() *taskEvents {
	t := newTaskEvents(func(ctx context.Context, ns, id string) (map[string]string, error) {
		ctx, cancel := context.WithTimeout(namespaces.WithNamespace(ctx, ns), 5*time.Second)
		defer cancel()
		ctr, err := c.ctd.ContainerService().Get(ctx, id)
		return ctr.Labels, err
	})
	t.c = c
	for _, n := range c.nodes {
		t.nsNode[n.NS] = n.Name
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for ctx.Err() == nil {
			t.follow(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return t
}

func newTaskEvents(labelsOf func(ctx context.Context, ns, id string) (map[string]string, error)) *taskEvents {
	return &taskEvents{o: newOverlaps(), nsNode: map[string]string{}, running: map[string]runningApp{}, labelsOf: labelsOf}
}

// follow subscribes, rebuilds the state from a scan (events from the
// subscription on are queued meanwhile) and applies events until the
// stream breaks.
func (t *taskEvents) follow(ctx context.Context) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, errc := t.c.ctd.Subscribe(sctx, `topic=="/tasks/start"`, `topic=="/tasks/exit"`, `topic=="/tasks/delete"`)
	if err := t.scan(ctx); err != nil {
		t.gap()
		return
	}
	for {
		select {
		case env := <-ch:
			node, ok := t.nsNode[env.Namespace]
			if !ok {
				continue
			}
			ev, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			t.apply(ctx, env.Namespace, node, ev)
		case <-errc:
			t.gap()
			return
		case <-ctx.Done():
			return
		}
	}
}

func (t *taskEvents) gap() {
	t.mu.Lock()
	t.gaps++
	t.mu.Unlock()
}

// apply changes the state by one event and records the result.
func (t *taskEvents) apply(ctx context.Context, ns, node string, ev any) {
	var id string
	start := false
	switch e := ev.(type) {
	case *apievents.TaskStart:
		id, start = e.ContainerID, true
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return // an exec (probe, hook) ended, not the container
		}
		id = e.ContainerID
	case *apievents.TaskDelete:
		id = e.ContainerID
	default:
		return
	}
	key := ns + "/" + id
	if start {
		labels, err := t.labelsOf(ctx, ns, id)
		if err != nil || labels[nodeagent.LabelRole] != "container" || labels[nodeagent.LabelKind] != "app" {
			return
		}
		t.mu.Lock()
		t.starts++
		t.running[key] = runningApp{node: node, pod: labels[nodeagent.LabelPodName]}
		t.mu.Unlock()
	} else {
		t.mu.Lock()
		_, was := t.running[key]
		delete(t.running, key)
		t.mu.Unlock()
		if !was {
			return
		}
	}
	t.record(time.Now())
}

// scan replaces the state with the app tasks running now on every node.
func (t *taskEvents) scan(ctx context.Context) error {
	running := map[string]runningApp{}
	for ns, node := range t.nsNode {
		cctx, cancel := context.WithTimeout(namespaces.WithNamespace(ctx, ns), 10*time.Second)
		ctrs, err := t.c.ctd.Containers(cctx, fmt.Sprintf("labels.%q==container", nodeagent.LabelRole))
		if err != nil {
			cancel()
			return err
		}
		for _, ctr := range ctrs {
			labels, err := ctr.Labels(cctx)
			if err != nil || labels[nodeagent.LabelKind] != "app" {
				continue
			}
			task, err := ctr.Task(cctx, nil)
			if err != nil {
				continue
			}
			if st, err := task.Status(cctx); err == nil && st.Status == containerd.Running {
				running[ns+"/"+ctr.ID()] = runningApp{node: node, pod: labels[nodeagent.LabelPodName]}
			}
		}
		cancel()
	}
	t.mu.Lock()
	t.running = running
	t.mu.Unlock()
	t.record(time.Now())
	return nil
}

// record hands the state, one running copy per pod and node, to the
// overlaps.
func (t *taskEvents) record(now time.Time) {
	t.mu.Lock()
	seen := map[runningApp]bool{}
	var cs []Copy
	for _, a := range t.running {
		if !seen[a] {
			seen[a] = true
			cs = append(cs, Copy{Node: a.node, Name: a.pod, Running: true})
		}
	}
	t.mu.Unlock()
	t.o.record(now, cs)
}

// done stops following; windows still open count up to now.
func (t *taskEvents) done() {
	t.cancel()
	t.wg.Wait()
	t.o.finish()
}

// counts are the app starts followed and the stream's gaps.
func (t *taskEvents) counts() (starts, gaps int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.starts, t.gaps
}
