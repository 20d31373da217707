package xds

import (
	"fmt"
	"slices"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	gcpstream "github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/proto"

	pb "egret.dev/egret/internal/xds/configv1"
)

// cacheClient plays the go-control-plane server's part for one subscription: it opens watches and
// records the version map each response leaves it with.
type cacheClient struct {
	sub   gcpstream.Subscription
	out   chan cache.DeltaResponse
	nonce string
}

func newCacheClient(known map[string]string) *cacheClient {
	return &cacheClient{sub: gcpstream.NewDeltaSubscription(nil, nil, known, true), out: make(chan cache.DeltaResponse, 1)}
}

// next opens a watch and returns the names sent and removed, or nil, nil when the watch was parked.
func (c *cacheClient) next(t *testing.T, dc *deltaCache) (sent, removed []string, cancel func()) {
	t.Helper()
	cancel, err := dc.CreateDeltaWatch(&cache.DeltaRequest{TypeUrl: dc.typ, ResponseNonce: c.nonce}, &c.sub, c.out)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-c.out:
		return c.take(t, r), r.(*deltaResponse).removed, nil
	default:
		return nil, nil, cancel
	}
}

func (c *cacheClient) take(t *testing.T, r cache.DeltaResponse) []string {
	t.Helper()
	d, err := r.GetDeltaDiscoveryResponse()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, res := range d.Resources {
		names = append(names, res.Name)
	}
	slices.Sort(names)
	c.sub.SetReturnedResources(r.GetReturnedResources())
	c.nonce = "n"
	return names
}

func services(names ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, n := range names {
		out[n] = encode(&pb.ExternalService{Id: n, Hosts: []string{n + ".example.com"}})
	}
	return out
}

func encode(m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDeltaCache(t *testing.T) {
	dc := newDeltaCache(TypeExternalService)
	if err := dc.set(services("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	first := newCacheClient(nil)
	t.Run("a first wildcard request is sent everything", func(t *testing.T) {
		if sent, _, _ := first.next(t, dc); !slices.Equal(sent, []string{"a", "b", "c"}) {
			t.Fatalf("sent %v", sent)
		}
	})
	t.Run("an up-to-date proxy's watch waits, then gets only the change and the removal", func(t *testing.T) {
		if sent, _, cancel := first.next(t, dc); cancel == nil {
			t.Fatalf("answered at once with %v", sent)
		}
		next := services("a", "b", "d")
		next["a"] = encode(&pb.ExternalService{Id: "a", Hosts: []string{"changed.example.com"}})
		if err := dc.set(next); err != nil {
			t.Fatal(err)
		}
		r := <-first.out
		if sent, removed := first.take(t, r), r.(*deltaResponse).removed; !slices.Equal(sent, []string{"a", "d"}) || !slices.Equal(removed, []string{"c"}) {
			t.Fatalf("sent %v, removed %v", sent, removed)
		}
		// Proxies in step share the cache's version map instead of each holding a copy.
		if mapID(first.sub.ReturnedResources()) != mapID(dc.current) {
			t.Error("the proxy's version map is not the cache's")
		}
	})
	t.Run("a reconnecting proxy is sent only what differs from the versions it holds", func(t *testing.T) {
		held := map[string]string{}
		for k, v := range dc.current {
			held[k] = v
		}
		held["c"] = "old" // removed since
		delete(held, "d") // added since
		again := newCacheClient(held)
		sent, removed, _ := again.next(t, dc)
		if !slices.Equal(sent, []string{"d"}) || !slices.Equal(removed, []string{"c"}) {
			t.Fatalf("sent %v, removed %v", sent, removed)
		}
	})
	t.Run("a proxy more changes behind than the cache remembers is compared resource by resource", func(t *testing.T) {
		behind := newCacheClient(nil)
		behind.next(t, dc)
		for i := range recentMaps + 2 {
			if err := dc.set(services("a", "b", "d", fmt.Sprintf("x%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		sent, removed, _ := behind.next(t, dc)
		// a went back to its first content; x0…x8 came and went.
		if !slices.Equal(sent, []string{"a", fmt.Sprintf("x%d", recentMaps+1)}) || len(removed) != 0 {
			t.Fatalf("sent %v, removed %v", sent, removed)
		}
	})
	t.Run("an unchanged set sends nothing", func(t *testing.T) {
		c := newCacheClient(nil)
		c.next(t, dc)
		_, _, cancel := c.next(t, dc)
		if err := dc.set(services("a", "b", "d", fmt.Sprintf("x%d", recentMaps+1))); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-c.out:
			t.Fatalf("sent %v", c.take(t, r))
		default:
		}
		cancel()
	})
}
