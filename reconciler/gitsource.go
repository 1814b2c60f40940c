package reconciler

import (
	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
	"github.com/berth-dev/berth/manifest"
)

// GitSource adapts a gitsource.Source to the reconciler's Source: its
// current good snapshot is the candidate revision, and its status (fetch
// times, fetch errors, a revision refused for its manifests) goes into
// `berth status`.
func GitSource(s *gitsource.Source) RevisionSource { return gitSource{s} }

type gitSource struct{ s *gitsource.Source }

func (g gitSource) Current() *Desired { return desiredOf(g.s.Current()) }

// At reads an older revision from the clone (see RevisionSource).
func (g gitSource) At(revision string) (*Desired, error) {
	snap, err := g.s.SnapshotAt(revision)
	if err != nil {
		return nil, err
	}
	return desiredOf(snap), nil
}

func desiredOf(snap *gitsource.Snapshot) *Desired {
	if snap == nil {
		return nil
	}
	return &Desired{Revision: snap.Revision, Subject: snap.Subject, Author: snap.Author, CommitTime: snap.CommitTime, Objects: snap.Objects}
}

func (g gitSource) Updated() <-chan struct{} { return g.s.Updated() }

func (g gitSource) Info() api.SyncStatus {
	st := g.s.Status()
	out := api.SyncStatus{
		Repository:       st.URL,
		Ref:              st.Ref,
		Path:             st.Path,
		LastFetch:        st.LastAttempt,
		LastFetchSuccess: st.LastSuccess,
		LastFetchError:   st.FetchError,
		Fetched:          st.FetchedRevision,
	}
	if out.Ref == "" {
		out.Ref = st.ResolvedRef
	}
	if snap := g.s.Current(); snap != nil {
		for _, o := range snap.Skipped {
			out.Skipped = append(out.Skipped, api.SkippedObject{Kind: string(o.Kind), Namespace: o.Namespace, Name: o.Name, File: o.File, Line: o.Line})
		}
		if len(snap.Warnings) > 0 {
			out.Warnings = manifestErrors(snap.Warnings)
		}
	}
	if rj := st.Rejected; rj != nil {
		out.Rejected = &api.RejectedRevision{Revision: api.Revision{SHA: rj.Revision, Subject: rj.Subject}, Message: rj.Reason, Errors: manifestErrors(rj.Errors)}
	}
	return out
}

func manifestErrors(errs manifest.ErrorList) []api.ManifestError {
	out := make([]api.ManifestError, len(errs))
	for i, e := range errs {
		out[i] = api.ManifestError{File: e.File, Line: e.Line, Field: e.Field, Message: e.Message}
	}
	return out
}

// AppliedObjects returns the objects of the admitted revision (nil before
// one is admitted), for the API to show Deployments, Jobs and CronJobs.
func (r *Reconciler) AppliedObjects() []manifest.Object {
	if v := r.view.Load(); v != nil {
		return v.Objects
	}
	return nil
}
