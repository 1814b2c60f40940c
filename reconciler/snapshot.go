package reconciler

import (
	"fmt"
	"net/netip"

	"github.com/berth-dev/berth/scheduler"
	"github.com/berth-dev/berth/serviceaddr"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

// Snapshot reads, in one transaction, what admission reads of the
// cluster (ClusterState) in the API's form, for `berth plan`. Pod
// statuses are cut to their phase: admission reads nothing else of them.
func (r *Reads) Snapshot(now time.Time) (*api.ClusterSnapshot, error) {
	snap := &api.ClusterSnapshot{Time: now, Nodes: []api.SnapshotNode{}, Pods: []api.SnapshotPod{}, Jobs: []api.SnapshotJob{}}
	err := r.store.View(func(tx ReadTx) error {
		sync, err := tx.Sync()
		if err != nil {
			return err
		}
		snap.Applied = sync.Status.Applied
		cidr := r.serviceCIDR
		if !cidr.IsValid() {
			cidr = serviceaddr.DefaultServiceCIDR
		}
		snap.ServiceCIDR = cidr.String()
		strategy, err := scheduler.ParseStrategy(string(r.strategy))
		if err != nil {
			return err
		}
		snap.Strategy = string(strategy)
		addrs, err := tx.ServiceAddresses()
		if err != nil {
			return err
		}
		for k, a := range addrs {
			if snap.Services == nil {
				snap.Services = map[string]api.SnapshotService{}
			}
			snap.Services[k] = api.SnapshotService{ClusterIP: a.ClusterIP, NodePorts: a.NodePorts}
		}
		nodes, err := tx.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			snap.Nodes = append(snap.Nodes, api.SnapshotNode{Name: n.Name, Labels: n.Labels, Taints: n.Taints, Allocatable: n.Allocatable, Ready: n.Ready, Unschedulable: n.Unschedulable})
		}
		pods, err := tx.Pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			pod := p.Pod
			pod.ManagedFields = nil
			pod.Status = corev1.PodStatus{Phase: p.Pod.Status.Phase}
			snap.Pods = append(snap.Pods, api.SnapshotPod{Pod: pod, OwnerKind: p.Owner.Kind, OwnerName: p.Owner.Name, TemplateHash: p.TemplateHash})
		}
		jobs, err := tx.Jobs()
		if err != nil {
			return err
		}
		for _, j := range jobs {
			snap.Jobs = append(snap.Jobs, api.SnapshotJob{Job: j.Job, CronJob: j.CronJob})
		}
		claims, err := tx.Claims()
		if err != nil {
			return err
		}
		for _, c := range claims {
			snap.Claims = append(snap.Claims, api.SnapshotClaim{Claim: c.Claim, Node: c.Node})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// StateOf turns a snapshot back into the records admission reads, so
// `berth plan` decides with the same code (Admit) as the server.
func StateOf(snap *api.ClusterSnapshot) (ClusterState, error) {
	var st ClusterState
	if snap.ServiceCIDR != "" {
		cidr, err := netip.ParsePrefix(snap.ServiceCIDR)
		if err != nil {
			return st, fmt.Errorf("snapshot: serviceCIDR: %w", err)
		}
		st.ServiceCIDR = cidr
	}
	for k, a := range snap.Services {
		if st.Services == nil {
			st.Services = serviceaddr.Table{}
		}
		st.Services[k] = serviceaddr.Assignment{ClusterIP: a.ClusterIP, NodePorts: a.NodePorts}
	}
	for _, n := range snap.Nodes {
		st.Nodes = append(st.Nodes, &NodeRecord{Name: n.Name, Labels: n.Labels, Taints: n.Taints, Allocatable: n.Allocatable, Ready: n.Ready, Unschedulable: n.Unschedulable})
	}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		st.Pods = append(st.Pods, &PodRecord{Pod: p.Pod, Owner: Owner{Kind: p.OwnerKind, Name: p.OwnerName}, TemplateHash: p.TemplateHash})
	}
	for i := range snap.Jobs {
		j := &snap.Jobs[i]
		st.Jobs = append(st.Jobs, &JobRecord{Job: j.Job, CronJob: j.CronJob})
	}
	for i := range snap.Claims {
		c := &snap.Claims[i]
		st.Claims = append(st.Claims, &ClaimRecord{Claim: c.Claim, Node: c.Node})
	}
	return st, nil
}
