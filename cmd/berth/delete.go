//go:build !berth_agent

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

func newDeleteCmd() *cobra.Command {
	var (
		conn       connFlags
		namespace  string
		deleteData bool
	)
	cmd := &cobra.Command{
		Use:   "delete pvc NAME...",
		Short: "Delete claims that Git no longer names (their data stays unless --delete-data)",
		Long: `Delete PersistentVolumeClaims (admin) that berth keeps but Git no longer
names: a claim removed from Git under a StorageClass with reclaimPolicy
Retain ("Released" in berth get pvc), or the claims a StatefulSet leaves
behind when it is removed from Git or scaled down (Kubernetes keeps those
too, and so does berth).

Everything else changes through Git: to stop a workload, remove it from
Git. So a claim still in Git, or one a StatefulSet in Git would use again
(an ordinal below its replicas), is refused, and so is a claim any pod
still uses: remove the pod from Git first and wait until it is gone.

The claim's data is a directory on one node (under that agent's
--storage-dir, as NAMESPACE/CLAIM). By default it stays there, for you to
copy or remove by hand; with --delete-data the node's agent removes it
and the claim is gone once the agent says so. A claim whose StorageClass
has reclaimPolicy Delete always has its data removed, as Kubernetes does.
When the claim's node has been deleted (berth node delete), nothing can
remove its data: --delete-data is refused, and the claim alone is deleted.`,
		Example: `  # a claim removed from Git under reclaimPolicy Retain: keep its data
  berth delete pvc keepsake

  # the claims of a removed StatefulSet web in namespace shop, data and all
  berth delete pvc data-web-0 data-web-1 -n shop --delete-data`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := parseResource(args[0])
			if err != nil {
				return err
			}
			if res != resClaims {
				return fmt.Errorf("berth deletes only claims (pvc) by hand: to stop %s, remove them from Git; to remove a node, berth node delete", res)
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			for _, name := range args[1:] {
				if err := deleteClaim(cmd.Context(), c, cmd.OutOrStdout(), namespace, name, deleteData); err != nil {
					return fromServer(err)
				}
			}
			return nil
		},
	}
	conn.add(cmd)
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of the claims")
	cmd.Flags().BoolVar(&deleteData, "delete-data", false, "have the claim's node remove its directory too (default: the data stays on the node)")
	return cmd
}

// deleteClaim deletes one claim and says where its data went.
func deleteClaim(ctx context.Context, c *client.Client, w io.Writer, ns, name string, deleteData bool) error {
	pvc, err := c.DeleteClaim(ctx, ns, name, deleteData)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "persistentvolumeclaim %q deleted; %s\n", name, claimDataFate(pvc))
	return nil
}

func claimDataFate(pvc *corev1.PersistentVolumeClaim) string {
	node := pvc.Annotations[api.AnnotationClaimNode]
	switch {
	case node == "":
		return "it was bound to no node, so it had no data"
	case pvc.DeletionTimestamp != nil:
		return fmt.Sprintf("node %s removes its data (berth get pvc lists it until then)", node)
	default:
		return fmt.Sprintf("its data stays on node %s, in %s/%s under that node's --storage-dir", node, pvc.Namespace, pvc.Name)
	}
}
