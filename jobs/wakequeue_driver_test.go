package jobs

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// WakeQueue holds one wake-up time per key (a Job or CronJob) and hands
// keys out when their time comes, on an injected clock. It is what turns
// the RequeueAt and WakeAt answers of the controllers into calls: a single
// timer for the earliest entry, so a thousand idle CronJobs cost nothing
// between runs.
type WakeQueue struct {
	clock clock.Clock
	kick  chan struct{}

	mu    sync.Mutex
	items wakeHeap
	byKey map[string]*wakeItem
}

// NewWakeQueue returns an empty queue reading time from c.
func NewWakeQueue(c clock.Clock) *WakeQueue {
	return &WakeQueue{clock: c, kick: make(chan struct{}, 1), byKey: map[string]*wakeItem{}}
}

// Set makes key due at `at`, replacing any earlier Set for it (the latest
// answer of a controller is the one that counts). A zero at removes key.
func (q *WakeQueue) Set(key string, at time.Time) {
	if at.IsZero() {
		q.Remove(key)
		return
	}
	q.mu.Lock()
	if it, ok := q.byKey[key]; ok {
		it.at = at
		heap.Fix(&q.items, it.index)
	} else {
		it = &wakeItem{key: key, at: at}
		q.byKey[key] = it
		heap.Push(&q.items, it)
	}
	head := q.items[0].key == key
	q.mu.Unlock()
	if head {
		// The earliest time changed: a Wait blocked on a later timer must
		// look again.
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// Remove forgets key.
func (q *WakeQueue) Remove(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.byKey[key]; ok {
		heap.Remove(&q.items, it.index)
		delete(q.byKey, key)
	}
}

// Len is the number of keys waiting.
func (q *WakeQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Wait blocks until at least one key is due and returns every due key,
// earliest first, removing them from the queue; or returns ctx's error.
func (q *WakeQueue) Wait(ctx context.Context) ([]string, error) {
	for {
		q.mu.Lock()
		now := q.clock.Now()
		var due []string
		for len(q.items) > 0 && !q.items[0].at.After(now) {
			it := heap.Pop(&q.items).(*wakeItem)
			delete(q.byKey, it.key)
			due = append(due, it.key)
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if len(due) == 0 && len(q.items) > 0 {
			timer = q.clock.NewTimer(q.items[0].at.Sub(now))
			fire = timer.C()
		}
		q.mu.Unlock()
		if len(due) > 0 {
			return due, nil
		}
		select {
		case <-ctx.Done():
		case <-fire:
		case <-q.kick:
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

type wakeItem struct {
	key   string
	at    time.Time
	index int
}

// wakeHeap is a min-heap on the wake-up time, ties broken by key so the
// order is reproducible.
type wakeHeap []*wakeItem

func (h wakeHeap) Len() int { return len(h) }
func (h wakeHeap) Less(i, j int) bool {
	if c := h[i].at.Compare(h[j].at); c != 0 {
		return c < 0
	}
	return h[i].key < h[j].key
}
func (h wakeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *wakeHeap) Push(x any) {
	it := x.(*wakeItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *wakeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
