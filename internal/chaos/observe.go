package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"github.com/berth-dev/berth/nodeagent"
)

// Copy is one pod as containerd holds it on one node.
type Copy struct {
	Node, Name, UID string
	// Image is the first app container's image.
	Image string
	// Running: every app container has a running task.
	Running bool
}

// Observe lists the pods in every node's containerd namespace: what runs,
// not what the store says.
func (c *Cluster) Observe(ctx context.Context) ([]Copy, error) {
	var all []Copy
	for _, n := range c.nodes {
		cs, err := c.observeNode(ctx, n)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return all, nil
}

func (c *Cluster) observeNode(ctx context.Context, n *Node) ([]Copy, error) {
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(ctx, n.NS), 10*time.Second)
	defer cancel()
	ctrs, err := c.ctd.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("containers in %s: %w", n.NS, err)
	}
	byUID := map[string]*Copy{}
	apps := map[string]int{}
	running := map[string]int{}
	for _, ctr := range ctrs {
		info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue // removed while we looked
		}
		uid := info.Labels[nodeagent.LabelPodUID]
		if uid == "" {
			continue
		}
		cp, ok := byUID[uid]
		if !ok {
			cp = &Copy{Node: n.Name, Name: info.Labels[nodeagent.LabelPodName], UID: uid}
			byUID[uid] = cp
		}
		if info.Labels[nodeagent.LabelRole] != "container" || info.Labels[nodeagent.LabelKind] != "app" {
			continue
		}
		apps[uid]++
		if cp.Image == "" {
			cp.Image = info.Image
		}
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			continue
		}
		st, err := task.Status(ctx)
		if err == nil && st.Status == containerd.Running {
			running[uid]++
		}
	}
	out := make([]Copy, 0, len(byUID))
	for uid, cp := range byUID {
		cp.Running = apps[uid] > 0 && running[uid] == apps[uid]
		out = append(out, *cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// overlaps samples containerd in the background and records every time a
// pod name had a running copy on two nodes at once, and for how long;
// each sample is also handed to the checks given (the StatefulSet's).
type overlaps struct {
	mu      sync.Mutex
	open    map[string]time.Time // pod name → first seen on two nodes
	longest map[string]time.Duration
	count   map[string]int // windows per pod name
	// stillOpen are the names whose window was open when sampling stopped.
	stillOpen map[string]bool
	errs      int
	checks    []func(time.Time, []Copy)
	stop      chan struct{}
	wg        sync.WaitGroup
}

func newOverlaps(checks ...func(time.Time, []Copy)) *overlaps {
	return &overlaps{open: map[string]time.Time{}, longest: map[string]time.Duration{}, count: map[string]int{}, stillOpen: map[string]bool{}, checks: checks, stop: make(chan struct{})}
}

func (c *Cluster) watchOverlaps(every time.Duration, checks ...func(time.Time, []Copy)) *overlaps {
	o := newOverlaps(checks...)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-tk.C:
			}
			cs, err := c.Observe(context.Background())
			if err != nil {
				o.mu.Lock()
				o.errs++ // containerd restarting
				o.mu.Unlock()
				continue
			}
			now := time.Now()
			o.record(now, cs)
			for _, check := range o.checks {
				check(now, cs)
			}
		}
	}()
	return o
}

func (o *overlaps) record(now time.Time, cs []Copy) {
	nodes := map[string]map[string]bool{}
	for _, cp := range cs {
		if !cp.Running {
			continue
		}
		if nodes[cp.Name] == nil {
			nodes[cp.Name] = map[string]bool{}
		}
		nodes[cp.Name][cp.Node] = true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, ns := range nodes {
		if len(ns) > 1 {
			if _, ok := o.open[name]; !ok {
				o.open[name] = now
				o.count[name]++
			}
		}
	}
	for name, since := range o.open {
		if len(nodes[name]) > 1 {
			continue
		}
		delete(o.open, name)
		o.longest[name] = max(o.longest[name], now.Sub(since))
	}
}

// done stops sampling; windows still open count up to now.
func (o *overlaps) done() {
	close(o.stop)
	o.wg.Wait()
	o.finish()
}

// finish closes the windows still open, counting them up to now.
func (o *overlaps) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for name, since := range o.open {
		delete(o.open, name)
		o.stillOpen[name] = true
		o.longest[name] = max(o.longest[name], now.Sub(since))
	}
}

// summary is over every pod name.
func (o *overlaps) summary() (count int, longest time.Duration, which string) {
	return o.summaryOf(func(string) bool { return true })
}

// summaryOf counts the windows of the pod names keep accepts and names
// the one with the longest (" (still open)" when sampling stopped in it).
func (o *overlaps) summaryOf(keep func(name string) bool) (count int, longest time.Duration, which string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, n := range o.count {
		if keep(name) {
			count += n
		}
	}
	for name, d := range o.longest {
		if keep(name) && (d > longest || (d == longest && name < which)) {
			longest, which = d, name
		}
	}
	if o.stillOpen[which] {
		which += " (still open)"
	}
	return count, longest, which
}

// tagOf is the tag of an image reference.
func tagOf(ref string) string {
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		return ref[i+1:]
	}
	return ""
}
