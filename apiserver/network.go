package apiserver

import (
	"context"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// listServices shows the applied Services with their addresses.
func (s *Server) listServices(w http.ResponseWriter, r *http.Request, ns, name string) {
	list(s, w, r, "service", ns, name, func(ns, name string) ([]corev1.Service, error) {
		st, _, err := s.cfg.Network.State()
		if err != nil {
			return nil, err
		}
		var out []corev1.Service
		for _, svc := range st.Services {
			if (ns == "" || svc.Namespace == ns) && (name == "" || svc.Name == name) {
				out = append(out, svc)
			}
		}
		return out, nil
	}, func(items []corev1.Service) any {
		return &corev1.ServiceList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceList"}, Items: items}
	})
}

// listEndpointSlices shows the Services' endpoints; a name selects the
// slices of that Service (kubernetes.io/service-name), as `kubectl get
// endpoints NAME` shows one Service's.
func (s *Server) listEndpointSlices(w http.ResponseWriter, r *http.Request, ns, name string) {
	st, _, err := s.cfg.Network.State()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := []discoveryv1.EndpointSlice{}
	for _, sl := range st.EndpointSlices {
		if (ns == "" || sl.Namespace == ns) && (name == "" || sl.Labels[discoveryv1.LabelServiceName] == name) {
			items = append(items, sl)
		}
	}
	respondJSON(w, http.StatusOK, &discoveryv1.EndpointSliceList{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSliceList"}, Items: items})
}
