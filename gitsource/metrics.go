package gitsource

import (
	"errors"

	"github.com/berth-dev/berth/metrics"
)

// countRejected counts a refused revision once, by reason; called before
// reject records it, so a revision refused pass after pass counts once.
func (s *Source) countRejected(rej *RejectedError) {
	if s.loggedRejected == rej.Revision {
		return
	}
	reason := metrics.RefusedManifests
	if errors.Is(rej.Err, ErrUntrustedCommit) {
		reason = metrics.RefusedSignature
	}
	metrics.RevisionsRefused.WithLabelValues(reason).Inc()
}
