//go:build !berth_agent

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/plan"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/scheduler"
)

// serverPlanner plans refs of the server's own repository (`berth plan
// --server URL --ref REF`): the head is fetched into the server's clone
// and read as every revision; the base is the applied revision; the
// cluster is the store as it is. The same plan.Compute as the CLI's.
type serverPlanner struct {
	src      *gitsource.Source
	applied  func() []manifest.Object
	reads    *reconciler.Reads
	path     string
	strategy scheduler.Strategy
	clock    clock.PassiveClock
}

func (p *serverPlanner) Plan(ctx context.Context, ref string) (any, error) {
	snapHead, err := p.src.FetchRevision(ctx, ref)
	var rej *gitsource.RejectedError
	switch {
	case err == nil, errors.As(err, &rej):
	case errors.Is(err, gitsource.ErrInvalidOptions):
		return nil, &api.Error{Code: http.StatusBadRequest, Reason: "BadRequest", Message: err.Error()}
	case errors.Is(err, gitsource.ErrRefNotFound):
		return nil, &api.Error{Code: http.StatusNotFound, Reason: "NotFound", Message: err.Error()}
	default:
		return nil, fmt.Errorf("plan %s: %w", ref, err)
	}
	head, err := plan.RevisionOf(snapHead, err, p.path)
	if err != nil {
		return nil, err
	}
	now := p.clock.Now()
	snap, err := p.reads.Snapshot(now)
	if err != nil {
		return nil, err
	}
	var base plan.Revision
	if snap.Applied != nil {
		if base, err = plan.RevisionOf(&gitsource.Snapshot{Revision: snap.Applied.SHA, Subject: snap.Applied.Subject, Objects: p.applied()}, nil, p.path); err != nil {
			return nil, err
		}
	}
	return plan.Compute(plan.Input{Base: base, Head: head, Cluster: snap, Strategy: p.strategy, Now: now, Local: time.Local})
}
