package identity_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca/enrollproto"
	"egret.dev/egret/internal/identity"
)

var (
	idA = spiffeid.RequireFromString("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage")
	idB = spiffeid.RequireFromString("spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway")
)

func TestRotatesAtHalfLife(t *testing.T) {
	clk := newFakeClock()
	c, addr := startCA(t, clk, 24*time.Hour, nil)
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA), Clock: clk, BundleRefresh: -1}) // only rotation waits on the clock
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.ID() != idA {
		t.Fatalf("enrolled as %s, want %s", src.ID(), idA)
	}
	first := serial(t, src)
	svid, _ := src.GetX509SVID()
	if got := svid.Certificates[0].NotAfter.Sub(clk.Now()); got != 24*time.Hour {
		t.Fatalf("SVID lives %s from now, want 24h", got)
	}

	clk.waitForWaiter(t)
	clk.Advance(11 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	if serial(t, src) != first {
		t.Fatal("rotated before half life")
	}
	clk.Advance(time.Hour)
	waitForNewSerial(t, src, first)
	svid, _ = src.GetX509SVID()
	if got := svid.Certificates[0].NotAfter.Sub(clk.Now()); got != 24*time.Hour {
		t.Fatalf("renewed SVID lives %s from now, want 24h", got)
	}
	if svid.ID != idA {
		t.Fatalf("renewed as %s", svid.ID)
	}
}

func TestRenewalRetriesWithBackoff(t *testing.T) {
	clk := newFakeClock()
	var renewCalls, failuresLeft atomic.Int32
	failuresLeft.Store(2)
	flaky := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == enrollproto.PathRenew {
				renewCalls.Add(1)
				if failuresLeft.Add(-1) >= 0 {
					http.Error(w, "control plane restarting", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	c, addr := startCA(t, clk, 24*time.Hour, flaky)
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA), Clock: clk, BundleRefresh: -1}) // only rotation waits on the clock
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	first := serial(t, src)

	clk.waitForWaiter(t)
	clk.Advance(12 * time.Hour) // half life: first attempt fails
	clk.waitForWaiter(t)        // backing off 1s
	if renewCalls.Load() != 1 || serial(t, src) != first {
		t.Fatalf("after first failure: %d calls", renewCalls.Load())
	}
	clk.Advance(time.Second) // second attempt fails
	clk.waitForWaiter(t)     // backing off 2s
	if renewCalls.Load() != 2 {
		t.Fatalf("after second failure: %d calls", renewCalls.Load())
	}
	clk.Advance(time.Second)
	time.Sleep(50 * time.Millisecond)
	if renewCalls.Load() != 2 {
		t.Fatal("backoff did not double")
	}
	clk.Advance(time.Second)
	waitForNewSerial(t, src, first)
	if renewCalls.Load() != 3 {
		t.Fatalf("%d renew calls, want 3", renewCalls.Load())
	}
}

func TestEnrollAttacks(t *testing.T) {
	clk := newFakeClock()
	var requests atomic.Int32
	counting := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			next.ServeHTTP(w, r)
		})
	}
	c, addr := startCA(t, clk, time.Hour, counting)

	t.Run("a token used twice", func(t *testing.T) {
		tok := token(t, c, idA)
		src, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: tok, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		_, err = identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: tok, Clock: clk})
		var re *identity.RefusedError
		if !errors.As(err, &re) || re.Code != enrollproto.CodeTokenRejected {
			t.Fatalf("second enrollment: %v, want %s", err, enrollproto.CodeTokenRejected)
		}
	})
	t.Run("a server that does not hold the pinned root gets no token", func(t *testing.T) {
		tok, _ := enrollproto.ParseToken(token(t, c, idA))
		tok.RootHash = strings.Repeat("ab", 32)
		before := requests.Load()
		_, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: tok.Encode(), Clock: clk})
		if err == nil || !strings.Contains(err.Error(), "pinned") {
			t.Fatalf("enrollment against an unpinned server: %v", err)
		}
		if requests.Load() != before {
			t.Fatal("the token was sent to a server that failed the pin")
		}
	})
	t.Run("a malformed token is refused locally", func(t *testing.T) {
		_, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: "not-a-token", Clock: clk})
		if !errors.Is(err, enrollproto.ErrMalformedToken) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestResumesFromDataDir(t *testing.T) {
	clk := newFakeClock()
	c, addr := startCA(t, clk, 24*time.Hour, nil)
	dir := t.TempDir()
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA), Clock: clk, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first := serial(t, src)
	src.Close()
	// Restart with a spent token: the saved SVID must be enough.
	again, err := identity.NewClientSource(context.Background(), identity.Params{Address: addr, Token: "spent", Clock: clk, DataDir: dir})
	if err != nil {
		t.Fatalf("restart with a saved SVID: %v", err)
	}
	defer again.Close()
	if serial(t, again) != first {
		t.Fatal("restart did not reuse the saved SVID")
	}
	clk.waitForWaiter(t)
	clk.Advance(12 * time.Hour)
	waitForNewSerial(t, again, first)
}
