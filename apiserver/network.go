package apiserver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/berth-dev/berth/api"
)

// NetworkFeed is the cluster network state agents watch and confirm.
type NetworkFeed interface {
	// State returns the state and the store version it was read at.
	State() (st *api.NetworkState, version uint64, err error)
	// WaitChange blocks until a version newer than since exists or ctx
	// ends.
	WaitChange(ctx context.Context, since uint64) (uint64, error)
	// Applied records that node runs version rv.
	Applied(node string, rv uint64) error
}

// watchNetwork is a long poll of the network state, as watchPods.
func (s *Server) watchNetwork(w http.ResponseWriter, r *http.Request) {
	s.longPoll(w, r, func() (any, uint64, uint64, error) {
		st, version, err := s.cfg.Network.State()
		if err != nil {
			return nil, 0, 0, err
		}
		return st, st.ResourceVersion, version, nil
	}, s.cfg.Network.WaitChange)
}

// networkApplied takes a node's confirmation that a version is live.
func (s *Server) networkApplied(w http.ResponseWriter, r *http.Request) {
	var body api.NetworkApplied
	if !decodeBody(w, r, &body, false) {
		return
	}
	if body.ResourceVersion == 0 {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("resourceVersion: must be positive, got %d", body.ResourceVersion))
		return
	}
	if err := s.cfg.Network.Applied(r.Header.Get(api.HeaderNodeName), body.ResourceVersion); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
