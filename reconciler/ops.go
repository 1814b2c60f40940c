package reconciler

import (
	"context"
	"io"
	"net/http"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/gitsource"
)

// Operations serve the operator's calls of the API: fetch now, copy the
// store.
type Operations struct {
	Source *gitsource.Source
	Store  *BoltStore
}

// Sync fetches the repository now (beside the source's own polling: its
// syncs take turns) and says what the fetch found. A failed fetch is an
// answer, not an error: the caller shows it.
func (o Operations) Sync(ctx context.Context) (*api.SyncResponse, error) {
	if o.Source == nil {
		return nil, &api.Error{Code: http.StatusBadRequest, Reason: "NoSource", Message: "this server follows no Git repository"}
	}
	err := o.Source.Sync(ctx)
	st := o.Source.Status()
	res := &api.SyncResponse{Fetched: st.FetchedRevision, FetchError: st.FetchError}
	if err != nil && res.FetchError == "" {
		res.FetchError = err.Error()
	}
	return res, nil
}

// Backup writes a consistent copy of the store (see BoltStore.Backup).
func (o Operations) Backup(w io.Writer, sized func(int64)) (int64, error) {
	return o.Store.Backup(w, sized)
}
