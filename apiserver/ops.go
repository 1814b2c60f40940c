package apiserver

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/api"
)

// Operator is what the operator's calls reach: fetching Git now and
// copying the store. Optional: without it those paths answer 501.
type Operator interface {
	// Sync fetches the repository now and says what it found.
	Sync(ctx context.Context) (*api.SyncResponse, error)
	// Backup writes a consistent copy of the store, telling sized its
	// size first.
	Backup(w io.Writer, sized func(int64)) (int64, error)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	respondJSON(w, http.StatusOK, &api.VersionResponse{Server: s.cfg.Build})
}

func (s *Server) operator(w http.ResponseWriter) bool {
	if s.cfg.Ops == nil {
		api.WriteError(w, http.StatusNotImplemented, "NotImplemented", "this server does not offer sync and backup")
		return false
	}
	return true
}

// sync fetches now and answers when the fetch ended; the client waits for
// the revision to be applied by reading the status.
func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w) {
		return
	}
	res, err := s.cfg.Ops.Sync(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, res)
}

// backup streams the store. Once the first byte is out a failure can only
// cut the stream short, which the client sees as a length mismatch and
// its check of the file refuses.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w) {
		return
	}
	started := false
	_, err := s.cfg.Ops.Backup(w, func(size int64) {
		started = true
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("Content-Disposition", `attachment; filename="berth.db"`)
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && !started {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.cfg.Logger.Error("backup cut short", "err", err)
	}
}
