//go:build !berth_agent

package main

import (
	"context"
	"fmt"
	"io"
	discoveryv1 "k8s.io/api/discovery/v1"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/scheduler"
)

type describeOptions struct {
	conn connFlags
	ns   namespaceFlags
}

func newDescribeCmd() *cobra.Command {
	var o describeOptions
	cmd := &cobra.Command{
		Use:   "describe (pod|node|deployment|job|cronjob|configmap|secret) NAME",
		Short: "Show one object in detail, with its recent events",
		Long: `Show everything berth knows about one pod, node, deployment, job or
cronjob, as kubectl describe does: its spec and status, and the events
about it (Scheduled, Pulling, Started, BackOff, FailedScheduling with the
scheduler's reason, ...).

For a cronjob it also lists the next five times it will run, in its time
zone (spec.timeZone, else this machine's zone). A secret shows its keys
and the size of each value, never a value.

Examples:
  berth describe pod web-7d4b9c-0
  berth describe node node-1
  berth describe cronjob backup -n ops`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := parseResource(args[0])
			if err != nil {
				return err
			}
			c, err := o.conn.client()
			if err != nil {
				return err
			}
			return fromServer(runDescribe(cmd.Context(), c, cmd.OutOrStdout(), res, o.ns.namespace, args[1], time.Now(), time.Local))
		},
	}
	o.conn.add(cmd)
	o.ns.add(cmd, false)
	return cmd
}

func runDescribe(ctx context.Context, c *client.Client, out io.Writer, res resKind, ns, name string, now time.Time, local *time.Location) error {
	d := &describer{w: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0), now: now}
	var kind string
	var err error
	switch res {
	case resPods:
		kind = "Pod"
		var p *corev1.Pod
		if p, err = c.Pod(ctx, ns, name); err == nil {
			d.pod(p)
		}
	case resNodes:
		kind, ns = "Node", ""
		var n *corev1.Node
		if n, err = c.Node(ctx, name); err == nil {
			var pods *corev1.PodList
			if pods, err = c.Pods(ctx, ""); err == nil {
				d.node(n, pods.Items)
			}
		}
	case resDeployments:
		kind = "Deployment"
		var dep *appsv1.Deployment
		if dep, err = c.Deployment(ctx, ns, name); err == nil {
			d.deployment(dep)
		}
	case resClaims:
		kind = "PersistentVolumeClaim"
		var pvc *corev1.PersistentVolumeClaim
		if pvc, err = c.PersistentVolumeClaim(ctx, ns, name); err == nil {
			var pods *corev1.PodList
			if pods, err = c.Pods(ctx, ns); err == nil {
				d.claim(pvc, pods.Items)
			}
		}
	case resJobs:
		kind = "Job"
		var j *batchv1.Job
		if j, err = c.Job(ctx, ns, name); err == nil {
			d.job(j)
		}
	case resCronJobs:
		kind = "CronJob"
		var cj *batchv1.CronJob
		if cj, err = c.CronJob(ctx, ns, name); err == nil {
			d.cronJob(cj, local)
		}
	case resServices:
		kind = "Service"
		var svc *corev1.Service
		if svc, err = c.Service(ctx, ns, name); err == nil {
			var sl *discoveryv1.EndpointSliceList
			if sl, err = c.EndpointSlices(ctx, ns, name); err == nil {
				describeService(d.w, svc, sl.Items)
			}
		}
	case resConfigMaps:
		kind = "ConfigMap"
		var cm *corev1.ConfigMap
		if cm, err = c.ConfigMap(ctx, ns, name); err == nil {
			d.configMap(cm)
		}
	case resSecrets:
		kind = "Secret"
		var s *api.SecretSummary
		if s, err = c.Secret(ctx, ns, name); err == nil {
			d.secret(s)
		}
	}
	if err != nil {
		return notFoundHint(err, res, name)
	}
	events, err := c.Events(ctx, client.EventFilter{Kind: kind, Namespace: ns, Name: name})
	if err != nil {
		return err
	}
	d.events(events.Items)
	return d.w.Flush()
}

// describer writes "Key:\tvalue" lines at indent levels, aligned by one
// tabwriter as kubectl's describe output is.
type describer struct {
	w   *tabwriter.Writer
	now time.Time
}

func (d *describer) line(level int, key string, format string, args ...any) {
	fmt.Fprintf(d.w, "%s%s:\t%s\n", strings.Repeat("  ", level), key, fmt.Sprintf(format, args...))
}

func (d *describer) heading(level int, key string) {
	fmt.Fprintf(d.w, "%s%s:\n", strings.Repeat("  ", level), key)
}

func mapString(m map[string]string, sep string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, sep)
}

func (d *describer) labels(level int, key string, m map[string]string) {
	pad := strings.Repeat(" ", 2*level+len(key)+2)
	fmt.Fprintf(d.w, "%s%s:\t%s\n", strings.Repeat("  ", level), key, strings.ReplaceAll(mapString(m, "\n"), "\n", "\n"+pad+"\t"))
}

func timeString(t metav1.Time) string {
	if t.IsZero() {
		return "<unset>"
	}
	return t.Time.Format(time.RFC1123Z)
}

func (d *describer) meta(m *metav1.ObjectMeta, namespaced bool) {
	d.line(0, "Name", "%s", m.Name)
	if namespaced {
		d.line(0, "Namespace", "%s", m.Namespace)
	}
	if !m.CreationTimestamp.IsZero() {
		d.line(0, "CreationTimestamp", "%s", timeString(m.CreationTimestamp))
	}
	d.labels(0, "Labels", m.Labels)
	d.labels(0, "Annotations", m.Annotations)
}

func (d *describer) pod(p *corev1.Pod) {
	d.line(0, "Name", "%s", p.Name)
	d.line(0, "Namespace", "%s", p.Namespace)
	d.line(0, "Node", "%s", orNone(p.Spec.NodeName))
	if p.Status.StartTime != nil {
		d.line(0, "Start Time", "%s", timeString(*p.Status.StartTime))
	}
	d.labels(0, "Labels", p.Labels)
	d.labels(0, "Annotations", p.Annotations)
	_, status, _ := podSummary(p, d.now)
	d.line(0, "Status", "%s", status)
	if p.Status.Reason != "" {
		d.line(0, "Reason", "%s", p.Status.Reason)
	}
	if p.Status.Message != "" {
		d.line(0, "Message", "%s", p.Status.Message)
	}
	d.line(0, "IP", "%s", p.Status.PodIP)
	if kind, name := p.Labels[api.LabelOwnerKind], p.Labels[api.LabelOwnerName]; kind != "" && kind != "Pod" {
		d.line(0, "Controlled By", "%s/%s", kind, name)
	}
	statuses := map[string]*corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			statuses[list[i].Name] = &list[i]
		}
	}
	if len(p.Spec.InitContainers) > 0 {
		d.heading(0, "Init Containers")
		for i := range p.Spec.InitContainers {
			d.container(&p.Spec.InitContainers[i], statuses[p.Spec.InitContainers[i].Name])
		}
	}
	d.heading(0, "Containers")
	for i := range p.Spec.Containers {
		d.container(&p.Spec.Containers[i], statuses[p.Spec.Containers[i].Name])
	}
	if len(p.Status.Conditions) > 0 {
		d.heading(0, "Conditions")
		fmt.Fprintf(d.w, "  Type\tStatus\n")
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(d.w, "  %s\t%s\n", c.Type, c.Status)
		}
	}
	if len(p.Spec.Volumes) > 0 {
		d.heading(0, "Volumes")
		for _, v := range p.Spec.Volumes {
			kind := "<unknown>"
			switch {
			case v.EmptyDir != nil:
				kind = "EmptyDir (a temporary directory that shares a pod's lifetime)"
			case v.HostPath != nil:
				kind = "HostPath (" + v.HostPath.Path + ")"
			case v.PersistentVolumeClaim != nil:
				kind = "PersistentVolumeClaim (" + v.PersistentVolumeClaim.ClaimName + ")"
			}
			d.line(1, v.Name, "%s", kind)
		}
	}
	d.labels(0, "Node-Selectors", p.Spec.NodeSelector)
	if len(p.Spec.Tolerations) > 0 {
		var ts []string
		for _, t := range p.Spec.Tolerations {
			ts = append(ts, fmt.Sprintf("%s:%s op=%s", t.Key, t.Effect, t.Operator))
		}
		d.line(0, "Tolerations", "%s", strings.Join(ts, ", "))
	}
}

func (d *describer) container(c *corev1.Container, cs *corev1.ContainerStatus) {
	d.heading(1, c.Name)
	d.line(2, "Image", "%s", c.Image)
	if len(c.Command) > 0 {
		d.line(2, "Command", "%s", strings.Join(c.Command, " "))
	}
	if len(c.Args) > 0 {
		d.line(2, "Args", "%s", strings.Join(c.Args, " "))
	}
	for _, p := range c.Ports {
		d.line(2, "Port", "%d/%s", p.ContainerPort, p.Protocol)
	}
	if cs != nil {
		d.state(2, "State", cs.State)
		if cs.LastTerminationState.Terminated != nil {
			d.state(2, "Last State", cs.LastTerminationState)
		}
		d.line(2, "Ready", "%t", cs.Ready)
		d.line(2, "Restart Count", "%d", cs.RestartCount)
	}
	d.resources(2, "Limits", c.Resources.Limits)
	d.resources(2, "Requests", c.Resources.Requests)
	if len(c.Env) > 0 {
		d.heading(2, "Environment")
		for _, e := range c.Env {
			v := e.Value
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				v = "(" + e.ValueFrom.FieldRef.FieldPath + ")"
			}
			d.line(3, e.Name, "%s", v)
		}
	}
	if len(c.VolumeMounts) > 0 {
		d.heading(2, "Mounts")
		for _, m := range c.VolumeMounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			fmt.Fprintf(d.w, "      %s from %s (%s)\n", m.MountPath, m.Name, mode)
		}
	}
}

func (d *describer) resources(level int, key string, rl corev1.ResourceList) {
	if len(rl) == 0 {
		return
	}
	d.heading(level, key)
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		q := rl[corev1.ResourceName(n)]
		d.line(level+1, n, "%s", q.String())
	}
}

func (d *describer) state(level int, key string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		d.line(level, key, "Running")
		d.line(level+1, "Started", "%s", timeString(s.Running.StartedAt))
	case s.Waiting != nil:
		d.line(level, key, "Waiting")
		d.line(level+1, "Reason", "%s", s.Waiting.Reason)
		if s.Waiting.Message != "" {
			d.line(level+1, "Message", "%s", s.Waiting.Message)
		}
	case s.Terminated != nil:
		d.line(level, key, "Terminated")
		d.line(level+1, "Reason", "%s", s.Terminated.Reason)
		if s.Terminated.Message != "" {
			d.line(level+1, "Message", "%s", s.Terminated.Message)
		}
		d.line(level+1, "Exit Code", "%d", s.Terminated.ExitCode)
		d.line(level+1, "Started", "%s", timeString(s.Terminated.StartedAt))
		d.line(level+1, "Finished", "%s", timeString(s.Terminated.FinishedAt))
	default:
		d.line(level, key, "Waiting")
	}
}

func (d *describer) node(n *corev1.Node, pods []corev1.Pod) {
	d.line(0, "Name", "%s", n.Name)
	d.labels(0, "Labels", n.Labels)
	d.line(0, "CreationTimestamp", "%s", timeString(n.CreationTimestamp))
	var taints []string
	for _, t := range n.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		taints = append(taints, s+":"+string(t.Effect))
	}
	d.line(0, "Taints", "%s", orNone(strings.Join(taints, ", ")))
	d.line(0, "Unschedulable", "%t", n.Spec.Unschedulable)
	d.heading(0, "Conditions")
	fmt.Fprintf(d.w, "  Type\tStatus\tLastHeartbeatTime\tReason\tMessage\n")
	fmt.Fprintf(d.w, "  ----\t------\t-----------------\t------\t-------\n")
	for _, c := range n.Status.Conditions {
		fmt.Fprintf(d.w, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, timeString(c.LastHeartbeatTime), c.Reason, c.Message)
	}
	d.heading(0, "Addresses")
	for _, a := range n.Status.Addresses {
		d.line(1, string(a.Type), "%s", a.Address)
	}
	d.resources(0, "Capacity", n.Status.Capacity)
	d.resources(0, "Allocatable", n.Status.Allocatable)
	d.line(0, "PodCIDR", "%s", n.Spec.PodCIDR)
	var here []*corev1.Pod
	for i := range pods {
		if pods[i].Spec.NodeName == n.Name && pods[i].Status.Phase != corev1.PodSucceeded && pods[i].Status.Phase != corev1.PodFailed {
			here = append(here, &pods[i])
		}
	}
	d.line(0, "Non-terminated Pods", "(%d in total)", len(here))
	fmt.Fprintf(d.w, "  Namespace\tName\tCPU Requests\tMemory Requests\tAge\n")
	fmt.Fprintf(d.w, "  ---------\t----\t------------\t---------------\t---\n")
	var cpu, mem resource.Quantity
	for _, p := range here {
		pc, pm := podRequests(p)
		cpu.Add(pc)
		mem.Add(pm)
		fmt.Fprintf(d.w, "  %s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name, pc.String(), pm.String(), age(p.CreationTimestamp, d.now))
	}
	d.heading(0, "Allocated resources")
	fmt.Fprintf(d.w, "  Resource\tRequests\n")
	fmt.Fprintf(d.w, "  --------\t--------\n")
	fmt.Fprintf(d.w, "  cpu\t%s (%s)\n", cpu.String(), percentOf(cpu, n.Status.Allocatable[corev1.ResourceCPU]))
	fmt.Fprintf(d.w, "  memory\t%s (%s)\n", mem.String(), percentOf(mem, n.Status.Allocatable[corev1.ResourceMemory]))
}

// podRequests is a pod's effective CPU and memory request, as the
// scheduler counts it.
func podRequests(p *corev1.Pod) (cpu, mem resource.Quantity) {
	q := scheduler.EffectiveRequest(p).Quantities()
	return q[corev1.ResourceCPU], q[corev1.ResourceMemory]
}

func percentOf(q, total resource.Quantity) string {
	if total.IsZero() {
		return "0%"
	}
	return fmt.Sprintf("%d%%", q.MilliValue()*100/total.MilliValue())
}

func (d *describer) podTemplate(t *corev1.PodTemplateSpec) {
	d.heading(0, "Pod Template")
	d.labels(1, "Labels", t.Labels)
	d.heading(1, "Containers")
	for i := range t.Spec.Containers {
		c := &t.Spec.Containers[i]
		d.heading(2, c.Name)
		d.line(3, "Image", "%s", c.Image)
		d.resources(3, "Requests", c.Resources.Requests)
		d.resources(3, "Limits", c.Resources.Limits)
	}
}

// claim is kubectl's describe of a PersistentVolumeClaim, with the node
// holding its data and its reclaim policy (which kubectl shows on the
// PersistentVolume).
func (d *describer) claim(c *corev1.PersistentVolumeClaim, pods []corev1.Pod) {
	d.line(0, "Name", "%s", c.Name)
	d.line(0, "Namespace", "%s", c.Namespace)
	d.line(0, "StorageClass", "%s", ptr.Deref(c.Spec.StorageClassName, ""))
	status := string(c.Status.Phase)
	if c.DeletionTimestamp != nil {
		status = "Terminating (since " + timeString(*c.DeletionTimestamp) + ")"
	}
	d.line(0, "Status", "%s", status)
	d.line(0, "Volume", "%s", c.Spec.VolumeName)
	d.line(0, "Node", "%s", orNone(c.Annotations[api.AnnotationClaimNode]))
	d.line(0, "Reclaim Policy", "%s", c.Annotations[api.AnnotationReclaimPolicy])
	d.labels(0, "Labels", c.Labels)
	ann := map[string]string{}
	for k, v := range c.Annotations {
		if k != api.AnnotationClaimNode && k != api.AnnotationReclaimPolicy {
			ann[k] = v
		}
	}
	d.labels(0, "Annotations", ann)
	capacity := ""
	if q, ok := c.Status.Capacity[corev1.ResourceStorage]; ok {
		capacity = q.String()
	}
	d.line(0, "Capacity", "%s", capacity)
	d.line(0, "Access Modes", "%s", accessModes(c.Status.AccessModes))
	mode := ""
	if c.Spec.VolumeMode != nil {
		mode = string(*c.Spec.VolumeMode)
	}
	d.line(0, "VolumeMode", "%s", mode)
	var users []string
	for i := range pods {
		for _, v := range pods[i].Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == c.Name {
				users = append(users, pods[i].Name)
			}
		}
	}
	d.line(0, "Used By", "%s", orNone(strings.Join(users, ", ")))
}

func (d *describer) deployment(dep *appsv1.Deployment) {
	d.meta(&dep.ObjectMeta, true)
	d.line(0, "Selector", "%s", selectorString(dep.Spec.Selector))
	s := dep.Status
	d.line(0, "Replicas", "%d desired | %d updated | %d total | %d available | %d unavailable",
		ptr.Deref(dep.Spec.Replicas, 1), s.UpdatedReplicas, s.Replicas, s.AvailableReplicas, s.UnavailableReplicas)
	d.line(0, "StrategyType", "%s", dep.Spec.Strategy.Type)
	d.line(0, "MinReadySeconds", "%d", dep.Spec.MinReadySeconds)
	if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
		d.line(0, "RollingUpdateStrategy", "%s max unavailable, %s max surge", intOrString(ru.MaxUnavailable), intOrString(ru.MaxSurge))
	}
	d.podTemplate(&dep.Spec.Template)
	if len(s.Conditions) > 0 {
		d.heading(0, "Conditions")
		fmt.Fprintf(d.w, "  Type\tStatus\tReason\n")
		fmt.Fprintf(d.w, "  ----\t------\t------\n")
		for _, c := range s.Conditions {
			fmt.Fprintf(d.w, "  %s\t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
}

func intOrString(v *intstr.IntOrString) string {
	if v == nil {
		return "<unset>"
	}
	return v.String()
}

func (d *describer) job(j *batchv1.Job) {
	d.meta(&j.ObjectMeta, true)
	if p := j.Spec.Parallelism; p != nil {
		d.line(0, "Parallelism", "%d", *p)
	}
	if c := j.Spec.Completions; c != nil {
		d.line(0, "Completions", "%d", *c)
	} else {
		d.line(0, "Completions", "<unset>")
	}
	if m := j.Spec.CompletionMode; m != nil {
		d.line(0, "Completion Mode", "%s", *m)
	}
	if b := j.Spec.BackoffLimit; b != nil {
		d.line(0, "Backoff Limit", "%d", *b)
	}
	if s := j.Status.StartTime; s != nil {
		d.line(0, "Start Time", "%s", timeString(*s))
	}
	if c := j.Status.CompletionTime; c != nil {
		d.line(0, "Completed At", "%s", timeString(*c))
	}
	if dur := jobDuration(j, d.now); dur != "" {
		d.line(0, "Duration", "%s", dur)
	}
	d.line(0, "Pods Statuses", "%d Active (%d Ready) / %d Succeeded / %d Failed",
		j.Status.Active, ptr.Deref(j.Status.Ready, 0), j.Status.Succeeded, j.Status.Failed)
	if j.Status.CompletedIndexes != "" {
		d.line(0, "Completed Indexes", "%s", j.Status.CompletedIndexes)
	}
	d.podTemplate(&j.Spec.Template)
	if len(j.Status.Conditions) > 0 {
		d.heading(0, "Conditions")
		fmt.Fprintf(d.w, "  Type\tStatus\tReason\tMessage\n")
		for _, c := range j.Status.Conditions {
			fmt.Fprintf(d.w, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
}

func (d *describer) cronJob(cj *batchv1.CronJob, local *time.Location) {
	d.meta(&cj.ObjectMeta, true)
	d.line(0, "Schedule", "%s", cj.Spec.Schedule)
	d.line(0, "Time Zone", "%s", ptr.Deref(cj.Spec.TimeZone, "<unset> ("+local.String()+")"))
	d.line(0, "Concurrency Policy", "%s", cj.Spec.ConcurrencyPolicy)
	suspend := ptr.Deref(cj.Spec.Suspend, false)
	d.line(0, "Suspend", "%t", suspend)
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil {
		d.line(0, "Successful Job History Limit", "%d", *l)
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil {
		d.line(0, "Failed Job History Limit", "%d", *l)
	}
	if s := cj.Spec.StartingDeadlineSeconds; s != nil {
		d.line(0, "Starting Deadline Seconds", "%ds", *s)
	} else {
		d.line(0, "Starting Deadline Seconds", "<unset>")
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		d.line(0, "Last Schedule Time", "%s", timeString(*t))
	} else {
		d.line(0, "Last Schedule Time", "<unset>")
	}
	var active []string
	for _, a := range cj.Status.Active {
		active = append(active, a.Name)
	}
	d.line(0, "Active Jobs", "%s", orNone(strings.Join(active, ", ")))
	runs, err := jobs.NextRuns(cj, local, d.now, 5)
	switch {
	case err != nil:
		d.line(0, "Next Runs", "<error: %v>", err)
	case suspend:
		d.line(0, "Next Runs", "<none: suspended>")
	default:
		d.heading(0, "Next Runs")
		for _, r := range runs {
			fmt.Fprintf(d.w, "  %s\t(in %s)\n", r.Format("Mon 2006-01-02 15:04 MST"), duration.HumanDuration(r.Sub(d.now)))
		}
	}
	d.podTemplate(&cj.Spec.JobTemplate.Spec.Template)
}

// events prints kubectl's Events table: the newest last, a repeat as
// "(xN)".
func (d *describer) events(evs []api.Event) {
	if len(evs) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	d.heading(0, "Events")
	fmt.Fprintf(d.w, "  Type\tReason\tAge\tFrom\tMessage\n")
	fmt.Fprintf(d.w, "  ----\t------\t----\t----\t-------\n")
	for _, e := range evs {
		a := age(metav1.NewTime(e.Time), d.now)
		if e.Count > 1 {
			a += fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(d.w, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, a, "berth", strings.ReplaceAll(e.Message, "\n", " "))
	}
}

// configMap is kubectl's describe: each key, a rule, its value; binary
// values by size.
func (d *describer) configMap(cm *corev1.ConfigMap) {
	d.meta(&cm.ObjectMeta, true)
	fmt.Fprintf(d.w, "\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		fmt.Fprintf(d.w, "%s:\n----\n%s\n\n", k, cm.Data[k])
	}
	fmt.Fprintf(d.w, "\nBinaryData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		fmt.Fprintf(d.w, "%s: %d bytes\n", k, len(cm.BinaryData[k]))
	}
	fmt.Fprintln(d.w)
}

// secret is kubectl's describe: the type, then each key and its size.
func (d *describer) secret(s *api.SecretSummary) {
	d.meta(&s.ObjectMeta, true)
	fmt.Fprintln(d.w)
	d.line(0, "Type", "%s", s.Type)
	if s.Encrypted {
		d.line(0, "Encrypted", "SOPS (decrypted by the server)")
	}
	fmt.Fprintf(d.w, "\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(s.Sizes)) {
		d.line(0, k, "%d bytes", s.Sizes[k])
	}
	fmt.Fprintln(d.w)
}
