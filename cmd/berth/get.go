//go:build !berth_agent

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
)

// resKind is a kind the CLI reads, by its canonical plural.
type resKind string

const (
	resNodes        resKind = "nodes"
	resPods         resKind = "pods"
	resDeployments  resKind = "deployments"
	resDaemonSets   resKind = "daemonsets"
	resStatefulSets resKind = "statefulsets"
	resClaims       resKind = "persistentvolumeclaims"
	resJobs         resKind = "jobs"
	resCronJobs     resKind = "cronjobs"
	resServices     resKind = "services"
	resEndpoints    resKind = "endpoints"
	resConfigMaps   resKind = "configmaps"
	resSecrets      resKind = "secrets"
)

// resourceNames are the names kubectl accepts for each kind.
var resourceNames = map[string]resKind{
	"node": resNodes, "nodes": resNodes, "no": resNodes,
	"pod": resPods, "pods": resPods, "po": resPods,
	"deployment": resDeployments, "deployments": resDeployments, "deploy": resDeployments,
	"daemonset": resDaemonSets, "daemonsets": resDaemonSets, "ds": resDaemonSets,
	"statefulset": resStatefulSets, "statefulsets": resStatefulSets, "sts": resStatefulSets,
	"persistentvolumeclaim": resClaims, "persistentvolumeclaims": resClaims, "pvc": resClaims,
	"job": resJobs, "jobs": resJobs,
	"cronjob": resCronJobs, "cronjobs": resCronJobs, "cj": resCronJobs,
	"service": resServices, "services": resServices, "svc": resServices,
	"endpoints": resEndpoints, "ep": resEndpoints,
	"configmap": resConfigMaps, "configmaps": resConfigMaps, "cm": resConfigMaps,
	"secret": resSecrets, "secrets": resSecrets,
}

func parseResource(s string) (resKind, error) {
	r, ok := resourceNames[strings.ToLower(s)]
	if !ok {
		return "", fmt.Errorf("unknown resource type %q: use nodes, pods, deployments, daemonsets, statefulsets, persistentvolumeclaims (pvc), jobs, cronjobs, services, endpoints, configmaps or secrets", s)
	}
	return r, nil
}

// namespaceFlags are -n and -A.
type namespaceFlags struct {
	namespace string
	all       bool
}

func (f *namespaceFlags) add(cmd *cobra.Command, withAll bool) {
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "default", "namespace of the objects")
	if withAll {
		cmd.Flags().BoolVarP(&f.all, "all-namespaces", "A", false, "list the objects of every namespace")
	}
}

// effective is the namespace to ask for; "" means all.
func (f *namespaceFlags) effective() string {
	if f.all {
		return ""
	}
	return f.namespace
}

type getOptions struct {
	conn   connFlags
	ns     namespaceFlags
	output string
}

func newGetCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get (nodes|pods|deployments|daemonsets|statefulsets|pvc|jobs|cronjobs|services|endpoints|configmaps|secrets) [NAME]",
		Short: "Show nodes, pods, deployments, daemonsets, statefulsets, claims, jobs, cronjobs, services, endpoints, configmaps or secrets as kubectl does",
		Long: `Show the nodes of the cluster, or the pods, deployments, daemonsets, statefulsets,
persistentvolumeclaims, jobs, cronjobs, services, endpoints, configmaps and secrets the server runs from
Git, as a table like kubectl's. A secret is shown as its keys and their
sizes: no value is ever read back from the server.

Namespaced kinds are read from the "default" namespace unless -n names
another or -A asks for all of them. -o wide adds columns (pod IP and node,
images); -o yaml and -o json print the objects as the API returns them
(Kubernetes types, so they look like kubectl's).

Examples:
  berth get pods -A -o wide
  berth get deployment web -o yaml
  berth get nodes
  berth get snapshot -o json > cluster.json   # for berth plan --snapshot`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "snapshot" {
				return runGetSnapshot(cmd, &o)
			}
			res, err := parseResource(args[0])
			if err != nil {
				return err
			}
			switch o.output {
			case "", "wide", "yaml", "json":
			default:
				return fmt.Errorf("unknown output format %q: use wide, yaml or json", o.output)
			}
			c, err := o.conn.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return fromServer(runGet(cmd.Context(), c, cmd.OutOrStdout(), cmd.ErrOrStderr(), res, name, o, time.Now()))
		},
	}
	o.conn.add(cmd)
	o.ns.add(cmd, true)
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, yaml or json")
	return cmd
}

func runGet(ctx context.Context, c *client.Client, out, errOut io.Writer, res resKind, name string, o getOptions, now time.Time) error {
	ns := o.ns.effective()
	if name != "" && ns == "" {
		return fmt.Errorf("a name needs a namespace: drop -A")
	}
	obj, items, err := fetch(ctx, c, res, ns, name)
	if err != nil {
		return notFoundHint(err, res, name)
	}
	switch o.output {
	case "json":
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if items == 0 {
		if res == resNodes || ns == "" {
			fmt.Fprintln(errOut, "No resources found")
		} else {
			fmt.Fprintf(errOut, "No resources found in %s namespace.\n", ns)
		}
		return nil
	}
	t := views(c)[res].table(obj, o.output == "wide", now)
	if ns == "" && res != resNodes {
		t = t.withNamespace()
	}
	return t.print(out)
}

// fetch reads one object or a list, and how many objects it holds.
func fetch(ctx context.Context, c *client.Client, res resKind, ns, name string) (any, int, error) {
	v, ok := views(c)[res]
	if !ok {
		return nil, 0, fmt.Errorf("unknown resource %q", res)
	}
	return v.fetch(ctx, ns, name)
}

// view is how `berth get` reads one kind from the server and prints it.
type view struct {
	// fetch reads the object named, or the list of the namespace ("" for
	// all), and how many objects it holds.
	fetch func(ctx context.Context, ns, name string) (any, int, error)
	// table prints what fetch returned.
	table func(obj any, wide bool, now time.Time) table
}

// kindView is the view of a kind T whose list type is L: one reads an
// object, list a namespace's objects (sorted here by namespace and name,
// as kubectl shows them), items takes a list's objects, print makes the
// table.
func kindView[T any, PT interface {
	*T
	GetNamespace() string
	GetName() string
}, L any](one func(ctx context.Context, ns, name string) (*T, error), list func(ctx context.Context, ns string) (*L, error),
	items func(*L) []T, print func(objs []T, wide bool, now time.Time) table) view {
	return view{
		fetch: func(ctx context.Context, ns, name string) (any, int, error) {
			if name != "" {
				o, err := one(ctx, ns, name)
				if err != nil {
					return nil, 0, err
				}
				return o, 1, nil
			}
			l, err := list(ctx, ns)
			if err != nil {
				return nil, 0, err
			}
			objs := items(l)
			sort.Slice(objs, func(i, j int) bool {
				a, b := PT(&objs[i]), PT(&objs[j])
				if a.GetNamespace() != b.GetNamespace() {
					return a.GetNamespace() < b.GetNamespace()
				}
				return a.GetName() < b.GetName()
			})
			return l, len(objs), nil
		},
		table: func(obj any, wide bool, now time.Time) table {
			switch v := obj.(type) {
			case *T:
				return print([]T{*v}, wide, now)
			case *L:
				return print(items(v), wide, now)
			}
			return table{}
		},
	}
}

// views are the kinds `berth get` shows, read through c.
func views(c *client.Client) map[resKind]view {
	return map[resKind]view{
		resNodes: kindView(func(ctx context.Context, _, name string) (*corev1.Node, error) { return c.Node(ctx, name) },
			func(ctx context.Context, _ string) (*corev1.NodeList, error) { return c.Nodes(ctx) },
			func(l *corev1.NodeList) []corev1.Node { return l.Items }, nodeTable),
		resPods: kindView(c.Pod, c.Pods,
			func(l *corev1.PodList) []corev1.Pod { return l.Items }, podTable),
		resDeployments: kindView(c.Deployment, c.Deployments,
			func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items }, deploymentTable),
		resDaemonSets: kindView(c.DaemonSet, c.DaemonSets,
			func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items }, daemonSetTable),
		resStatefulSets: kindView(c.StatefulSet, c.StatefulSets,
			func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }, statefulSetTable),
		resClaims: kindView(c.PersistentVolumeClaim, c.PersistentVolumeClaims,
			func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items }, claimTable),
		resJobs: kindView(c.Job, c.Jobs,
			func(l *batchv1.JobList) []batchv1.Job { return l.Items }, jobTable),
		resCronJobs: kindView(c.CronJob, c.CronJobs,
			func(l *batchv1.CronJobList) []batchv1.CronJob { return l.Items }, cronJobTable),
		resServices: kindView(c.Service, c.Services,
			func(l *corev1.ServiceList) []corev1.Service { return l.Items }, serviceTable),
		resEndpoints: {
			fetch: func(ctx context.Context, ns, name string) (any, int, error) { return fetchEndpoints(ctx, c, ns, name) },
			table: func(obj any, _ bool, now time.Time) table {
				v := obj.(*endpointsView)
				return endpointsTable(v.services, v.slices, now)
			},
		},
		resConfigMaps: kindView(c.ConfigMap, c.ConfigMaps,
			func(l *corev1.ConfigMapList) []corev1.ConfigMap { return l.Items }, configMapTable),
		resSecrets: kindView(c.Secret, c.Secrets,
			func(l *api.SecretSummaryList) []api.SecretSummary { return l.Items }, secretTable),
	}
}

// table is rows under a header; namespaces are kept aside so -A can put
// them in front.
type table struct {
	header     []string
	rows       [][]string
	namespaces []string
}

func (t table) withNamespace() table {
	out := table{header: append([]string{"NAMESPACE"}, t.header...)}
	for i, r := range t.rows {
		out.rows = append(out.rows, append([]string{t.namespaces[i]}, r...))
	}
	return out
}

// print aligns the columns as kubectl's printer does (tabwriter with
// three spaces of padding).
func (t table) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
	fmt.Fprintln(w, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

// age is kubectl's AGE column.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			switch c.Status {
			case corev1.ConditionTrue:
				status = "Ready"
			case corev1.ConditionFalse:
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return "<none>"
}

func nodeTable(nodes []corev1.Node, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}}
	if wide {
		t.header = append(t.header, "INTERNAL-IP", "POD-CIDR", "CPU", "MEMORY")
	}
	for i := range nodes {
		n := &nodes[i]
		r := []string{n.Name, nodeStatus(n), "<none>", age(n.CreationTimestamp, now), orNone(n.Status.NodeInfo.KubeletVersion)}
		if wide {
			r = append(r, nodeIP(n), orNone(n.Spec.PodCIDR), n.Status.Allocatable.Cpu().String(), n.Status.Allocatable.Memory().String())
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, "")
	}
	return t
}

// podSummary is kubectl's READY, STATUS and RESTARTS of a pod, computed
// the way `kubectl get pods` does.
func podSummary(pod *corev1.Pod, now time.Time) (ready, status, restarts string) {
	total := len(pod.Spec.Containers)
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}
	readyN, restartN := 0, int32(0)
	var lastRestart time.Time
	noteRestart := func(cs *corev1.ContainerStatus) {
		restartN += cs.RestartCount
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
	}
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		cs := &pod.Status.InitContainerStatuses[i]
		noteRestart(cs)
		if sidecars[cs.Name] && cs.Ready {
			readyN++
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			continue
		case cs.State.Terminated != nil:
			if cs.State.Terminated.Reason != "" {
				reason = "Init:" + cs.State.Terminated.Reason
			} else {
				reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing {
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := &pod.Status.ContainerStatuses[i]
			noteRestart(cs)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil:
				if cs.State.Terminated.Signal != 0 {
					reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
				} else {
					reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
				}
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				readyN++
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					reason = "Running"
				}
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	restarts = fmt.Sprint(restartN)
	if restartN > 0 && !lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", restartN, duration.HumanDuration(now.Sub(lastRestart)))
	}
	return fmt.Sprintf("%d/%d", readyN, total), reason, restarts
}

func podTable(pods []corev1.Pod, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}}
	if wide {
		t.header = append(t.header, "IP", "NODE")
	}
	for i := range pods {
		p := &pods[i]
		ready, status, restarts := podSummary(p, now)
		r := []string{p.Name, ready, status, restarts, age(p.CreationTimestamp, now)}
		if wide {
			r = append(r, orNone(p.Status.PodIP), orNone(p.Spec.NodeName))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, p.Namespace)
	}
	return t
}

func containersAndImages(spec *corev1.PodSpec) (string, string) {
	var names, images []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return orNone(strings.Join(names, ",")), orNone(strings.Join(images, ","))
}

func selectorString(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<error>"
	}
	return orNone(s.String())
}

func deploymentTable(ds []appsv1.Deployment, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}}
	if wide {
		t.header = append(t.header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i := range ds {
		d := &ds[i]
		r := []string{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 1)),
			fmt.Sprint(d.Status.UpdatedReplicas), fmt.Sprint(d.Status.AvailableReplicas), age(d.CreationTimestamp, now)}
		if wide {
			names, images := containersAndImages(&d.Spec.Template.Spec)
			r = append(r, names, images, selectorString(d.Spec.Selector))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, d.Namespace)
	}
	return t
}

// daemonSetTable has kubectl's columns for DaemonSets.
func daemonSetTable(ds []appsv1.DaemonSet, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"}}
	if wide {
		t.header = append(t.header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i := range ds {
		d := &ds[i]
		st := &d.Status
		r := []string{d.Name, fmt.Sprint(st.DesiredNumberScheduled), fmt.Sprint(st.CurrentNumberScheduled), fmt.Sprint(st.NumberReady),
			fmt.Sprint(st.UpdatedNumberScheduled), fmt.Sprint(st.NumberAvailable), orNone(labels.Set(d.Spec.Template.Spec.NodeSelector).String()), age(d.CreationTimestamp, now)}
		if wide {
			names, images := containersAndImages(&d.Spec.Template.Spec)
			r = append(r, names, images, selectorString(d.Spec.Selector))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, d.Namespace)
	}
	return t
}

// statefulSetTable has kubectl's columns for StatefulSets.
func statefulSetTable(sets []appsv1.StatefulSet, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "READY", "AGE"}}
	if wide {
		t.header = append(t.header, "CONTAINERS", "IMAGES")
	}
	for i := range sets {
		s := &sets[i]
		r := []string{s.Name, fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, ptr.Deref(s.Spec.Replicas, 1)), age(s.CreationTimestamp, now)}
		if wide {
			names, images := containersAndImages(&s.Spec.Template.Spec)
			r = append(r, names, images)
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, s.Namespace)
	}
	return t
}

// claimTable has kubectl's columns for PersistentVolumeClaims. VOLUME
// names the claim's directory on its node; berth has no
// VolumeAttributesClasses.
func claimTable(claims []corev1.PersistentVolumeClaim, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"}}
	if wide {
		t.header = append(t.header, "VOLUMEMODE")
	}
	for i := range claims {
		c := &claims[i]
		capacity := ""
		if q, ok := c.Status.Capacity[corev1.ResourceStorage]; ok {
			capacity = q.String()
		}
		r := []string{c.Name, string(c.Status.Phase), c.Spec.VolumeName, capacity, accessModes(c.Status.AccessModes),
			ptr.Deref(c.Spec.StorageClassName, ""), "<unset>", age(c.CreationTimestamp, now)}
		if wide {
			mode := ""
			if c.Spec.VolumeMode != nil {
				mode = string(*c.Spec.VolumeMode)
			}
			r = append(r, mode)
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, c.Namespace)
	}
	return t
}

// accessModes abbreviates as kubectl does (RWO, RWOP).
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	short := map[corev1.PersistentVolumeAccessMode]string{corev1.ReadWriteOnce: "RWO", corev1.ReadOnlyMany: "ROX",
		corev1.ReadWriteMany: "RWX", corev1.ReadWriteOncePod: "RWOP"}
	var out []string
	for _, m := range modes {
		if s, ok := short[m]; ok {
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}

func jobStatus(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "Complete"
		case batchv1.JobFailed:
			return "Failed"
		case batchv1.JobSuspended:
			return "Suspended"
		}
	}
	if j.Status.StartTime == nil {
		return "Pending"
	}
	return "Running"
}

func jobCompletions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if p := ptr.Deref(j.Spec.Parallelism, 1); p > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

func jobDuration(j *batchv1.Job, now time.Time) string {
	if j.Status.StartTime == nil {
		return ""
	}
	end := now
	if j.Status.CompletionTime != nil {
		end = j.Status.CompletionTime.Time
	}
	return duration.HumanDuration(end.Sub(j.Status.StartTime.Time))
}

func jobTable(js []batchv1.Job, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"}}
	if wide {
		t.header = append(t.header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i := range js {
		j := &js[i]
		created := j.CreationTimestamp
		if created.IsZero() && j.Status.StartTime != nil {
			created = *j.Status.StartTime
		}
		r := []string{j.Name, jobStatus(j), jobCompletions(j), jobDuration(j, now), age(created, now)}
		if wide {
			names, images := containersAndImages(&j.Spec.Template.Spec)
			r = append(r, names, images, selectorString(j.Spec.Selector))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, j.Namespace)
	}
	return t
}

func cronJobTable(cjs []batchv1.CronJob, wide bool, now time.Time) table {
	t := table{header: []string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"}}
	if wide {
		t.header = append(t.header, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	for i := range cjs {
		cj := &cjs[i]
		suspend := "False"
		if ptr.Deref(cj.Spec.Suspend, false) {
			suspend = "True"
		}
		last := "<none>"
		if cj.Status.LastScheduleTime != nil {
			last = age(*cj.Status.LastScheduleTime, now)
		}
		r := []string{cj.Name, cj.Spec.Schedule, ptr.Deref(cj.Spec.TimeZone, "<none>"), suspend, fmt.Sprint(len(cj.Status.Active)), last, age(cj.CreationTimestamp, now)}
		if wide {
			names, images := containersAndImages(&cj.Spec.JobTemplate.Spec.Template.Spec)
			r = append(r, names, images, selectorString(cj.Spec.JobTemplate.Spec.Selector))
		}
		t.rows = append(t.rows, r)
		t.namespaces = append(t.namespaces, cj.Namespace)
	}
	return t
}

// configMapTable is kubectl's: NAME, DATA (keys of data and binaryData),
// AGE.
func configMapTable(cms []corev1.ConfigMap, _ bool, now time.Time) table {
	t := table{header: []string{"NAME", "DATA", "AGE"}}
	for i := range cms {
		cm := &cms[i]
		t.rows = append(t.rows, []string{cm.Name, fmt.Sprint(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)})
		t.namespaces = append(t.namespaces, cm.Namespace)
	}
	return t
}

// secretTable is kubectl's: NAME, TYPE, DATA (number of keys), AGE.
func secretTable(ss []api.SecretSummary, _ bool, now time.Time) table {
	t := table{header: []string{"NAME", "TYPE", "DATA", "AGE"}}
	for i := range ss {
		s := &ss[i]
		t.rows = append(t.rows, []string{s.Name, string(s.Type), fmt.Sprint(len(s.Sizes)), age(s.CreationTimestamp, now)})
		t.namespaces = append(t.namespaces, s.Namespace)
	}
	return t
}

// notFoundHint turns the API's NotFound into kubectl's wording.
func notFoundHint(err error, res resKind, name string) error {
	if client.IsNotFound(err) {
		return fmt.Errorf("%s %q not found", strings.TrimSuffix(string(res), "s"), name)
	}
	return err
}
