package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server answers cluster names from its Zone and forwards the rest.
type Server struct {
	zone      atomic.Pointer[Zone]
	upstreams []string // host:port
	udp, tcp  *dns.Client

	mu      sync.Mutex
	servers []*dns.Server
}

// NewServer returns a server with an empty zone for domain, forwarding to
// upstreams (host:port; usually Upstreams of the node's resolv.conf).
func NewServer(domain string, upstreams []string) *Server {
	s := &Server{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", Timeout: 2 * time.Second},
		tcp:       &dns.Client{Net: "tcp", Timeout: 2 * time.Second},
	}
	s.zone.Store(Build(domain, nil, nil))
	return s
}

// Update swaps in a new zone; queries in flight finish on the old one.
func (s *Server) Update(z *Zone) { s.zone.Store(z) }

// Upstreams reads the name servers of a resolv.conf, leaving out the
// cluster DNS address itself (a loop).
func Upstreams(resolvConf []byte, self string) []string {
	var out []string
	for _, line := range strings.Split(string(resolvConf), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && f[1] != self {
			out = append(out, net.JoinHostPort(f[1], "53"))
		}
	}
	return out
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotImplemented)
		w.WriteMsg(m)
		return
	}
	a := s.zone.Load().Answer(r.Question[0])
	if !a.Mine {
		w.WriteMsg(s.forward(r, w.RemoteAddr().Network()))
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	m.Rcode = a.Rcode
	m.Answer = a.Answer
	m.Extra = a.Extra
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if w.RemoteAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// forward asks each upstream in turn over the client's transport. With
// no upstream answering, the client gets SERVFAIL.
func (s *Server) forward(r *dns.Msg, network string) *dns.Msg {
	for _, up := range s.upstreams {
		c := s.udp
		if network == "tcp" {
			c = s.tcp
		}
		// A truncated answer goes back as it is: the client asks again
		// over TCP, and so do we.
		resp, _, err := c.Exchange(r, up)
		if err == nil {
			resp.Id = r.Id
			return resp
		}
	}
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	return m
}

// Start serves on addr (host:port) over UDP and TCP until Shutdown. It
// returns once both listeners are open, or the first error.
func (s *Server) Start(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("cluster DNS: %w", err)
	}
	s.StartOn(pc, l)
	return nil
}

// StartOn serves on listeners the caller opened (for example inside
// another network namespace).
func (s *Server) StartOn(pc net.PacketConn, l net.Listener) {
	var started sync.WaitGroup
	started.Add(2)
	us := &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: started.Done}
	ts := &dns.Server{Listener: l, Handler: s, NotifyStartedFunc: started.Done}
	s.mu.Lock()
	s.servers = append(s.servers, us, ts)
	s.mu.Unlock()
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	started.Wait() // so a Shutdown right after finds them running
}

// Shutdown stops every listener.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
