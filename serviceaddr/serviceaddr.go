package serviceaddr

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/manifest"
)

// DefaultServiceCIDR is where cluster IPs come from unless --service-cidr
// says otherwise: beside the pod range, inside 198.18.0.0/15.
var DefaultServiceCIDR = netip.MustParsePrefix("198.19.0.0/16")

// Assignment is what one Service holds.
type Assignment struct {
	ClusterIP string `json:"clusterIP,omitempty"`
	// NodePorts maps a port's key (PortKey) to its node port.
	NodePorts map[string]int32 `json:"nodePorts,omitempty"`
}

// Table is every Service's assignment, by "namespace/name".
type Table map[string]Assignment

// Allocator holds the ranges; the zero value is not usable, use New.
type Allocator struct {
	cidr             netip.Prefix
	first, last      uint32 // usable addresses, network and broadcast excluded
	portMin, portMax int32
}

// New returns an Allocator for an IPv4 service CIDR of at most /30.
func New(cidr netip.Prefix) (*Allocator, error) {
	cidr = cidr.Masked()
	if !cidr.Addr().Is4() || cidr.Bits() > 28 {
		return nil, fmt.Errorf("service CIDR %s: must be an IPv4 prefix of /28 or larger", cidr)
	}
	base := u32(cidr.Addr())
	size := uint32(1) << (32 - cidr.Bits())
	return &Allocator{cidr: cidr, first: base + 1, last: base + size - 2, portMin: manifest.NodePortMin, portMax: manifest.NodePortMax}, nil
}

// CIDR is the range cluster IPs come from.
func (a *Allocator) CIDR() netip.Prefix { return a.cidr }

// ClusterDNS is the address every agent serves cluster DNS on, the tenth
// of the range (as kube-dns' 10.96.0.10): no Service is given it.
func (a *Allocator) ClusterDNS() netip.Addr { return ClusterDNS(a.cidr) }

// ClusterDNS is the cluster DNS address of a service CIDR.
func ClusterDNS(cidr netip.Prefix) netip.Addr { return addr(u32(cidr.Masked().Addr()) + 10) }

// PortKey names a Service port independently of its position in the list.
func PortKey(p corev1.ServicePort) string {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%d/%s", p.Port, proto)
}

func key(o *manifest.Object) string { return o.Namespace + "/" + o.Name }

// holder remembers who has an address, to name both objects in a clash.
type holder struct {
	key  string
	obj  *manifest.Object // nil when held from the previous Table only
	port string           // PortKey, for node ports
}

// Assign returns the Table for the Services among objs (other kinds are
// ignored), starting from prev. Every problem is in the ErrorList, which
// names the file and line of the Service and of the other holder.
func (a *Allocator) Assign(prev Table, objs []manifest.Object) (Table, manifest.ErrorList) {
	var svcs []*manifest.Object
	for i := range objs {
		if objs[i].Service != nil {
			svcs = append(svcs, &objs[i])
		}
	}
	sort.Slice(svcs, func(i, j int) bool { return key(svcs[i]) < key(svcs[j]) })
	present := map[string]*manifest.Object{}
	for _, o := range svcs {
		present[key(o)] = o
	}

	var errs manifest.ErrorList
	dns := a.ClusterDNS()
	ips := map[uint32]holder{u32(dns): {key: "(the cluster DNS address)"}}
	ports := map[int32]holder{}
	out := Table{}
	for _, o := range svcs {
		out[key(o)] = Assignment{}
	}
	clash := func(o *manifest.Object, field, what string, h holder) {
		other := h.key
		if h.obj != nil {
			other = fmt.Sprintf("%s (%s:%d)", h.key, h.obj.File, h.obj.Line)
		}
		errs = append(errs, &manifest.Error{File: o.File, Line: o.Line, Field: field,
			Message: fmt.Sprintf("%s is already allocated to Service %s", what, other)})
	}

	// 1. Addresses written in Git.
	for _, o := range svcs {
		if o.Service.Spec.ClusterIP == dns.String() {
			errs = append(errs, &manifest.Error{File: o.File, Line: o.Line, Field: "spec.clusterIP",
				Message: fmt.Sprintf("Invalid value: %q: the cluster DNS address is reserved", dns)})
			continue
		}
		s := &o.Service.Spec
		if ip := s.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			addr, err := netip.ParseAddr(ip)
			switch {
			case err != nil || !a.cidr.Contains(addr) || u32(addr) < a.first || u32(addr) > a.last:
				errs = append(errs, &manifest.Error{File: o.File, Line: o.Line, Field: "spec.clusterIP",
					Message: fmt.Sprintf("Invalid value: %q: provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cidr)})
			default:
				if h, ok := ips[u32(addr)]; ok {
					clash(o, "spec.clusterIP", ip, h)
				} else {
					ips[u32(addr)] = holder{key: key(o), obj: o}
					set(out, key(o), func(as *Assignment) { as.ClusterIP = ip })
				}
			}
		}
		for i, p := range s.Ports {
			if p.NodePort == 0 || s.Type != corev1.ServiceTypeNodePort {
				continue
			}
			field := fmt.Sprintf("spec.ports[%d].nodePort", i)
			if h, ok := ports[p.NodePort]; ok && h.key != key(o) {
				clash(o, field, fmt.Sprintf("port %d", p.NodePort), h)
				continue
			}
			ports[p.NodePort] = holder{key: key(o), obj: o, port: PortKey(p)}
			np := p.NodePort
			set(out, key(o), func(as *Assignment) { as.NodePorts[PortKey(p)] = np })
		}
	}
	// A written address another existing Service holds from before is
	// not free either: check the previous Table against the claims.
	for _, k := range sortedKeys(prev) {
		o, ok := present[k]
		if !ok {
			continue // deleted: its addresses are free
		}
		pa := prev[k]
		if addr, err := netip.ParseAddr(pa.ClusterIP); err == nil && o.Service.Spec.ClusterIP == "" && wantsIP(o) {
			if h, ok := ips[u32(addr)]; ok && h.key != k {
				clash(h.obj, "spec.clusterIP", pa.ClusterIP, holder{key: k, obj: o})
			}
		}
		for pk, np := range pa.NodePorts {
			if !hasPort(o, pk) || writtenNodePort(o, pk) != 0 {
				continue
			}
			if h, ok := ports[np]; ok && h.key != k {
				clash(h.obj, "spec.ports.nodePort", fmt.Sprintf("port %d", np), holder{key: k, obj: o})
			}
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}

	// 2. Addresses held from before.
	for _, o := range svcs {
		k := key(o)
		pa := prev[k]
		if addr, err := netip.ParseAddr(pa.ClusterIP); err == nil && out[k].ClusterIP == "" && wantsIP(o) &&
			a.cidr.Contains(addr) && u32(addr) >= a.first && u32(addr) <= a.last {
			ips[u32(addr)] = holder{key: k, obj: o}
			set(out, k, func(as *Assignment) { as.ClusterIP = pa.ClusterIP })
		}
		for _, p := range nodePortsWanted(o) {
			pk := PortKey(p)
			np, ok := pa.NodePorts[pk]
			if !ok || out[k].NodePorts[pk] != 0 || np < a.portMin || np > a.portMax {
				continue
			}
			ports[np] = holder{key: k, obj: o, port: pk}
			set(out, k, func(as *Assignment) { as.NodePorts[pk] = np })
		}
	}

	// 3. New addresses.
	for _, o := range svcs {
		k := key(o)
		if wantsIP(o) && out[k].ClusterIP == "" {
			ip, ok := a.freeIP(k, ips)
			if !ok {
				errs = append(errs, &manifest.Error{File: o.File, Line: o.Line, Field: "spec.clusterIP", Message: fmt.Sprintf("no free address left in the service CIDR %s", a.cidr)})
				continue
			}
			ips[ip] = holder{key: k, obj: o}
			s := addr(ip).String()
			set(out, k, func(as *Assignment) { as.ClusterIP = s })
		}
		for _, p := range nodePortsWanted(o) {
			pk := PortKey(p)
			if out[k].NodePorts[pk] != 0 {
				continue
			}
			np, ok := a.freePort(k+"/"+pk, ports)
			if !ok {
				errs = append(errs, &manifest.Error{File: o.File, Line: o.Line, Field: "spec.ports.nodePort", Message: fmt.Sprintf("no free node port left in %d-%d", a.portMin, a.portMax)})
				continue
			}
			ports[np] = holder{key: k, obj: o, port: pk}
			set(out, k, func(as *Assignment) { as.NodePorts[pk] = np })
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	for k, as := range out {
		if len(as.NodePorts) == 0 {
			as.NodePorts = nil
			out[k] = as
		}
	}
	return out, nil
}

// Apply writes an assignment into a copy of the Service's spec, the way the
// API server fills spec.clusterIP and nodePort in Kubernetes.
func Apply(svc *corev1.Service, as Assignment) *corev1.Service {
	c := svc.DeepCopy()
	if c.Spec.ClusterIP != corev1.ClusterIPNone {
		c.Spec.ClusterIP = as.ClusterIP
	}
	if c.Spec.ClusterIP != "" {
		c.Spec.ClusterIPs = []string{c.Spec.ClusterIP}
	}
	for i := range c.Spec.Ports {
		if c.Spec.Type == corev1.ServiceTypeNodePort {
			c.Spec.Ports[i].NodePort = as.NodePorts[PortKey(c.Spec.Ports[i])]
		}
	}
	return c
}

func wantsIP(o *manifest.Object) bool { return o.Service.Spec.ClusterIP != corev1.ClusterIPNone }

func nodePortsWanted(o *manifest.Object) []corev1.ServicePort {
	if o.Service.Spec.Type != corev1.ServiceTypeNodePort {
		return nil
	}
	return o.Service.Spec.Ports
}

func hasPort(o *manifest.Object, pk string) bool {
	for _, p := range nodePortsWanted(o) {
		if PortKey(p) == pk {
			return true
		}
	}
	return false
}

func writtenNodePort(o *manifest.Object, pk string) int32 {
	for _, p := range nodePortsWanted(o) {
		if PortKey(p) == pk {
			return p.NodePort
		}
	}
	return 0
}

func set(t Table, k string, f func(*Assignment)) {
	as := t[k]
	if as.NodePorts == nil {
		as.NodePorts = map[string]int32{}
	}
	f(&as)
	t[k] = as
}

func (a *Allocator) freeIP(seed string, used map[uint32]holder) (uint32, bool) {
	n := a.last - a.first + 1
	start := hash(seed) % n
	for i := uint32(0); i < n; i++ {
		ip := a.first + (start+i)%n
		if _, ok := used[ip]; !ok {
			return ip, true
		}
	}
	return 0, false
}

func (a *Allocator) freePort(seed string, used map[int32]holder) (int32, bool) {
	n := uint32(a.portMax - a.portMin + 1)
	start := hash(seed) % n
	for i := uint32(0); i < n; i++ {
		p := a.portMin + int32((start+i)%n)
		if _, ok := used[p]; !ok {
			return p, true
		}
	}
	return 0, false
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func sortedKeys(t Table) []string {
	ks := make([]string, 0, len(t))
	for k := range t {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
