package clusterdns

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func testZone() *Zone {
	svcs := []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "backend"}, Spec: corev1.ServiceSpec{ClusterIP: "198.19.0.20",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pg"}, Spec: corev1.ServiceSpec{ClusterIP: "None",
			Ports: []corev1.ServicePort{{Name: "sql", Port: 5432, Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "empty"}, Spec: corev1.ServiceSpec{ClusterIP: "None"}},
	}
	slices := []discoveryv1.EndpointSlice{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pg-1", Labels: map[string]string{discoveryv1.LabelServiceName: "pg"}},
		Ports:      []discoveryv1.EndpointPort{{Name: ptr("sql"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(5432))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"198.18.1.5"}, Hostname: ptr("pg-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"198.18.2.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"198.18.2.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}}
	return Build(DefaultDomain, svcs, slices)
}

func TestZoneAnswers(t *testing.T) {
	z := testZone()
	tests := []struct {
		name  string
		qname string
		qtype uint16
		mine  bool
		rcode int
		want  []string // the answers' data, sorted
	}{
		{name: "ClusterIP", qname: "backend.default.svc.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.19.0.20"}},
		{name: "case does not matter", qname: "Backend.Default.SVC.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.19.0.20"}},
		{name: "headless: ready endpoints only", qname: "pg.db.svc.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.18.1.5", "198.18.2.6"}},
		{name: "headless endpoint by hostname", qname: "pg-0.pg.db.svc.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.18.1.5"}},
		{name: "headless endpoint by dashed IP", qname: "198-18-2-6.pg.db.svc.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.18.2.6"}},
		{name: "SRV of a ClusterIP port", qname: "_http._tcp.backend.default.svc.cluster.local.", qtype: dns.TypeSRV, mine: true, want: []string{"0 100 80 backend.default.svc.cluster.local."}},
		{name: "SRV of a UDP port", qname: "_dns._udp.backend.default.svc.cluster.local.", qtype: dns.TypeSRV, mine: true, want: []string{"0 100 53 backend.default.svc.cluster.local."}},
		{name: "SRV of a headless port: one per endpoint", qname: "_sql._tcp.pg.db.svc.cluster.local.", qtype: dns.TypeSRV, mine: true,
			want: []string{"0 100 5432 198-18-2-6.pg.db.svc.cluster.local.", "0 100 5432 pg-0.pg.db.svc.cluster.local."}},
		{name: "PTR of a ClusterIP", qname: "20.0.19.198.in-addr.arpa.", qtype: dns.TypePTR, mine: true, want: []string{"backend.default.svc.cluster.local."}},
		{name: "PTR of a headless endpoint", qname: "5.1.18.198.in-addr.arpa.", qtype: dns.TypePTR, mine: true, want: []string{"pg-0.pg.db.svc.cluster.local."}},
		{name: "pod A record", qname: "198-18-1-9.default.pod.cluster.local.", qtype: dns.TypeA, mine: true, want: []string{"198.18.1.9"}},
		{name: "headless Service without endpoints exists", qname: "empty.default.svc.cluster.local.", qtype: dns.TypeA, mine: true},
		{name: "a known name, other type: NODATA", qname: "backend.default.svc.cluster.local.", qtype: dns.TypeAAAA, mine: true},
		{name: "a namespace is an empty non-terminal", qname: "default.svc.cluster.local.", qtype: dns.TypeA, mine: true},
		{name: "an unknown Service is NXDOMAIN", qname: "nope.default.svc.cluster.local.", qtype: dns.TypeA, mine: true, rcode: dns.RcodeNameError},
		{name: "search-path miss is NXDOMAIN", qname: "backend.default.svc.cluster.local.default.svc.cluster.local.", qtype: dns.TypeA, mine: true, rcode: dns.RcodeNameError},
		{name: "other names are forwarded", qname: "example.org.", qtype: dns.TypeA, mine: false},
		{name: "unknown reverse names are forwarded", qname: "1.0.0.127.in-addr.arpa.", qtype: dns.TypePTR, mine: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := z.Answer(dns.Question{Name: tt.qname, Qtype: tt.qtype, Qclass: dns.ClassINET})
			if a.Mine != tt.mine || a.Rcode != tt.rcode {
				t.Fatalf("mine=%v rcode=%s, want mine=%v rcode=%s", a.Mine, dns.RcodeToString[a.Rcode], tt.mine, dns.RcodeToString[tt.rcode])
			}
			var got []string
			for _, rr := range a.Answer {
				if rr.Header().Name != tt.qname {
					t.Errorf("owner %q, want the asked name %q", rr.Header().Name, tt.qname)
				}
				f := strings.Fields(rr.String())
				got = append(got, strings.Join(f[4:], " "))
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answers %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSRVCarriesTargetAddresses(t *testing.T) {
	a := testZone().Answer(dns.Question{Name: "_sql._tcp.pg.db.svc.cluster.local.", Qtype: dns.TypeSRV, Qclass: dns.ClassINET})
	if len(a.Extra) != 2 {
		t.Fatalf("want the two targets' A records in the additional section, got %v", a.Extra)
	}
}
