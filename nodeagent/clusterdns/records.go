package clusterdns

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// DefaultDomain is the cluster domain, as in Kubernetes.
const DefaultDomain = "cluster.local"

// TTL of every cluster answer, CoreDNS's default.
const TTL = 5

// Zone answers for the cluster's names. It is immutable once built.
type Zone struct {
	domain string // "cluster.local." (lower case, fully qualified)
	// records by owner name (lower case, fully qualified), A and SRV.
	records map[string][]dns.RR
	// ptr maps a reverse name to the names it points to.
	ptr map[string][]string
	// between holds the names that exist only because names below them do.
	between map[string]bool
}

// Build indexes Services (with their allocated clusterIP) and their
// EndpointSlices under domain.
func Build(domain string, svcs []corev1.Service, slices []discoveryv1.EndpointSlice) *Zone {
	z := &Zone{domain: dns.Fqdn(strings.ToLower(domain)), records: map[string][]dns.RR{}, ptr: map[string][]string{}, between: map[string]bool{}}
	bySvc := map[string][]discoveryv1.EndpointSlice{}
	for _, s := range slices {
		k := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
		bySvc[k] = append(bySvc[k], s)
	}
	for i := range svcs {
		z.addService(&svcs[i], bySvc[svcs[i].Namespace+"/"+svcs[i].Name])
	}
	for name, rrs := range z.records {
		sort.Slice(rrs, func(i, j int) bool { return rrs[i].String() < rrs[j].String() })
		z.records[name] = dedupe(rrs)
	}
	for name := range z.records {
		for n := name; n != z.domain; {
			_, parent, ok := strings.Cut(n, ".")
			if !ok || parent == "" {
				break
			}
			n = parent
			z.between[n] = true
		}
	}
	for name, t := range z.ptr {
		sort.Strings(t)
		z.ptr[name] = t
	}
	return z
}

func dedupe(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for i, r := range rrs {
		if i == 0 || r.String() != rrs[i-1].String() {
			out = append(out, r)
		}
	}
	return out
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

func (z *Zone) add(rr dns.RR) {
	n := rr.Header().Name
	z.records[n] = append(z.records[n], rr)
}

func (z *Zone) addA(name string, ip netip.Addr, ptr bool) {
	z.add(&dns.A{Hdr: hdr(name, dns.TypeA), A: net.IP(ip.AsSlice())})
	if ptr {
		rev, _ := dns.ReverseAddr(ip.String())
		z.ptr[rev] = append(z.ptr[rev], name)
	}
}

func (z *Zone) addService(svc *corev1.Service, slices []discoveryv1.EndpointSlice) {
	svcName := strings.ToLower(fmt.Sprintf("%s.%s.svc.%s", svc.Name, svc.Namespace, z.domain))
	// The Service's name exists even with no address to give.
	if _, ok := z.records[svcName]; !ok {
		z.records[svcName] = nil
	}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
		z.addA(svcName, ip, true)
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			z.add(&dns.SRV{Hdr: hdr(srvName(p.Name, p.Protocol, svcName), dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: svcName})
		}
		return
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return // not allocated yet
	}
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				continue
			}
			host := strings.ReplaceAll(ip.String(), ".", "-")
			if e.Hostname != nil && *e.Hostname != "" {
				host = strings.ToLower(*e.Hostname)
			}
			epName := host + "." + svcName
			z.addA(svcName, ip, false)
			z.addA(epName, ip, true)
			for _, p := range s.Ports {
				if p.Name == nil || *p.Name == "" || p.Port == nil {
					continue
				}
				proto := corev1.ProtocolTCP
				if p.Protocol != nil {
					proto = *p.Protocol
				}
				z.add(&dns.SRV{Hdr: hdr(srvName(*p.Name, proto, svcName), dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(*p.Port), Target: epName})
			}
		}
	}
}

func srvName(port string, proto corev1.Protocol, svcName string) string {
	return strings.ToLower(fmt.Sprintf("_%s._%s.%s", port, proto, svcName))
}

// Answer is what the zone says about one question.
type Answer struct {
	// Mine is false when the name is not the cluster's: forward it.
	Mine   bool
	Rcode  int
	Answer []dns.RR
	// Extra holds the A records of SRV targets.
	Extra []dns.RR
}

// Answer looks q up. Names under the domain are the zone's: an unknown one
// is NXDOMAIN, a known one without records of the asked type is an empty
// NOERROR. Reverse names are the zone's only when it knows them.
func (z *Zone) Answer(q dns.Question) Answer {
	name := strings.ToLower(dns.Fqdn(q.Name))
	if q.Qtype == dns.TypePTR || strings.HasSuffix(name, ".in-addr.arpa.") {
		targets, ok := z.ptr[name]
		if !ok {
			return Answer{}
		}
		var a Answer
		a.Mine, a.Rcode = true, dns.RcodeSuccess
		if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
			for _, t := range targets {
				a.Answer = append(a.Answer, &dns.PTR{Hdr: hdr(q.Name, dns.TypePTR), Ptr: t})
			}
		}
		return a
	}
	if name != z.domain && !strings.HasSuffix(name, "."+z.domain) {
		return Answer{}
	}
	a := Answer{Mine: true, Rcode: dns.RcodeSuccess}
	if ip, ok := z.podAddress(name); ok {
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			a.Answer = []dns.RR{&dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.IP(ip.AsSlice())}}
		}
		return a
	}
	rrs, ok := z.records[name]
	if !ok {
		if !z.hasBelow(name) {
			a.Rcode = dns.RcodeNameError
		}
		return a
	}
	for _, rr := range rrs {
		if q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype {
			c := dns.Copy(rr)
			c.Header().Name = q.Name // keep the asker's case
			a.Answer = append(a.Answer, c)
			if srv, ok := rr.(*dns.SRV); ok {
				for _, t := range z.records[srv.Target] {
					if t.Header().Rrtype == dns.TypeA {
						a.Extra = append(a.Extra, t)
					}
				}
			}
		}
	}
	return a
}

// hasBelow reports whether name is an empty non-terminal (svc.cluster.local,
// ns.svc.cluster.local, _port._tcp...): NOERROR without records, as RFC 8020
// wants, instead of NXDOMAIN.
func (z *Zone) hasBelow(name string) bool { return name == z.domain || z.between[name] }

// podAddress reads a-b-c-d.<ns>.pod.<domain>.
func (z *Zone) podAddress(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".pod."+z.domain)
	if !ok {
		return netip.Addr{}, false
	}
	label, ns, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || strings.Contains(ns, ".") {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}
