package clusternet

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
)

// Source is the server side of the loop: the network watch and the
// confirmation (api/client's WatchNetwork and NetworkApplied).
type Source interface {
	// Watch returns the state as soon as it differs from version rv.
	Watch(ctx context.Context, rv uint64) (*api.NetworkState, error)
	// Applied tells the server version rv is live on this node.
	Applied(ctx context.Context, rv uint64) error
}

// node is what Run drives; *Applier is one.
type node interface {
	Apply(ctx context.Context, st api.NetworkState) error
}

// Run keeps the node equal to the server's network state until ctx ends:
// watch, apply, confirm. A version is confirmed only once it applied
// without error, since the server stops pods on the strength of it; a
// failed apply is retried after a back-off on clk (1s doubling to 30s).
func Run(ctx context.Context, src Source, n node, clk clock.Clock, log *slog.Logger) {
	var rv uint64
	var last *api.NetworkState
	backoff := time.Second
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-clk.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		return true
	}
	for ctx.Err() == nil {
		st, err := src.Watch(ctx, rv)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("network watch failed", "err", err)
			}
			if !wait() {
				return
			}
			continue
		}
		if last != nil && st.ResourceVersion == last.ResourceVersion {
			continue // the watch timed out with nothing new
		}
		if err := n.Apply(ctx, *st); err != nil {
			log.Warn("applying the cluster network failed; retrying", "version", st.ResourceVersion, "err", err)
			if !wait() {
				return
			}
			continue // rv unchanged: the same version comes back at once
		}
		if err := src.Applied(ctx, st.ResourceVersion); err != nil {
			log.Warn("confirming the cluster network failed", "version", st.ResourceVersion, "err", err)
			if !wait() {
				return
			}
			continue
		}
		rv, last, backoff = st.ResourceVersion, st, time.Second
	}
}
