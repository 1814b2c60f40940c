package nodeagent

import (
	"sync"

	"github.com/berth-dev/berth/api"
)

// maxEvents bounds the events an agent keeps until they are taken; past
// it the oldest go.
const maxEvents = 256

// eventLog holds the events the agent recorded (the kubelet's event
// recorder: hooks that failed) until someone takes them.
type eventLog struct {
	mu    sync.Mutex
	items []api.Event
}

func (l *eventLog) add(e api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) >= maxEvents {
		l.items = append(l.items[:0], l.items[len(l.items)-maxEvents+1:]...)
	}
	l.items = append(l.items, e)
}

func (l *eventLog) take() []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.items
	l.items = nil
	return out
}

// TakeEvents returns the events recorded since the last call, oldest
// first, and forgets them: the link to the server sends them with the
// next status report.
func (a *Agent) TakeEvents() []api.Event { return a.events.take() }

// event records an event about the worker's pod.
func (w *podWorker) event(typ, reason, msg string) {
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	w.a.events.add(api.Event{
		Time: w.a.cfg.Clock.Now().UTC(), Type: typ, Reason: reason,
		Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Message: msg,
	})
}
