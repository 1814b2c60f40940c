package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/api"
)

// ClaimAdmin deletes claims by hand (admin); in berth,
// reconciler.ClaimAdmin.
type ClaimAdmin interface {
	// DeleteClaim deletes a claim Git no longer names and no pod uses,
	// and returns it as it is left: with deleteData (or under reclaimPolicy
	// Delete) its node removes the data first (deletionTimestamp set),
	// else the data stays on its node. A claim still named or used is a
	// 409, a missing one a 404 *api.Error.
	DeleteClaim(ns, name string, deleteData bool) (*corev1.PersistentVolumeClaim, error)
}

// deleteClaim serves DELETE of one claim; its only parameter is
// deleteData (a boolean), anything else is a 400 that changes nothing.
func (s *Server) deleteClaim(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("namespace %q: %s", ns, strings.Join(msgs, "; ")))
		return
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("claim name %q: %s", name, strings.Join(msgs, "; ")))
		return
	}
	deleteData := false
	for k, vs := range r.URL.Query() {
		if k != api.ParamDeleteData || len(vs) != 1 {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("query parameter %q: the only one is %s=true|false, once", k, api.ParamDeleteData))
			return
		}
		v, err := strconv.ParseBool(vs[0])
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("%s=%q: want true or false", k, vs[0]))
			return
		}
		deleteData = v
	}
	c, err := s.cfg.Claims.DeleteClaim(ns, name, deleteData)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, c)
}
