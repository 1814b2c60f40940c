package clusterdns

import (
	"context"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// startOnLoopback serves s on a free port of 127.0.0.1 and returns it.
func startOnLoopback(t testing.TB, h dns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	switch s := h.(type) {
	case *Server:
		s.StartOn(pc, l)
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	default:
		us, ts := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
		go us.ActivateAndServe()
		go ts.ActivateAndServe()
		t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// TestServerOverTheWire asks a running server over UDP and TCP, for a
// cluster name and for a name it must forward to an upstream server.
func TestServerOverTheWire(t *testing.T) {
	upstream := startOnLoopback(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "example.org." {
			rr, _ := dns.NewRR("example.org. 60 IN A 198.18.200.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	}))
	s := NewServer(DefaultDomain, []string{upstream})
	s.Update(testZone())
	addr := startOnLoopback(t, s)

	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network}
		for _, q := range []struct {
			name  string
			qtype uint16
			rcode int
			want  string
		}{
			{name: "backend.default.svc.cluster.local.", qtype: dns.TypeA, want: "198.19.0.20"},
			{name: "_sql._tcp.pg.db.svc.cluster.local.", qtype: dns.TypeSRV, want: "pg-0.pg.db.svc.cluster.local."},
			{name: "20.0.19.198.in-addr.arpa.", qtype: dns.TypePTR, want: "backend.default.svc.cluster.local."},
			{name: "example.org.", qtype: dns.TypeA, want: "198.18.200.1"},
			{name: "missing.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Fatalf("%s %s: %v", network, q.name, err)
			}
			if r.Rcode != q.rcode {
				t.Errorf("%s %s: rcode %s, want %s", network, q.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[q.rcode])
			}
			found := q.want == ""
			for _, rr := range r.Answer {
				switch v := rr.(type) {
				case *dns.A:
					found = found || v.A.String() == q.want
				case *dns.SRV:
					found = found || v.Target == q.want
				case *dns.PTR:
					found = found || v.Ptr == q.want
				}
			}
			if !found {
				t.Errorf("%s %s: answer %v lacks %s", network, q.name, r.Answer, q.want)
			}
		}
	}
}

func TestServerWithoutUpstreamFailsCleanly(t *testing.T) {
	s := NewServer(DefaultDomain, nil)
	addr := startOnLoopback(t, s)
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	r, err := dns.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("want SERVFAIL, got %v %v", r, err)
	}
}

func TestUpstreams(t *testing.T) {
	got := Upstreams([]byte("nameserver 198.19.0.10\nnameserver 198.18.0.1\n# c\n"), "198.19.0.10")
	if len(got) != 1 || got[0] != "198.18.0.1:53" {
		t.Fatalf("got %v", got)
	}
}
