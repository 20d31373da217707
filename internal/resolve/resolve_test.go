package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeClock is advanced by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newResolver(s *dnsServer, clk *fakeClock, o Options) *Resolver {
	o.Server = s.addr
	o.Now = clk.Now
	o.Timeout = 5 * time.Second
	return New(o)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func sorted(a []netip.Addr) []netip.Addr {
	a = slices.Clone(a)
	slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
	return a
}

func TestResolvesAAndAAAA(t *testing.T) {
	s := startDNS(t)
	s.add("api.example.com. 60 IN A 93.184.216.34")
	s.add("api.example.com. 60 IN AAAA 2606:2800:220:1:248:1893:25c8:1946")
	s.add("v4only.example.com. 60 IN A 93.184.216.35")
	s.add("alias.example.com. 60 IN CNAME api.example.com.")
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	tests := []struct {
		host string
		want []netip.Addr
	}{
		{"api.example.com", addrs("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")},
		{"API.Example.com.", addrs("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")},
		{"v4only.example.com", addrs("93.184.216.35")},
		{"alias.example.com", addrs("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), tt.host, Lookup{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTTLIsRespectedAndClamped(t *testing.T) {
	tests := []struct {
		name      string
		ttl       int
		opts      Options
		fresh     time.Duration // still cached after this
		refetched time.Duration // queried again after this
	}{
		{"answer TTL", 30, Options{MinTTL: time.Second, MaxTTL: time.Hour}, 29 * time.Second, 31 * time.Second},
		{"raised to MinTTL", 1, Options{MinTTL: 10 * time.Second, MaxTTL: time.Hour}, 9 * time.Second, 11 * time.Second},
		{"TTL 0 raised to MinTTL", 0, Options{MinTTL: 5 * time.Second}, 4 * time.Second, 6 * time.Second},
		{"lowered to MaxTTL", 86400, Options{MinTTL: time.Second, MaxTTL: 300 * time.Second}, 299 * time.Second, 301 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startDNS(t)
			s.add(fmt.Sprintf("ttl.example.com. %d IN A 93.184.216.34", tt.ttl))
			clk := &fakeClock{now: time.Unix(1e9, 0)}
			r := newResolver(s, clk, tt.opts)
			resolve := func() {
				t.Helper()
				if _, err := r.Resolve(context.Background(), "ttl.example.com", Lookup{}); err != nil {
					t.Fatal(err)
				}
			}
			resolve()
			clk.Advance(tt.fresh)
			resolve()
			if n := s.count("udp A ttl.example.com."); n != 1 {
				t.Fatalf("after %v: %d queries, want 1 (cached)", tt.fresh, n)
			}
			clk.Advance(tt.refetched - tt.fresh)
			resolve()
			if n := s.count("udp A ttl.example.com."); n != 2 {
				t.Fatalf("after %v: %d queries, want 2 (expired)", tt.refetched, n)
			}
		})
	}
}

func TestCNAMEChainUsesSmallestTTL(t *testing.T) {
	s := startDNS(t)
	s.add("www.example.com. 10 IN CNAME cdn.example.net.")
	s.add("cdn.example.net. 600 IN A 93.184.216.34")
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	r := newResolver(s, clk, Options{MinTTL: time.Second})
	for range 2 {
		if _, err := r.Resolve(context.Background(), "www.example.com", Lookup{}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(11 * time.Second)
	}
	if n := s.count("udp A www.example.com."); n != 2 {
		t.Errorf("%d queries, want 2: the CNAME's 10 s TTL bounds the chain", n)
	}
}

func TestSSRFGuardOnDNSAnswers(t *testing.T) {
	tests := []struct {
		name, rr  string
		allow     []netip.Prefix
		wantRange string // "" = allowed
	}{
		{"private 10/8", "A 10.1.2.3", nil, "private range 10.0.0.0/8"},
		{"private 172.16/12", "A 172.20.0.1", nil, "private range 172.16.0.0/12"},
		{"private 192.168/16", "A 192.168.1.1", nil, "private range 192.168.0.0/16"},
		{"loopback", "A 127.0.0.1", nil, "loopback range 127.0.0.0/8"},
		{"cloud metadata", "A 169.254.169.254", nil, "cloud metadata range 169.254.169.254/32"},
		{"IPv6 cloud metadata", "AAAA fd00:ec2::254", nil, "cloud metadata range fd00:ec2::254/128"},
		{"link-local", "A 169.254.10.1", nil, "link-local range 169.254.0.0/16"},
		{"CGNAT", "A 100.64.0.1", nil, "CGNAT range 100.64.0.0/10"},
		{"unique local IPv6", "AAAA fd12::1", nil, "private range fc00::/7"},
		{"IPv4-mapped private in AAAA", "AAAA ::ffff:10.0.0.1", nil, "private range 10.0.0.0/8"},
		{"NAT64-embedded metadata", "AAAA 64:ff9b::a9fe:a9fe", nil, "cloud metadata (embedded in NAT64/IPv4-compatible) range 169.254.169.254/32"},
		{"allowed by an exact address", "A 10.1.2.3", []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32")}, ""},
		{"allowed by a prefix", "A 10.1.2.3", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ""},
		{"allow list does not cover a neighbour", "A 10.1.2.4", []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32")}, "private range 10.0.0.0/8"},
		{"public address passes", "A 93.184.216.34", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startDNS(t)
			s.add("target.example.com. 60 IN " + tt.rr)
			r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
			got, err := r.Resolve(context.Background(), "target.example.com", Lookup{Allow: tt.allow})
			if tt.wantRange == "" {
				if err != nil || len(got) != 1 {
					t.Fatalf("got %v, %v; want the address", got, err)
				}
				return
			}
			var blockedErr *BlockedError
			if !errors.As(err, &blockedErr) {
				t.Fatalf("got %v, %v; want *BlockedError", got, err)
			}
			addr := strings.Fields(tt.rr)[1]
			if !strings.Contains(err.Error(), "answered "+netip.MustParseAddr(addr).String()+", in the "+tt.wantRange) ||
				!strings.Contains(err.Error(), "target.example.com") {
				t.Errorf("error %q should name the host, %s and the %s", err, addr, tt.wantRange)
			}
		})
	}
}

func TestMixedAnswerIsRefusedWhole(t *testing.T) {
	s := startDNS(t)
	s.add("rebind.example.com. 60 IN A 93.184.216.34")
	s.add("rebind.example.com. 60 IN A 127.0.0.1")
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	_, err := r.Resolve(context.Background(), "rebind.example.com", Lookup{})
	var blockedErr *BlockedError
	if !errors.As(err, &blockedErr) || blockedErr.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("err = %v, want the loopback address refused", err)
	}
}

func TestStaticAddressesSkipDNSAndGuard(t *testing.T) {
	s := startDNS(t)
	s.nx["api.example.com."] = true
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	got, err := r.Resolve(context.Background(), "api.example.com", Lookup{Static: addrs("127.0.0.1", "10.0.0.7")})
	if err != nil || !slices.Equal(got, addrs("127.0.0.1", "10.0.0.7")) {
		t.Fatalf("got %v, %v", got, err)
	}
	if n := s.count("udp A api.example.com."); n != 0 {
		t.Errorf("DNS was asked %d times for a host with static endpoints", n)
	}
}

func TestIPLiteralHosts(t *testing.T) {
	r := New(Options{Server: "127.0.0.1:1"}) // never contacted
	if _, err := r.Resolve(context.Background(), "169.254.169.254", Lookup{}); err == nil {
		t.Error("metadata literal was not refused")
	}
	got, err := r.Resolve(context.Background(), "10.0.0.1", Lookup{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}})
	if err != nil || !slices.Equal(got, addrs("10.0.0.1")) {
		t.Errorf("allowed literal: %v, %v", got, err)
	}
	got, err = r.Resolve(context.Background(), "93.184.216.34", Lookup{})
	if err != nil || !slices.Equal(got, addrs("93.184.216.34")) {
		t.Errorf("public literal: %v, %v", got, err)
	}
}

func TestDNSErrors(t *testing.T) {
	s := startDNS(t)
	s.nx["missing.example.com."] = true
	s.fail["broken.example.com."] = dns.RcodeServerFailure
	s.add("mx-only.example.com. 60 IN MX 10 mail.example.com.")
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	tests := []struct {
		host     string
		notFound bool
		contains string
	}{
		{"missing.example.com", true, "resolve missing.example.com: no such host (NXDOMAIN from " + s.addr + ")"},
		{"mx-only.example.com", true, "no A or AAAA record"},
		{"broken.example.com", false, "answered SERVFAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			_, err := r.Resolve(context.Background(), tt.host, Lookup{})
			if err == nil || errors.Is(err, ErrNotFound) != tt.notFound || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("err = %v; want ErrNotFound=%v and %q", err, tt.notFound, tt.contains)
			}
		})
	}
	// Errors are not cached: the record appearing is seen at once.
	s.mu.Lock()
	delete(s.nx, "missing.example.com.")
	s.mu.Unlock()
	s.add("missing.example.com. 60 IN A 93.184.216.34")
	if _, err := r.Resolve(context.Background(), "missing.example.com", Lookup{}); err != nil {
		t.Errorf("after the record was added: %v", err)
	}
}

func TestTruncatedUDPFallsBackToTCP(t *testing.T) {
	s := startDNS(t)
	s.trunc["big.example.com."] = true
	for i := range 40 {
		s.add(fmt.Sprintf("big.example.com. 60 IN A 93.184.%d.%d", i/250, i%250+1))
	}
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	got, err := r.Resolve(context.Background(), "big.example.com", Lookup{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Errorf("got %d addresses, want 40", len(got))
	}
	if s.count("udp A big.example.com.") != 1 || s.count("tcp A big.example.com.") != 1 {
		t.Errorf("queries: udp %d, tcp %d; want one of each", s.count("udp A big.example.com."), s.count("tcp A big.example.com."))
	}
}

func TestUnreachableServer(t *testing.T) {
	s := startDNS(t)
	addr := s.addr
	r := New(Options{Server: addr, Timeout: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Resolve(ctx, "api.example.com", Lookup{}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("cancelled lookup: %v", err)
	}
}

func TestSystemResolver(t *testing.T) {
	r := New(Options{})
	_, err := r.Resolve(context.Background(), "localhost", Lookup{})
	var blockedErr *BlockedError
	if !errors.As(err, &blockedErr) || blockedErr.Range != "loopback" {
		t.Fatalf("localhost via the system resolver: %v; want refused as loopback", err)
	}
	got, err := r.Resolve(context.Background(), "localhost", Lookup{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	if err != nil || len(got) == 0 {
		t.Errorf("allowed localhost: %v, %v", got, err)
	}
}

func TestConcurrentLookupsShareOneQuery(t *testing.T) {
	s := startDNS(t)
	s.add("busy.example.com. 60 IN A 93.184.216.34")
	r := newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Resolve(context.Background(), "busy.example.com", Lookup{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.count("udp A busy.example.com."); n != 1 {
		t.Errorf("%d queries for 20 concurrent lookups, want 1", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	s := startDNS(t)
	for i := range 10 {
		s.add(fmt.Sprintf("h%d.example.com. 60 IN A 93.184.216.%d", i, i+1))
	}
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	r := newResolver(s, clk, Options{MaxEntries: 4})
	for i := range 10 {
		if _, err := r.Resolve(context.Background(), fmt.Sprintf("h%d.example.com", i), Lookup{}); err != nil {
			t.Fatal(err)
		}
		if n := r.cached(); n > 4 {
			t.Fatalf("cache holds %d entries, limit 4", n)
		}
	}
	// The most recent answer is always kept.
	r.Resolve(context.Background(), "h9.example.com", Lookup{})
	if n := s.count("udp A h9.example.com."); n != 1 {
		t.Errorf("h9 queried %d times, want 1 (just cached)", n)
	}
}
