package kubetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// Envoy's xDS type URLs.
const (
	ClusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	RouteType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

// Proxy describes the Envoy a test pretends to be when it asks istiod for configuration: the
// node ID and metadata that istio-agent would send for a pod.
type Proxy struct {
	// Type is "sidecar" or "router" (a gateway).
	Type string
	// IP is the pod IP istiod is told (never dialled; only a name in istiod's model).
	IP             string
	Pod, Namespace string
	ServiceAccount string
	Labels         map[string]string
	// ClusterID must equal istiod's --clusterID.
	ClusterID string
	// IstioVersion is the proxy version istiod is told (default "1.31.0").
	IstioVersion string
}

// NodeID is the Envoy node ID istio-agent builds: type~ip~pod.namespace~namespace.svc.cluster.local.
func (p Proxy) NodeID() string {
	return fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", p.Type, p.IP, p.Pod, p.Namespace, p.Namespace)
}

func (p Proxy) node() (*corev3.Node, error) {
	v := p.IstioVersion
	if v == "" {
		v = "1.31.0"
	}
	labels := map[string]any{}
	for k, val := range p.Labels {
		labels[k] = val
	}
	workload := p.Labels["app"]
	if workload == "" {
		workload = p.Pod
	}
	md, err := structpb.NewStruct(map[string]any{
		"CLUSTER_ID":        p.ClusterID,
		"NAMESPACE":         p.Namespace,
		"NAME":              p.Pod,
		"LABELS":            labels,
		"SERVICE_ACCOUNT":   p.ServiceAccount,
		"ISTIO_VERSION":     v,
		"INSTANCE_IPS":      p.IP,
		"INTERCEPTION_MODE": "REDIRECT",
		"WORKLOAD_NAME":     workload,
		"MESH_ID":           "cluster.local",
		"OWNER":             "kubernetes://apis/apps/v1/namespaces/" + p.Namespace + "/deployments/" + workload,
		"PROXY_CONFIG":      map[string]any{"statusPort": 15020.0},
	})
	if err != nil {
		return nil, err
	}
	return &corev3.Node{
		Id:                   p.NodeID(),
		Cluster:              workload + "." + p.Namespace,
		Metadata:             md,
		UserAgentName:        "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: v},
	}, nil
}

// ProxyConfig is what istiod sent one proxy over ADS.
type ProxyConfig struct {
	Clusters  []*clusterv3.Cluster
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
}

// Cluster returns the cluster with the given name, or nil.
func (c *ProxyConfig) Cluster(name string) *clusterv3.Cluster {
	for _, x := range c.Clusters {
		if x.GetName() == name {
			return x
		}
	}
	return nil
}

// Listener returns the listener with the given name, or nil.
func (c *ProxyConfig) Listener(name string) *listenerv3.Listener {
	for _, x := range c.Listeners {
		if x.GetName() == name {
			return x
		}
	}
	return nil
}

// Route returns the route configuration with the given name, or nil.
func (c *ProxyConfig) Route(name string) *routev3.RouteConfiguration {
	for _, x := range c.Routes {
		if x.GetName() == name {
			return x
		}
	}
	return nil
}

// Names lists the names of what was received, for failure messages.
func (c *ProxyConfig) Names() string {
	var cl, li, ro []string
	for _, x := range c.Clusters {
		cl = append(cl, x.GetName())
	}
	for _, x := range c.Listeners {
		li = append(li, x.GetName())
	}
	for _, x := range c.Routes {
		ro = append(ro, x.GetName())
	}
	return fmt.Sprintf("clusters %v\nlisteners %v\nroutes %v", cl, li, ro)
}

// Fetch connects to istiod's plaintext xDS port as the proxy, in the order Envoy does (CDS, then
// LDS, then RDS for the route names the listeners' HTTP connection managers name), ACKs each
// answer, and returns the decoded configuration. ctx bounds the whole exchange.
func (d *Istiod) Fetch(ctx context.Context, p Proxy) (*ProxyConfig, error) {
	if p.ClusterID == "" {
		p.ClusterID = d.ClusterID
	}
	node, err := p.node()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(d.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("ADS stream to istiod %s: %w", d.XDSAddr, err)
	}
	x := &adsExchange{stream: stream, node: node}
	out := &ProxyConfig{}

	cds, err := x.get(ClusterType, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range cds.GetResources() {
		c := &clusterv3.Cluster{}
		if err := r.UnmarshalTo(c); err != nil {
			return nil, fmt.Errorf("decode cluster: %w", err)
		}
		out.Clusters = append(out.Clusters, c)
	}
	lds, err := x.get(ListenerType, nil)
	if err != nil {
		return nil, err
	}
	routeNames := map[string]bool{}
	for _, r := range lds.GetResources() {
		l := &listenerv3.Listener{}
		if err := r.UnmarshalTo(l); err != nil {
			return nil, fmt.Errorf("decode listener: %w", err)
		}
		out.Listeners = append(out.Listeners, l)
		for _, hcm := range HTTPConnectionManagers(l) {
			if n := hcm.GetRds().GetRouteConfigName(); n != "" {
				routeNames[n] = true
			}
		}
	}
	if len(routeNames) > 0 {
		rds, err := x.get(RouteType, slices.Sorted(maps.Keys(routeNames)))
		if err != nil {
			return nil, err
		}
		for _, r := range rds.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if err := r.UnmarshalTo(rc); err != nil {
				return nil, fmt.Errorf("decode route: %w", err)
			}
			out.Routes = append(out.Routes, rc)
		}
	}
	return out, nil
}

// HTTPConnectionManagers decodes the HTTP connection managers of a listener's filter chains
// (including the default chain), in order.
func HTTPConnectionManagers(l *listenerv3.Listener) []*hcmv3.HttpConnectionManager {
	var out []*hcmv3.HttpConnectionManager
	chains := append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain())
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			if !strings.HasSuffix(f.GetTypedConfig().GetTypeUrl(), "HttpConnectionManager") {
				continue
			}
			h := &hcmv3.HttpConnectionManager{}
			if err := f.GetTypedConfig().UnmarshalTo(h); err == nil {
				out = append(out, h)
			}
		}
	}
	return out
}

type adsExchange struct {
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	sent   bool
}

// get subscribes to one type and waits for istiod's answer, ACKing it (and any other type that
// arrives meanwhile).
func (x *adsExchange) get(typeURL string, names []string) (*discoveryv3.DiscoveryResponse, error) {
	req := &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names}
	if !x.sent {
		req.Node = x.node // the node goes in the first request of a stream
		x.sent = true
	}
	if err := x.stream.Send(req); err != nil {
		return nil, fmt.Errorf("send %s request: %w", short(typeURL), err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := x.stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", short(typeURL), err)
		}
		ack := &discoveryv3.DiscoveryRequest{
			TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(),
		}
		if resp.GetTypeUrl() == typeURL {
			ack.ResourceNames = names
		}
		if err := x.stream.Send(ack); err != nil {
			return nil, fmt.Errorf("ack %s: %w", short(resp.GetTypeUrl()), err)
		}
		if resp.GetTypeUrl() == typeURL {
			return resp, nil
		}
	}
	return nil, fmt.Errorf("no %s answer from istiod within 60s", short(typeURL))
}

func short(typeURL string) string { return typeURL[strings.LastIndex(typeURL, ".")+1:] }
