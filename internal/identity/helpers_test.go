package identity_test

import (
	"crypto/tls"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/identity"
)

// fakeClock drives rotation in tests: After channels fire only when Advance passes their deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waitForWaiter blocks until some goroutine is sleeping on the clock.
func (c *fakeClock) waitForWaiter(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("nothing waited on the clock")
}

// startCA runs a CA enrollment server on loopback; wrap may interpose on the handler.
func startCA(t *testing.T, clk ca.Clock, ttl time.Duration, wrap func(http.Handler) http.Handler) (*ca.CA, string) {
	t.Helper()
	c, err := ca.New(ca.Params{DataDir: t.TempDir(), Clock: clk, SVIDTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ServerTLSConfig(ca.ServerTLSParams{TrustDomain: spiffeid.RequireTrustDomainFromString("cluster1"), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = ca.NewEnrollHandler(c)
	if wrap != nil {
		h = wrap(h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c, ln.Addr().String()
}

func token(t *testing.T, c *ca.CA, id spiffeid.ID) string {
	t.Helper()
	tok, err := c.Tokens().Create(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Encode()
}

func serial(t *testing.T, src identity.Source) string {
	t.Helper()
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	return svid.Certificates[0].SerialNumber.String()
}

// waitForNewSerial polls until src holds a certificate other than old.
func waitForNewSerial(t *testing.T, src identity.Source, old string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := serial(t, src); s != old {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the SVID was not rotated")
	return ""
}
