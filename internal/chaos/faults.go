package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	corev1 "k8s.io/api/core/v1"
)

// faults are the nemesis' fault types by name. Each injects its fault,
// heals it and returns when the fault is over (convergence is measured by
// the caller from that moment).
var faults = map[string]func(r *Run) error{
	"server-kill":        (*Run).killServer,
	"agent-kill":         (*Run).killAgent,
	"containerd-restart": (*Run).restartContainerd,
	"partition-short":    func(r *Run) error { return r.partition(nodeTimeout / 2) },
	"partition-long":     func(r *Run) error { return r.partition(2*nodeTimeout + 3*time.Second) },
	"disk-full":          (*Run).fillDisk,
	"webhook-storm":      (*Run).webhookStorm,
	// Machine-wide: only in long runs under the lock (clock.go).
	"clock-forward": (*Run).clockForward,
	"clock-back":    (*Run).clockBack,
}

// FaultTypes are the names -chaos.faults accepts.
func FaultTypes() []string {
	var out []string
	for n := range faults {
		out = append(out, n)
	}
	return out
}

func (r *Run) inject(name string) {
	f, ok := faults[name]
	if !ok {
		r.violate("unknown fault %q", name)
		return
	}
	r.injected[name]++
	r.logf("fault %s (#%d)", name, r.injected[name])
	if err := f(r); err != nil {
		r.violate("fault %s: %v", name, err)
	}
	r.measure(name, time.Now())
}

// killServer SIGKILLs the server, checks its store with bbolt's own
// consistency check while nothing holds it, and starts it again.
func (r *Run) killServer() error {
	r.scrapeMetrics()
	r.metrics.fold("server")
	r.c.server.kill()
	db := filepath.Join(r.c.dataDir, "berth.db")
	if err := boltCheck(db); err != nil {
		r.violate("store after server SIGKILL: %v", err)
	}
	r.c.StartServer()
	return nil
}

// boltCheck opens the store read-only and runs bbolt's check of every
// page.
func boltCheck(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// podView is what a user sees of a pod that an agent restart must not
// change: its identity, address, restarts and start times (the pod's and
// each running container's, to the second as the API shows them).
type podView struct {
	UID, IP  string
	Restarts int32
	Started  string
}

// podsOn is what a user sees of the pods Running on node: the web pods
// only, or with all every Running pod (web, db, Jobs').
func (r *Run) podsOn(node string, all bool) map[string]podView {
	l, err := r.c.admin.Pods(r.ctx, "default")
	if err != nil {
		return nil
	}
	out := map[string]podView{}
	for _, p := range l.Items {
		if p.Spec.NodeName != node || p.Status.Phase != corev1.PodRunning || !(all || isWeb(p.Name)) {
			continue
		}
		v := podView{UID: string(p.UID), IP: p.Status.PodIP}
		if p.Status.StartTime != nil {
			v.Started = p.Status.StartTime.UTC().Format(time.RFC3339)
		}
		for _, cs := range p.Status.ContainerStatuses {
			v.Restarts += cs.RestartCount
			if cs.State.Running != nil {
				v.Started += " " + cs.Name + "@" + cs.State.Running.StartedAt.UTC().Format(time.RFC3339)
			}
		}
		out[p.Name] = v
	}
	return out
}

// killAgent SIGKILLs one agent and starts it again; its pods keep running
// and must look the same to a user afterwards.
func (r *Run) killAgent() error {
	n := r.c.nodes[r.rng.Intn(len(r.c.nodes))]
	before := r.podsOn(n.Name, true)
	r.logf("SIGKILL agent %s (%d running pods)", n.Name, len(before))
	r.metrics.fold(n.Name)
	n.proc.kill()
	time.Sleep(time.Second)
	r.c.StartAgent(n)
	if err := Poll(30*time.Second, func() error { return r.c.nodesReady(len(r.c.nodes)) }); err != nil {
		return fmt.Errorf("agent %s not Ready after restart: %w", n.Name, err)
	}
	// Let it report its pods once.
	time.Sleep(3 * time.Second)
	// No change runs during a fault: a web or db pod Running before must
	// be again once the agent has adopted it (a Job's may have finished).
	kept := func(name string) bool { return isWeb(name) || dbOrdinal(name) >= 0 }
	var after map[string]podView
	_ = Poll(15*time.Second, func() error {
		after = r.podsOn(n.Name, true)
		for name := range before {
			if _, ok := after[name]; !ok && kept(name) {
				return fmt.Errorf("%s not Running", name)
			}
		}
		return nil
	})
	for name, b := range before {
		a, ok := after[name]
		if !ok && kept(name) {
			r.violate("agent %s restart: pod %s was Running before, is not 18s after (%+v)", n.Name, name, b)
			continue
		}
		if !ok {
			continue
		}
		if a != b {
			r.violate("agent %s restart changed pod %s: before %+v, after %+v", n.Name, name, b, a)
		}
	}
	return nil
}

// restartContainerd kills the shared containerd (SIGKILL: a crash) and
// starts it again on the same directory; the shims and pods live on.
func (r *Run) restartContainerd() error {
	return r.c.ctrd.Crash(r.ctx)
}

const partTable = "c20chaos"

// partition drops every packet between one agent's host and the server
// for d, then heals.
func (r *Run) partition(d time.Duration) error {
	n := r.c.nodes[r.rng.Intn(len(r.c.nodes))]
	r.logf("partition %s from the server for %v (node timeout %v)", n.Name, d, nodeTimeout)
	rules := fmt.Sprintf(`table inet %[1]s {
  chain out { type filter hook output priority -10; ip daddr %[2]s drop; }
  chain in { type filter hook input priority -10; ip saddr %[2]s drop; }
}
`, partTable, hostsGateway)
	f := filepath.Join(r.c.dir, "partition.nft")
	if err := os.WriteFile(f, []byte(rules), 0o600); err != nil {
		return err
	}
	if err := run("ip", "netns", "exec", n.Host, "nft", "-f", f); err != nil {
		return err
	}
	time.Sleep(d)
	if err := run("ip", "netns", "exec", n.Host, "nft", "delete", "table", "inet", partTable); err != nil {
		return err
	}
	return nil
}

// fillDisk fills the server's data tmpfs, pushes a change, checks the
// server refuses to write with an error naming the full disk while reads
// keep working, then frees the space; the change must then apply by
// itself.
func (r *Run) fillDisk() error {
	fill := filepath.Join(r.c.dataDir, "fill")
	f, err := os.Create(fill)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				f.Close()
				return fmt.Errorf("fill: %w", err)
			}
			break
		}
	}
	// Fill the last partial blocks too.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	f.Close()
	defer os.Remove(fill)
	r.logf("the server's data dir is full")
	r.desired.Replicas = 1 + (r.desired.Replicas % 5)
	sha := r.commit(fmt.Sprintf("web: %d replicas (while the disk is full)", r.desired.Replicas))
	var lastErr string
	err = Poll(30*time.Second, func() error {
		st, err := r.c.admin.Status(r.ctx)
		if err != nil {
			return fmt.Errorf("read while full: %w", err)
		}
		if st.Applied != nil && st.Applied.SHA == sha {
			return nil // it fitted in what was left; nothing to refuse
		}
		lastErr = st.LastFetchError
		if st.Rejected != nil && st.Rejected.SHA == sha {
			for _, e := range st.Rejected.Errors {
				lastErr += " " + e.Message
			}
		}
		if !strings.Contains(lastErr, "no space left") {
			return fmt.Errorf("no error naming the full disk: state %s, last fetch error %q", st.State, st.LastFetchError)
		}
		return nil
	})
	if err != nil {
		r.violate("disk full: %v", err)
	} else {
		r.logf("disk full: server says %q", lastErr)
	}
	if _, err := r.c.admin.Pods(r.ctx, ""); err != nil {
		r.violate("disk full: reads fail: %v", err)
	}
	if !r.c.server.running() {
		r.violate("disk full: the server exited: %v\n%s", r.c.server.err, tailFile(r.c.srvLog, 2000))
		os.Remove(fill)
		r.c.StartServer()
	}
	return nil
}

// webhookStorm pushes a change and sends 400 webhooks from 20 clients at
// once; the server must keep answering and apply the change.
func (r *Run) webhookStorm() error {
	r.desired.Replicas = 1 + (r.desired.Replicas+1)%5
	r.commit(fmt.Sprintf("web: %d replicas (under a webhook storm)", r.desired.Replicas))
	var mu sync.Mutex
	var bad []error
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if err := r.c.Hook(); err != nil {
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		r.violate("webhook storm: %d of 400 hooks failed, first: %v", len(bad), bad[0])
	}
	if !r.c.server.running() {
		return fmt.Errorf("the server exited under the storm")
	}
	return nil
}
