package reconciler

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/statefulsets"
)

// ClaimAdmin is the admin's one write on claims: deleting by hand a claim
// Git no longer names (a Released one under reclaimPolicy Retain, or one
// a StatefulSet left behind), as `kubectl delete pvc` does what the loop
// never will.
type ClaimAdmin struct {
	store   Store
	objects func() []manifest.Object
	clock   clock.PassiveClock
}

// NewClaimAdmin returns the claim deleter over store, reading the applied
// Git objects as reads does; clk stamps events (nil: the real clock).
func NewClaimAdmin(store Store, reads *Reads, clk clock.PassiveClock) *ClaimAdmin {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &ClaimAdmin{store: store, objects: reads.objects, clock: clk}
}

// DeleteClaim deletes the claim ns/name and returns it as it is left.
// Without deleteData, under reclaimPolicy Retain, the record goes and the
// directory stays on its node; with deleteData, or under reclaimPolicy
// Delete, the node is told to remove the directory and the record goes
// when it reports it gone (an unbound claim, or one whose node is no
// longer registered, has nothing to remove: its record goes at once). A
// claim Git names (a claim in Git, or a StatefulSet's claim below its
// replicas) or a pod uses is a 409, a missing one a 404 *api.Error.
// Deleting a claim whose data is already being removed changes nothing.
func (a *ClaimAdmin) DeleteClaim(ns, name string, deleteData bool) (*corev1.PersistentVolumeClaim, error) {
	if why := gitNamesClaim(a.objects(), ns, name); why != "" {
		return nil, &api.Error{Code: http.StatusConflict, Reason: "Conflict",
			Message: fmt.Sprintf("claim %s/%s is still in Git (%s): remove it from Git first", ns, name, why)}
	}
	now := a.clock.Now().UTC()
	var out corev1.PersistentVolumeClaim
	err := a.store.Update(func(tx Tx) error {
		cr, err := tx.Claim(ns, name)
		if err != nil {
			return err
		}
		if cr.deleting() {
			out = claimObject(cr)
			return nil
		}
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		var users []string
		for _, p := range pods {
			if p.Pod.Namespace == ns && namesClaim(&p.Pod.Spec, name) {
				users = append(users, p.Pod.Name)
			}
		}
		if len(users) > 0 {
			return &api.Error{Code: http.StatusConflict, Reason: "Conflict",
				Message: fmt.Sprintf("claim %s/%s is used by pod %s: it can be deleted once no pod names it", ns, name, strings.Join(users, ", "))}
		}
		removeData := deleteData || cr.ReclaimPolicy == corev1.PersistentVolumeReclaimDelete
		registered := false
		if cr.Node != "" {
			switch _, err := tx.Node(cr.Node); {
			case err == nil:
				registered = true
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		var msg string
		switch {
		case removeData && registered:
			t := metav1.NewTime(now)
			cr.Claim.DeletionTimestamp = &t
			if err := tx.PutClaim(cr); err != nil {
				return err
			}
			out = claimObject(cr)
			return tx.AddEvent(event(now, "Normal", "Deleting", OwnerClaim, ns, name,
				fmt.Sprintf("deleted by the admin: node %s removes the claim's data", cr.Node)))
		case deleteData && cr.Node != "":
			return &api.Error{Code: http.StatusConflict, Reason: "Conflict",
				Message: fmt.Sprintf("claim %s/%s's data is on node %s, which is not registered, so no agent can remove it: delete the claim without deleting its data", ns, name, cr.Node)}
		case cr.Node == "":
			msg = "deleted by the admin; it was bound to no node, so it had no data"
		default:
			msg = fmt.Sprintf("deleted by the admin; its data stays on node %s", cr.Node)
		}
		if err := tx.DeleteClaim(ns, name); err != nil {
			return err
		}
		out = claimObject(cr)
		return tx.AddEvent(event(now, "Normal", "Deleted", OwnerClaim, ns, name, msg))
	})
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("persistentvolumeclaim", ns, name)
	}
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, fmt.Errorf("delete claim %s/%s: %w", ns, name, err)
	}
	return &out, nil
}

// gitNamesClaim says how the applied objects name claim ns/name ("" when
// they do not): as a claim, or as a claim of a StatefulSet's ordinal
// below its replicas, which the set would bind again.
func gitNamesClaim(objs []manifest.Object, ns, name string) string {
	for _, o := range objs {
		if o.Skipped || o.Namespace != ns {
			continue
		}
		switch {
		case o.Kind == manifest.KindPersistentVolumeClaim && o.Name == name:
			return fmt.Sprintf("%s:%d", o.File, o.Line)
		case o.Kind == manifest.KindStatefulSet && o.StatefulSet != nil:
			if setNamesClaim(o.StatefulSet, name) {
				return fmt.Sprintf("a claim of StatefulSet %s, %s:%d", o.Name, o.File, o.Line)
			}
		}
	}
	return ""
}

func setNamesClaim(set *appsv1.StatefulSet, name string) bool {
	for o := range setReplicas(set) {
		for _, t := range set.Spec.VolumeClaimTemplates {
			if statefulsets.ClaimName(t.Name, set.Name, o) == name {
				return true
			}
		}
	}
	return false
}

// namesClaim reports whether a pod spec mounts claim name.
func namesClaim(spec *corev1.PodSpec, name string) bool {
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
			return true
		}
	}
	return false
}
