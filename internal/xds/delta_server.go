package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	delta "github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/ir"
)

// ProtocolXDS names the delta ADS transport in status.
const ProtocolXDS = "xds-delta/v3"

// ADSPath is the gRPC service path prefix the control plane routes to the DeltaServer.
const ADSPath = "/envoy.service.discovery.v3.AggregatedDiscoveryService/"

// DeltaServer serves egret's resources over delta ADS (go-control-plane). Sidecars share one cache per
// type; each gateway has its own caches (its listeners, services, routes and policies). A proxy's node id
// and cluster are taken from its verified SVID, never from what it sends, and it is served only the
// caches of that identity.
type DeltaServer struct {
	log  *slog.Logger
	grpc *grpc.Server
	sent atomic.Int64 // bytes of responses sent (their protobuf size)

	updating sync.Mutex                                 // one Update at a time; guards memo
	memo     map[string]map[string]map[string]memoEntry // the last plan's resource inputs and encodings, by gateway id ("" for sidecars), type, name

	mu       sync.Mutex
	known    map[string]proxyRef               // by SPIFFE ID
	sidecars map[string]*deltaCache            // by type
	gateways map[string]map[string]*deltaCache // by gateway id, type
	streams  map[int64]*deltaStream
	gone     map[string]ProxyStatus // disconnected proxies' last status, by identity
}

type proxyRef struct {
	kind, name, cluster, gatewayID string
}

type deltaStream struct {
	identity string
	ref      proxyRef
	expiry   time.Time
	lastSeen time.Time
	types    map[string]*TypeStatus
	subbed   map[string]bool
}

// TypeStatus is one resource type's state on one proxy: the nonce last sent and the version it carried
// (a digest of the type's resources and versions, so equal contents have equal versions whichever
// control plane serves them), the nonce last acknowledged and the version that was, and the last NACK's
// error.
type TypeStatus struct {
	Type         string `json:"type"`
	Version      string `json:"version,omitempty"`
	Sent         string `json:"sent,omitempty"`
	Acked        string `json:"acked,omitempty"`
	AckedVersion string `json:"ackedVersion,omitempty"`
	Nack         string `json:"nack,omitempty"`

	inflight map[string]string // versions of the nonces sent and not yet answered
}

// State is SYNCED, NACKED or STALE, as for a whole proxy.
func (t TypeStatus) State() string {
	switch {
	case t.Nack != "":
		return "NACKED"
	case t.Sent != "" && t.Sent == t.Acked:
		return "SYNCED"
	default:
		return "STALE"
	}
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// resumed stands for the nonce of a type a reconnecting proxy already held.
const resumed = "(held)"

// NewDeltaServer returns a server with no resources; call Update with each plan.
func NewDeltaServer(log *slog.Logger) *DeltaServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DeltaServer{log: log, known: map[string]proxyRef{}, sidecars: map[string]*deltaCache{},
		gateways: map[string]map[string]*deltaCache{}, streams: map[int64]*deltaStream{}, gone: map[string]ProxyStatus{}}
	for _, t := range SidecarTypes {
		d.sidecars[t] = newDeltaCache(t)
	}
	srv := delta.NewServer(context.Background(), &mux{d}, callbacks{d})
	d.grpc = grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(d.grpc, ads{srv: srv})
	return d
}

// ads serves only the delta variant of ADS; the state-of-the-world one answers Unimplemented.
type ads struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	srv delta.Server
}

func (a ads) DeltaAggregatedResources(s discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return a.srv.DeltaStreamHandler(s, resource.AnyType)
}

type callbacks struct{ d *DeltaServer }

func (c callbacks) OnDeltaStreamOpen(ctx context.Context, id int64, typ string) error {
	return c.d.open(ctx, id, typ)
}
func (c callbacks) OnDeltaStreamClosed(id int64, n *core.Node) { c.d.closed(id, n) }
func (c callbacks) OnStreamDeltaRequest(id int64, r *discovery.DeltaDiscoveryRequest) error {
	return c.d.request(id, r)
}
func (c callbacks) OnStreamDeltaResponse(id int64, r *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	c.d.response(id, r, resp)
}

// Handler serves gRPC on the control plane's TLS port (mount it at ADSPath); identity comes from the TLS
// connection the HTTP server verified.
func (d *DeltaServer) Handler() http.Handler { return d.grpc }

// BytesSent is the total size of the responses sent so far.
func (d *DeltaServer) BytesSent() int64 { return d.sent.Load() }

// Update sets the resources of plan: what sidecars share, each sidecar's own Workload, and each gateway's
// set. Only changed resources are sent; a proxy whose resources did not change is sent nothing.
func (d *DeltaServer) Update(plan *ir.Plan, addrs map[string]string) error {
	d.updating.Lock()
	defer d.updating.Unlock()
	ord := planOrder(plan)
	if d.memo == nil {
		d.memo = map[string]map[string]map[string]memoEntry{}
	}
	sidecars := newEncoder(d.memo[""], SidecarTypes)
	if err := sidecarResources(plan, addrs, ord, sidecars, sidecars); err != nil {
		return err
	}
	gws := map[string]*encoder{}
	known := map[string]proxyRef{}
	for _, g := range plan.Gateways {
		e := newEncoder(d.memo[g.ID], GatewayTypes)
		if err := gatewayResources(plan, g.ID, ord, e); err != nil {
			return err
		}
		gws[g.ID] = e
		if _, dup := known[g.Identity.String()]; !dup {
			known[g.Identity.String()] = proxyRef{kind: KindGateway, name: g.ID, cluster: g.Cluster, gatewayID: g.ID}
		}
	}
	for _, w := range plan.Workloads {
		if _, dup := known[w.Identity.String()]; !dup {
			known[w.Identity.String()] = proxyRef{kind: KindSidecar, name: w.Namespace + "/" + w.Name, cluster: w.Cluster}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.known = known
	for _, t := range SidecarTypes {
		if err := d.sidecars[t].set(sidecars.encoded(t)); err != nil {
			return err
		}
	}
	for id := range d.gateways {
		if _, ok := gws[id]; !ok {
			gws[id] = newEncoder(nil, GatewayTypes) // a removed gateway's resources are removed
		}
	}
	for id, e := range gws {
		caches := d.gateways[id]
		if caches == nil {
			caches = map[string]*deltaCache{}
			for _, t := range GatewayTypes {
				caches[t] = newDeltaCache(t)
			}
			d.gateways[id] = caches
		}
		for _, t := range GatewayTypes {
			if err := caches[t].set(e.encoded(t)); err != nil {
				return err
			}
		}
	}
	// The next plan's inputs are compared with this one's (memo.go). A failed Update keeps the previous
	// memo: each entry is an encoding of its inputs, whatever the caches hold.
	next := map[string]map[string]map[string]memoEntry{"": sidecars.next}
	for id, e := range gws {
		if _, ok := d.gateways[id]; ok && len(e.next[TypeGateway]) > 0 {
			next[id] = e.next
		}
	}
	d.memo = next
	return nil
}

// open identifies the proxy by its verified SVID; an identity the plan does not know is refused.
func (d *DeltaServer) open(ctx context.Context, id int64, _ string) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "mutual TLS required")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return status.Error(codes.Unauthenticated, "mutual TLS required")
	}
	sid, err := identity.PeerID(info.State)
	if err != nil {
		return status.Error(codes.Unauthenticated, "a verified SVID is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.known[sid.String()]
	if !ok {
		d.log.Warn("config stream refused", "identity", sid.String(), "reason", ErrUnknownProxy.Error())
		return status.Errorf(codes.PermissionDenied, "%s: %v", sid, ErrUnknownProxy)
	}
	d.streams[id] = &deltaStream{identity: sid.String(), ref: ref, expiry: info.State.PeerCertificates[0].NotAfter,
		lastSeen: time.Now(), types: map[string]*TypeStatus{}, subbed: map[string]bool{}}
	delete(d.gone, sid.String())
	d.log.Info("proxy connected", "identity", sid.String(), "kind", ref.kind, "name", ref.name, "cluster", ref.cluster, "protocol", ProtocolXDS)
	return nil
}

func (d *DeltaServer) closed(id int64, _ *core.Node) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.streams[id]; ok {
		ps := st.status(false)
		d.gone[st.identity] = ps
		delete(d.streams, id)
		d.log.Info("proxy disconnected", "identity", st.identity, "name", st.ref.name)
	}
}

// request pins the node to the stream's verified identity, limits a sidecar's Workload subscription to
// its own, and records ACKs and NACKs.
func (d *DeltaServer) request(id int64, req *discovery.DeltaDiscoveryRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.streams[id]
	if !ok {
		return status.Error(codes.Unauthenticated, "unknown stream")
	}
	req.Node = &core.Node{Id: st.identity, Cluster: st.ref.cluster}
	if req.GetTypeUrl() == TypeWorkload {
		// Whatever names a sidecar asks for, it is subscribed to its own Workload only.
		req.ResourceNamesUnsubscribe = nil
		req.ResourceNamesSubscribe = nil
		if !st.subbed[TypeWorkload] {
			req.ResourceNamesSubscribe = []string{st.identity}
		}
		for name := range req.GetInitialResourceVersions() {
			if name != st.identity {
				delete(req.InitialResourceVersions, name)
			}
		}
	}
	first := !st.subbed[req.GetTypeUrl()]
	st.subbed[req.GetTypeUrl()] = true
	st.lastSeen = time.Now()
	ts := st.typ(req.GetTypeUrl())
	if held := req.GetInitialResourceVersions(); first && len(held) > 0 {
		// A reconnecting proxy holds this type already; when its versions are current nothing is sent,
		// and it is in step. A response, if one is needed, replaces this until it is acknowledged.
		var sum configDigest
		for name, v := range held {
			sum.toggle(req.GetTypeUrl(), name, v)
		}
		ts.Sent, ts.Acked, ts.Version, ts.AckedVersion = resumed, resumed, sum.String(), sum.String()
	}
	if nonce := req.GetResponseNonce(); nonce != "" {
		if e := req.GetErrorDetail(); e != nil {
			ts.Nack = nonce + ": " + e.GetMessage()
			d.log.Warn("config rejected (NACK)", "identity", st.identity, "type", req.GetTypeUrl(), "nonce", nonce, "error", e.GetMessage())
		} else {
			ts.Acked, ts.Nack = nonce, ""
			if v, ok := ts.inflight[nonce]; ok {
				ts.AckedVersion = v
			}
		}
		// Nonces count up on a stream: this one and every older one are answered.
		for n := range ts.inflight {
			if len(n) < len(nonce) || len(n) == len(nonce) && n <= nonce {
				delete(ts.inflight, n)
			}
		}
	}
	return nil
}

func (d *DeltaServer) response(id int64, _ *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	d.sent.Add(int64(proto.Size(resp)))
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.streams[id]; ok {
		ts := st.typ(resp.GetTypeUrl())
		ts.Sent, ts.Version = resp.GetNonce(), resp.GetSystemVersionInfo()
		if ts.inflight == nil {
			ts.inflight = map[string]string{}
		}
		ts.inflight[ts.Sent] = ts.Version
	}
}

func (st *deltaStream) typ(t string) *TypeStatus {
	ts, ok := st.types[t]
	if !ok {
		ts = &TypeStatus{Type: t}
		st.types[t] = ts
	}
	return ts
}

func (st *deltaStream) status(connected bool) ProxyStatus {
	ps := ProxyStatus{Identity: st.identity, Kind: st.ref.kind, Name: st.ref.name, Cluster: st.ref.cluster, Protocol: ProtocolXDS,
		Connected: connected, LastSeen: st.lastSeen, CertExpiry: st.expiry}
	var sent, acked []string
	for _, ts := range st.types {
		ps.Types = append(ps.Types, *ts)
		sent, acked = append(sent, ts.Type+"="+ts.Version), append(acked, ts.Type+"="+ts.AckedVersion)
		if ts.Nack != "" {
			ps.Nack += ts.Type + " " + ts.Nack + "; "
		}
	}
	sort.Slice(ps.Types, func(i, j int) bool { return ps.Types[i].Type < ps.Types[j].Type })
	sort.Strings(sent)
	sort.Strings(acked)
	ps.Sent, ps.Acked = fmt.Sprint(sent), fmt.Sprint(acked)
	if len(st.types) == 0 {
		ps.Sent, ps.Acked = "", ""
	}
	return ps
}

// Status lists every proxy connected over delta xDS, and the last status of those that left.
func (d *DeltaServer) Status() []ProxyStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ProxyStatus
	for _, st := range d.streams {
		out = append(out, st.status(true))
	}
	for _, ps := range d.gone {
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Name < b.Name
	})
	return out
}

// mux hands each delta watch to the cache of the stream's verified identity: the shared sidecar caches
// or the proxy's own gateway's. A type not served to that kind of proxy ends the stream.
type mux struct{ d *DeltaServer }

func (m *mux) CreateWatch(*cache.Request, cache.Subscription, chan cache.Response) (func(), error) {
	return nil, errors.New("egret serves delta xDS only")
}

func (m *mux) Fetch(context.Context, *cache.Request) (cache.Response, error) {
	return nil, errors.New("egret serves delta xDS only")
}

func (m *mux) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, out chan cache.DeltaResponse) (func(), error) {
	m.d.mu.Lock()
	ref, ok := m.d.known[req.GetNode().GetId()]
	var c *deltaCache
	if ok && ref.kind == KindSidecar {
		c = m.d.sidecars[req.GetTypeUrl()]
	} else if ok {
		c = m.d.gateways[ref.gatewayID][req.GetTypeUrl()]
	}
	m.d.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s: %v", req.GetNode().GetId(), ErrUnknownProxy)
	}
	if c == nil {
		return nil, status.Errorf(codes.PermissionDenied, "type %s is not served to a %s", req.GetTypeUrl(), ref.kind)
	}
	return c.CreateDeltaWatch(req, sub, out)
}
