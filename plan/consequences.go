package plan

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/deployments"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/reconciler"
)

// consequences says what the server will do about one object that
// changed, in the words of its rollout rules.
func consequences(in Input, b, h *manifest.Object) []string {
	o := h
	if o == nil {
		o = b
	}
	running := runningPods(in, o)
	switch o.Kind {
	case manifest.KindDeployment:
		return deploymentConsequences(b, h, running)
	case manifest.KindPod:
		switch {
		case b == nil:
			return []string{"pod created"}
		case h == nil:
			return []string{stopLine("pod removed", running)}
		}
		return []string{stopLine("spec changed → the pod is replaced", running)}
	case manifest.KindJob:
		switch {
		case b == nil:
			return []string{fmt.Sprintf("job created → %d pod(s) start", jobPods(h))}
		case h == nil:
			return []string{stopLine("job removed", running)}
		}
		if reflect.DeepEqual(b.Job.Spec, h.Job.Spec) {
			return []string{"metadata changed; the job keeps running"}
		}
		return []string{stopLine("spec changed → the job is replaced", running)}
	case manifest.KindCronJob:
		return cronJobConsequences(in, b, h)
	case manifest.KindConfigMap, manifest.KindSecret:
		kind := strings.ToLower(string(o.Kind))
		switch {
		case b == nil:
			return []string{kind + " created"}
		case h == nil:
			return []string{kind + " removed"}
		}
		if keys := changedKeys(b, h); len(keys) > 0 {
			return []string{"keys changed: " + strings.Join(keys, ", ")}
		}
		return []string{kind + " metadata changed"}
	case manifest.KindNamespace:
		if h == nil {
			return []string{"namespace removed"}
		}
		if b == nil {
			return []string{"namespace created"}
		}
		return []string{"namespace metadata changed"}
	}
	return nil
}

func stopLine(what string, running int) string {
	if running == 0 {
		return what
	}
	return fmt.Sprintf("%s, %d running pod(s) stop", what, running)
}

func deploymentConsequences(b, h *manifest.Object, running int) []string {
	if h == nil {
		return []string{stopLine("deployment removed", running)}
	}
	hp, err := deployments.ResolveParams(h.Deployment)
	if err != nil {
		return []string{err.Error()}
	}
	if b == nil {
		return []string{fmt.Sprintf("deployment created → %d pod(s)", hp.Replicas)}
	}
	bp, _ := deployments.ResolveParams(b.Deployment)
	var out []string
	if reconciler.DeploymentTemplateHash(b.Deployment) != reconciler.DeploymentTemplateHash(h.Deployment) {
		if h.Deployment.Spec.Strategy.Type == "Recreate" {
			out = append(out, fmt.Sprintf("template changed → recreate: %d pod(s) stop, then %d start", bp.Replicas, hp.Replicas))
		} else {
			out = append(out, fmt.Sprintf("template changed → rolling update of %d pod(s) (maxSurge %d, maxUnavailable %d)", hp.Replicas, hp.MaxSurge, hp.MaxUnavailable))
		}
	}
	switch {
	case hp.Replicas > bp.Replicas:
		out = append(out, fmt.Sprintf("replicas %d → %d: %d pod(s) added", bp.Replicas, hp.Replicas, hp.Replicas-bp.Replicas))
	case hp.Replicas < bp.Replicas:
		out = append(out, fmt.Sprintf("replicas %d → %d: %d pod(s) removed", bp.Replicas, hp.Replicas, bp.Replicas-hp.Replicas))
	}
	if len(out) == 0 {
		out = append(out, "no pod changes (strategy or metadata only)")
	}
	return out
}

func cronJobConsequences(in Input, b, h *manifest.Object) []string {
	if h == nil {
		return []string{"cronjob removed; its running jobs finish"}
	}
	next := ""
	if runs, err := jobs.NextRuns(h.CronJob, in.Local, in.Now, 1); err == nil && len(runs) == 1 {
		next = "next run " + runs[0].UTC().Format("2006-01-02 15:04 UTC")
	}
	if b == nil {
		return []string{joinNonEmpty("cronjob created", next)}
	}
	var out []string
	bs, hs := b.CronJob.Spec, h.CronJob.Spec
	if bs.Schedule != hs.Schedule || !reflect.DeepEqual(bs.TimeZone, hs.TimeZone) {
		out = append(out, joinNonEmpty(fmt.Sprintf("schedule `%s` → `%s`", bs.Schedule, hs.Schedule), next))
	}
	if !reflect.DeepEqual(bs.Suspend, hs.Suspend) {
		if hs.Suspend != nil && *hs.Suspend {
			out = append(out, "suspended: no new runs")
		} else {
			out = append(out, "resumed")
		}
	}
	if !reflect.DeepEqual(bs.JobTemplate, hs.JobTemplate) {
		out = append(out, "job template changed → the next runs use it; running jobs finish as they are")
	}
	if len(out) == 0 {
		out = append(out, "policy or metadata changed")
	}
	return out
}

func joinNonEmpty(a, b string) string {
	if b == "" {
		return a
	}
	return a + ", " + b
}

func jobPods(o *manifest.Object) int {
	n := 1
	if p := o.Job.Spec.Parallelism; p != nil {
		n = int(*p)
	}
	if c := o.Job.Spec.Completions; c != nil {
		n = min(n, int(*c))
	}
	return n
}

func changedKeys(b, h *manifest.Object) []string {
	before, after := map[string][]byte{}, map[string][]byte{}
	if b.ConfigMap != nil {
		for k, v := range b.ConfigMap.Data {
			before[k] = []byte(v)
		}
		for k, v := range b.ConfigMap.BinaryData {
			before[k] = v
		}
		for k, v := range h.ConfigMap.Data {
			after[k] = []byte(v)
		}
		for k, v := range h.ConfigMap.BinaryData {
			after[k] = v
		}
	} else {
		before, after = b.Secret.Data, h.Secret.Data
	}
	var keys []string
	for k, v := range after {
		if w, ok := before[k]; !ok || string(w) != string(v) {
			keys = append(keys, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k+" (removed)")
		}
	}
	sort.Strings(keys)
	return keys
}

// runningPods counts the snapshot's pods of o that hold a node and have
// not ended (from in.running, counted once per plan).
func runningPods(in Input, o *manifest.Object) int {
	return in.running[keyOf(o)]
}

// countRunning counts, per owner, the snapshot's pods that hold a node and
// have not ended: one pass over the pods instead of one per change.
func countRunning(snap *api.ClusterSnapshot) map[objKey]int {
	if snap == nil {
		return nil
	}
	out := map[objKey]int{}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Pod.DeletionTimestamp != nil || p.Pod.Spec.NodeName == "" {
			continue
		}
		if ph := p.Pod.Status.Phase; ph == corev1.PodSucceeded || ph == corev1.PodFailed {
			continue
		}
		out[objKey{manifest.Kind(p.OwnerKind), p.Pod.Namespace, p.OwnerName}]++
	}
	return out
}
