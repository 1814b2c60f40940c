package reconciler

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/api"
)

// Bounds of a registration: what one machine can sanely offer, far above
// any real one and far below where int64 arithmetic on quantities
// overflows.
var maxQuantity = map[corev1.ResourceName]resource.Quantity{
	corev1.ResourceCPU:              resource.MustParse("4096"),
	corev1.ResourceMemory:           resource.MustParse("64Ti"),
	corev1.ResourcePods:             resource.MustParse("10000"),
	corev1.ResourceEphemeralStorage: resource.MustParse("1Pi"),
	// The room a node offers for claims under its --storage-dir.
	api.ResourceClaimStorage: resource.MustParse("1Pi"),
}

// maxOtherQuantity bounds resources not named above (extended resources).
var maxOtherQuantity = resource.MustParse("1M")

const (
	maxRegisterLabels    = 64
	maxRegisterTaints    = 64
	maxRegisterResources = 32
)

// validateRegister refuses a registration with anything the scheduler or
// the log proxy should not meet: it names the field and why, or is "".
func validateRegister(req *api.RegisterRequest) string {
	if len(req.Labels) > maxRegisterLabels {
		return fmt.Sprintf("labels: %d, at most %d", len(req.Labels), maxRegisterLabels)
	}
	for k, v := range req.Labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Sprintf("label %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return fmt.Sprintf("label %s=%q: %s", k, v, strings.Join(msgs, "; "))
		}
	}
	if h, ok := req.Labels[hostnameLabel]; ok && h != req.Name {
		return fmt.Sprintf("label %s=%q: must be the node's name %q", hostnameLabel, h, req.Name)
	}
	if len(req.Taints) > maxRegisterTaints {
		return fmt.Sprintf("taints: %d, at most %d", len(req.Taints), maxRegisterTaints)
	}
	for i, t := range req.Taints {
		if msgs := validation.IsQualifiedName(t.Key); len(msgs) > 0 {
			return fmt.Sprintf("taints[%d].key %q: %s", i, t.Key, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			return fmt.Sprintf("taints[%d].value %q: %s", i, t.Value, strings.Join(msgs, "; "))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return fmt.Sprintf("taints[%d].effect %q: want NoSchedule, PreferNoSchedule or NoExecute", i, t.Effect)
		}
		if t.TimeAdded != nil {
			return fmt.Sprintf("taints[%d].timeAdded: set by the server, not the node", i)
		}
	}
	for _, f := range []struct {
		field string
		rl    corev1.ResourceList
	}{{"capacity", req.Capacity}, {"allocatable", req.Allocatable}} {
		if len(f.rl) > maxRegisterResources {
			return fmt.Sprintf("%s: %d resources, at most %d", f.field, len(f.rl), maxRegisterResources)
		}
		for name, q := range f.rl {
			if msgs := validation.IsQualifiedName(string(name)); len(msgs) > 0 {
				return fmt.Sprintf("%s.%s: %s", f.field, name, strings.Join(msgs, "; "))
			}
			limit, ok := maxQuantity[name]
			if !ok {
				limit = maxOtherQuantity
			}
			if q.Sign() < 0 {
				return fmt.Sprintf("%s.%s: negative quantity %s", f.field, name, q.String())
			}
			if q.Cmp(limit) > 0 {
				return fmt.Sprintf("%s.%s: %s is more than %s", f.field, name, q.String(), limit.String())
			}
		}
	}
	for name, q := range req.Allocatable {
		c, ok := req.Capacity[name]
		if !ok {
			return fmt.Sprintf("allocatable.%s: not in capacity", name)
		}
		if q.Cmp(c) > 0 {
			return fmt.Sprintf("allocatable.%s: %s is more than capacity %s", name, q.String(), c.String())
		}
	}
	if req.Address != "" {
		if msg := validateHostPort(req.Address); msg != "" {
			return fmt.Sprintf("address %q: %s", req.Address, msg)
		}
	}
	if len(req.CSR) > 16<<10 {
		return "csr: larger than 16 KiB"
	}
	return ""
}

// validateHostPort accepts host:port only: an IP address or a DNS name,
// and a port 1-65535; no scheme, path, user or query.
func validateHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "want host:port"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return fmt.Sprintf("port %q: want 1-65535", port)
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return fmt.Sprintf("host %q: want an IP address or a DNS name", host)
	}
	return ""
}
