package manifest

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The node-port range Kubernetes uses by default (--service-node-port-range).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// Kubernetes' limits on ClientIP session affinity (pkg/apis/core).
const (
	maxClientIPTimeout     = 86400
	defaultClientIPTimeout = 10800
)

// validateService follows Kubernetes' ValidateService for the subset berth
// implements: ClusterIP and NodePort Services, headless Services, TCP and
// UDP ports. A Service without a selector is valid, but berth has no
// manually written Endpoints yet, so it has no endpoints and rejects
// connections.
func validateService(svc *corev1.Service) field.ErrorList {
	mp := field.NewPath("metadata")
	errs := validateMeta(&svc.ObjectMeta, validation.DNS1035LabelMaxLength, mp)
	if svc.Name != "" {
		// A Service's name becomes a DNS label: RFC 1035, not 1123.
		for _, msg := range validation.IsDNS1035Label(svc.Name) {
			errs = append(errs, field.Invalid(mp.Child("name"), svc.Name, msg))
		}
	}
	s := &svc.Spec
	p := field.NewPath("spec")
	switch s.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeNodePort)}))
	}
	headless := s.ClusterIP == corev1.ClusterIPNone
	if s.ClusterIP != "" && !headless {
		if a, err := netip.ParseAddr(s.ClusterIP); err != nil || !a.Is4() {
			errs = append(errs, field.Invalid(p.Child("clusterIP"), s.ClusterIP, "must be a valid IPv4 address or None"))
		}
	}
	if headless && s.Type == corev1.ServiceTypeNodePort {
		errs = append(errs, field.Invalid(p.Child("clusterIP"), s.ClusterIP, "may not be set to 'None' for NodePort services"))
	}
	if len(s.Ports) == 0 && !headless {
		errs = append(errs, field.Required(p.Child("ports"), ""))
	}
	type portKey struct {
		port     int32
		protocol corev1.Protocol
	}
	names := map[string]bool{}
	ports := map[portKey]bool{}
	nodePorts := map[portKey]bool{}
	for i := range s.Ports {
		sp := &s.Ports[i]
		pp := p.Child("ports").Index(i)
		if len(s.Ports) > 1 && sp.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		if sp.Name != "" {
			for _, msg := range validation.IsDNS1123Label(sp.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), sp.Name, msg))
			}
			if names[sp.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), sp.Name))
			}
			names[sp.Name] = true
		}
		for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), sp.Port, msg))
		}
		proto := sp.Protocol
		switch proto {
		case "":
			proto = corev1.ProtocolTCP
		case corev1.ProtocolTCP, corev1.ProtocolUDP:
		default:
			errs = append(errs, field.NotSupported(pp.Child("protocol"), sp.Protocol, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}))
		}
		k := portKey{sp.Port, proto}
		if ports[k] {
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%d/%s", sp.Port, proto)))
		}
		ports[k] = true
		errs = append(errs, validateTargetPort(sp.TargetPort, pp.Child("targetPort"))...)
		if sp.NodePort != 0 {
			np := pp.Child("nodePort")
			if s.Type != corev1.ServiceTypeNodePort {
				errs = append(errs, field.Forbidden(np, "may not be used when `type` is 'ClusterIP'"))
			} else if sp.NodePort < NodePortMin || sp.NodePort > NodePortMax {
				errs = append(errs, field.Invalid(np, sp.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
			k := portKey{sp.NodePort, proto}
			if nodePorts[k] {
				errs = append(errs, field.Duplicate(np, sp.NodePort))
			}
			nodePorts[k] = true
		}
		if sp.AppProtocol != nil {
			errs = append(errs, field.Forbidden(pp.Child("appProtocol"), "not supported by berth"))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Selector, p.Child("selector"))...)
	switch s.SessionAffinity {
	case "", corev1.ServiceAffinityNone:
		if s.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(p.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	case corev1.ServiceAffinityClientIP:
		if c := s.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPTimeout {
				errs = append(errs, field.Invalid(p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPTimeout)))
			}
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("sessionAffinity"), s.SessionAffinity, []string{string(corev1.ServiceAffinityNone), string(corev1.ServiceAffinityClientIP)}))
	}
	return errs
}

// validateTargetPort accepts a port number or a container port's name
// (an IANA service name), as Kubernetes does.
func validateTargetPort(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if v.Type == intstr.String {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortName(v.StrVal) {
			errs = append(errs, field.Invalid(p, v.StrVal, msg))
		}
		return errs
	}
	if v.IntVal == 0 {
		return nil // defaulted to port
	}
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(v.IntVal)) {
		errs = append(errs, field.Invalid(p, v.IntVal, msg))
	}
	return errs
}

// validatePodDNS checks a pod's dnsPolicy and dnsConfig as Kubernetes'
// validateDNSPolicy and validatePodDNSConfig do.
// validatePodDNS checks the pod's subdomain, which with hostname names the
// pod in a headless Service's DNS zone (dnsPolicy and dnsConfig are checked
// with the rest of the pod spec in validate_pod.go).
func validatePodDNS(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Subdomain != "" {
		for _, msg := range validation.IsDNS1123Label(s.Subdomain) {
			errs = append(errs, field.Invalid(p.Child("subdomain"), s.Subdomain, msg))
		}
	}
	return errs
}

func defaultService(svc *corev1.Service) {
	svc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	s := &svc.Spec
	if s.Type == "" {
		s.Type = corev1.ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIP == nil {
			s.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			s.SessionAffinityConfig.ClientIP.TimeoutSeconds = ptr(int32(defaultClientIPTimeout))
		}
	}
	for i := range s.Ports {
		sp := &s.Ports[i]
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0 {
			sp.TargetPort = intstr.FromInt32(sp.Port)
		}
	}
}
