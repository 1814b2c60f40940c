package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// DeleteClaim deletes a claim Git no longer names and no pod uses (admin),
// and returns it as the server left it: with deleteData, or under
// reclaimPolicy Delete, its node removes the data (DeletionTimestamp set
// until it has); else the record goes and the data stays on its node.
func (c *Client) DeleteClaim(ctx context.Context, namespace, name string, deleteData bool) (*corev1.PersistentVolumeClaim, error) {
	var out corev1.PersistentVolumeClaim
	q := url.Values{api.ParamDeleteData: {strconv.FormatBool(deleteData)}}
	return &out, c.do(ctx, c.timeout, http.MethodDelete, api.NamespacedPath(api.PathClaims, namespace, name), q, nil, &out)
}
