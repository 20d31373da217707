package resolve

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// dnsServer is a real miekg/dns server on 127.0.0.1, UDP and TCP on the
// same port, answering from a per-test zone.
type dnsServer struct {
	addr    string
	mu      sync.Mutex
	zone    map[string][]dns.RR // fqdn → answer records (all types; filtered by qtype)
	nx      map[string]bool
	fail    map[string]int  // fqdn → rcode to answer
	trunc   map[string]bool // answer truncated over UDP
	queries map[string]int  // "udp A www.example.com." → count
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{zone: map[string][]dns.RR{}, nx: map[string]bool{}, fail: map[string]int{}, trunc: map[string]bool{}, queries: map[string]int{}}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 { // the TCP port must match the UDP one; retry if taken
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	s.addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	var started sync.WaitGroup
	started.Add(2)
	udp.NotifyStartedFunc = started.Done
	tcp.NotifyStartedFunc = started.Done
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	started.Wait()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return s
}

func (s *dnsServer) add(rr string) {
	r, err := dns.NewRR(rr)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := dns.CanonicalName(r.Header().Name)
	s.zone[name] = append(s.zone[name], r)
}

func (s *dnsServer) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

func (s *dnsServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	network := w.RemoteAddr().Network()
	s.mu.Lock()
	s.queries[network+" "+dns.TypeToString[q.Qtype]+" "+name]++
	m := new(dns.Msg)
	m.SetReply(req)
	switch {
	case s.nx[name]:
		m.Rcode = dns.RcodeNameError
	case s.fail[name] != 0:
		m.Rcode = s.fail[name]
	case s.trunc[name] && network == "udp":
		m.Truncated = true
	default:
		// Follow CNAMEs in our own zone, as a recursive server would.
		for n := name; n != ""; {
			next := ""
			for _, rr := range s.zone[n] {
				if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
					m.Answer = append(m.Answer, dns.Copy(rr))
				}
				if c, ok := rr.(*dns.CNAME); ok {
					next = strings.ToLower(c.Target)
				}
			}
			n = next
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}
