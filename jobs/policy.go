package jobs

import (
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
)

// Back-off between pod re-creations after failures, as Kubernetes' job
// controller does it: 10 s after the first failure, doubling with each
// further failure, never more than 10 minutes.
const (
	PodBackoffBase = 10 * time.Second
	PodBackoffMax  = 10 * time.Minute
)

// backoffDelay is how long to wait after the last of failures consecutive
// failures before creating a replacement pod.
func backoffDelay(failures int32) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := PodBackoffBase
	for i := int32(1); i < failures; i++ {
		d *= 2
		if d >= PodBackoffMax {
			return PodBackoffMax
		}
	}
	return d
}

// backoffUntil is the earliest time a replacement pod may be created.
func backoffUntil(failures int32, last time.Time) time.Time {
	if failures <= 0 || last.IsZero() {
		return time.Time{}
	}
	return last.Add(backoffDelay(failures))
}

// matchFailurePolicy returns the action of the first podFailurePolicy rule
// that matches a failed pod, and a message naming what matched. A pod no
// rule matches is counted, as in Kubernetes.
//
// As in Kubernetes, an onExitCodes rule matches when some container (app
// containers first, then init containers), restricted to containerName if
// given, terminated with a non-zero exit code that is In (or NotIn) the
// rule's values: exit code 0 never matches.
func matchFailurePolicy(p *batchv1.PodFailurePolicy, pod *ObservedPod, namespace string) (batchv1.PodFailurePolicyAction, string) {
	if p == nil {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	for i, r := range p.Rules {
		req := r.OnExitCodes
		if req == nil {
			continue
		}
		for _, init := range []bool{false, true} {
			for _, c := range pod.Containers {
				if c.Init != init || c.ExitCode == nil || *c.ExitCode == 0 {
					continue
				}
				if req.ContainerName != nil && *req.ContainerName != c.Name {
					continue
				}
				in := slices.Contains(req.Values, *c.ExitCode)
				if in == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
					return r.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
						c.Name, namespace, pod.Name, *c.ExitCode, r.Action, i)
				}
			}
		}
	}
	return batchv1.PodFailurePolicyActionCount, ""
}

// restartsPastBackoffLimit implements backoffLimit for restartPolicy
// OnFailure, where a failing container restarts inside its pod instead of
// failing it: Kubernetes sums the restart counts of all containers of the
// running and pending pods and compares the sum with the limit.
func restartsPastBackoffLimit(active []*ObservedPod, limit int32) bool {
	var sum int64
	for _, p := range active {
		for _, c := range p.Containers {
			sum += int64(c.RestartCount)
		}
	}
	if limit == 0 {
		return sum > 0
	}
	return sum >= int64(limit)
}
