package gitsource

import (
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Webhook limits (issue 17): a body must arrive within
// DefaultWebhookReadTimeout, a delivery ID seen within
// WebhookReplayWindow is not acted on again, and pushes trigger at most
// one fetch per WebhookMinInterval (later ones within it lead to one
// fetch at its end, so no push is lost).
const (
	DefaultWebhookReadTimeout = 10 * time.Second
	WebhookReplayWindow       = time.Hour
	WebhookMinInterval        = 5 * time.Second
	maxRememberedDeliveries   = 4096
)

// deliveryHeaders name the providers' per-delivery IDs.
var deliveryHeaders = []string{"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"}

// deliveryID is the request's delivery ID, "" if the sender gives none.
func deliveryID(h http.Header) string {
	for _, k := range deliveryHeaders {
		if v := h.Get(k); v != "" && len(v) <= 128 {
			return k + ":" + v
		}
	}
	return ""
}

// hookGuard remembers recent delivery IDs and paces triggered fetches.
type hookGuard struct {
	clock clock.Clock

	mu      sync.Mutex
	seen    map[string]time.Time
	order   []string // seen's keys, oldest first
	last    time.Time
	pending bool
}

func newHookGuard(clk clock.Clock) *hookGuard {
	return &hookGuard{clock: clk, seen: map[string]time.Time{}}
}

// replayed records id and reports whether it was seen within the replay
// window. Only authenticated requests reach it.
func (g *hookGuard) replayed(id string) bool {
	if id == "" {
		return false
	}
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.order) > 0 && (len(g.order) >= maxRememberedDeliveries || now.Sub(g.seen[g.order[0]]) > WebhookReplayWindow) {
		delete(g.seen, g.order[0])
		g.order = g.order[1:]
	}
	if t, ok := g.seen[id]; ok && now.Sub(t) <= WebhookReplayWindow {
		return true
	}
	g.seen[id] = now
	g.order = append(g.order, id)
	return false
}

// trigger asks for a fetch now, or at the end of WebhookMinInterval after
// the previous one.
func (g *hookGuard) trigger(fetch func()) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if wait := WebhookMinInterval - now.Sub(g.last); g.last.IsZero() || wait <= 0 {
		g.last = now
		fetch()
		return
	} else if !g.pending {
		g.pending = true
		t := g.clock.NewTimer(wait)
		go func() {
			<-t.C()
			g.mu.Lock()
			g.pending, g.last = false, g.clock.Now()
			g.mu.Unlock()
			fetch()
		}()
	}
}
