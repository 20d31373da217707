package istio

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacconfigv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
	render "egret.dev/egret/internal/render/istio"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

var (
	gatewayServiceRE = kubetest.SeedGatewayService
	// productpagePrincipal is productpage's identity as Istio's RBAC filter matches it: exactly, or as
	// the regex of a principal with a wildcard trust domain and namespace.
	productpagePrincipal = regexp.MustCompile(`^spiffe://(cluster1/ns/bookinfo|\.\*)/sa/bookinfo-productpage$`)
)

// The seed's proxies, as the test pretends to be them.
var (
	egressGatewayProxy = kubetest.SeedGatewayProxy
	productpageProxy   = kubetest.SeedProductpageProxy
)

// The proxies of the RouteTable objects (testdata/routetables.yaml), beside the seed's.
var (
	rtGatewayProxy = kubetest.Proxy{
		Type: "router", IP: "10.244.1.11", Pod: "rt-egressgateway-6c5d8b-klmno", Namespace: "egress-rt",
		ServiceAccount: "rt-egressgateway",
		Labels:         map[string]string{"istio": "rt-egressgateway", "app": "rt-egressgateway"},
	}
	webProxy = kubetest.Proxy{
		Type: "sidecar", IP: "10.244.2.21", Pod: "web-7b9c4-pqrst", Namespace: "apps", ServiceAccount: "web",
		Labels: map[string]string{"app": "web", "team": "frontend"},
	}
	batchProxy = kubetest.Proxy{
		Type: "sidecar", IP: "10.244.2.22", Pod: "batch-5d7e2-uvwxy", Namespace: "apps", ServiceAccount: "batch",
		Labels: map[string]string{"app": "batch", "team": "data"},
	}
)

// TestIstiodGeneratesTheIntendedEgressConfig applies the seed objects to a real kube-apiserver,
// starts a real istiod (pilot-discovery) on it with the seed's mesh config, asks istiod over xDS
// for the configuration of the egress gateway and of productpage's sidecar, and checks that what
// Envoy would receive does what the objects intend.
func TestIstiodGeneratesTheIntendedEgressConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd, kube-apiserver and istiod")
	}
	kubetest.Binary(t, "pilot-discovery", "scripts/build-istiod.sh") // skip early, before starting the API server
	api := kubetest.StartAPIServer(t, seedCluster)
	api.LoadIstioCRDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := api.Apply(ctx, seedObjects(t)); err != nil {
		t.Fatalf("apply seed objects: %v", err)
	}
	for _, in := range []string{"testdata/routetables.yaml", "testdata/shadows.yaml"} {
		if err := api.Apply(ctx, renderedObjects(t, in)); err != nil {
			t.Fatalf("apply the objects of %s: %v", in, err)
		}
	}
	istiod := kubetest.StartIstiod(t, api, kubetest.IstiodOptions{ClusterID: seedCluster, MeshConfig: seedMeshConfig(t)})

	gw, err := istiod.Fetch(ctx, egressGatewayProxy)
	if err != nil {
		t.Fatalf("xDS as the egress gateway: %v\nistiod:\n%s", err, istiod.Log(40))
	}
	sc, err := istiod.Fetch(ctx, productpageProxy)
	if err != nil {
		t.Fatalf("xDS as productpage's sidecar: %v\nistiod:\n%s", err, istiod.Log(40))
	}
	t.Run("RouteTables", func(t *testing.T) { routeTablesByIstiod(ctx, t, istiod) })
	t.Run("Workspaces", func(t *testing.T) { shadowsByIstiod(ctx, t, istiod) })

	t.Run("the gateway's 8443 listener requires a client certificate (mutual TLS)", func(t *testing.T) {
		l := gw.Listener("0.0.0.0_8443")
		if l == nil {
			t.Fatalf("no 0.0.0.0_8443 listener for the gateway (Service port 443 -> targetPort 8443)\n%s", gw.Names())
		}
		if len(l.GetFilterChains()) == 0 {
			t.Fatal("listener has no filter chains")
		}
		for i, fc := range l.GetFilterChains() {
			ctx := downstreamTLS(t, fc)
			if ctx == nil {
				t.Fatalf("filter chain %d (%s) terminates no TLS", i, fc.GetName())
			}
			if !ctx.GetRequireClientCertificate().GetValue() {
				t.Errorf("filter chain %d (%s) does not require a client certificate", i, fc.GetName())
			}
			if n := ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs(); len(n) == 0 || n[0].GetName() != "default" {
				t.Errorf("filter chain %d serves %v, want the workload certificate (SDS \"default\")", i, n)
			}
		}
	})

	t.Run("the gateway's RBAC filter allows exactly productpage's principal", func(t *testing.T) {
		l := gw.Listener("0.0.0.0_8443")
		if l == nil {
			t.Fatalf("no 0.0.0.0_8443 listener\n%s", gw.Names())
		}
		hcms := kubetest.HTTPConnectionManagers(l)
		if len(hcms) == 0 {
			t.Fatal("the 8443 listener has no HTTP connection manager")
		}
		for _, hcm := range hcms {
			var rbac *rbacv3.RBAC
			for _, f := range hcm.GetHttpFilters() {
				if f.GetName() == "envoy.filters.http.rbac" {
					rbac = &rbacv3.RBAC{}
					if err := f.GetTypedConfig().UnmarshalTo(rbac); err != nil {
						t.Fatalf("decode RBAC: %v", err)
					}
				}
			}
			if rbac == nil {
				t.Fatal("no envoy.filters.http.rbac filter on the gateway's 8443 listener")
			}
			if a := rbac.GetRules().GetAction(); a != rbacconfigv3.RBAC_ALLOW {
				t.Errorf("RBAC action %v, want ALLOW", a)
			}
			// egret renders, besides the AccessPolicy's ALLOW, one ALLOW for any caller limited to the
			// hosts no policy restricts (notHosts): it must exclude some host, and every other principal
			// must be productpage's (the seed's selector names only the service account, so any trust
			// domain and namespace: Istio's regex spiffe://.*/sa/bookinfo-productpage).
			var names []string
			for name, p := range rbac.GetRules().GetPolicies() {
				for _, pr := range p.GetPrincipals() {
					for _, n := range kubetest.PrincipalNames(pr) {
						if n == "any" {
							if !strings.Contains(p.String(), "not_rule") {
								t.Errorf("RBAC policy %s allows any caller on every host", name)
							}
							continue
						}
						names = append(names, n)
					}
				}
			}
			slices.Sort(names)
			names = slices.Compact(names)
			if len(names) != 1 || !productpagePrincipal.MatchString(names[0]) {
				t.Errorf("RBAC principals %q, want exactly productpage's (%s)", names, productpagePrincipal)
			}
		}
	})

	t.Run("the gateway routes www.google.com to a cluster that originates TLS with SNI www.google.com", func(t *testing.T) {
		cluster := routeCluster(t, gw, "www.google.com", "")
		if !strings.HasPrefix(cluster, "outbound|443|") || !strings.HasSuffix(cluster, "|www.google.com") {
			t.Fatalf("the gateway routes www.google.com to %q, want www.google.com's port 443 (outbound|443|…|www.google.com)", cluster)
		}
		c := gw.Cluster(cluster)
		if c == nil {
			t.Fatalf("no cluster %s\n%s", cluster, gw.Names())
		}
		up := upstreamTLS(t, c)
		if up == nil {
			t.Fatalf("cluster %s originates no TLS", cluster)
		}
		if up.GetSni() != "www.google.com" {
			t.Errorf("SNI %q, want www.google.com", up.GetSni())
		}
		if len(up.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()) != 0 {
			t.Errorf("SIMPLE origination presents a client certificate: %v", up.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs())
		}
	})

	t.Run("the sidecar sends www.google.com:80 to the gateway with Istio mutual TLS", func(t *testing.T) {
		cluster := routeCluster(t, sc, "www.google.com", "80")
		// The gateway's Service is revisioned (istio-egressgateway-1-25) and reached through a subset.
		if !strings.HasPrefix(cluster, "outbound|443|") || !gatewayServiceRE.MatchString(cluster[strings.LastIndex(cluster, "|")+1:]) {
			t.Fatalf("the sidecar routes www.google.com:80 to %q, want port 443 of the gateway's Service (%s)", cluster, gatewayServiceRE)
		}
		c := sc.Cluster(cluster)
		if c == nil {
			t.Fatalf("no cluster %s\n%s", cluster, sc.Names())
		}
		up := upstreamTLS(t, c)
		if up == nil {
			t.Fatalf("cluster %s sends plaintext to the gateway", cluster)
		}
		if up.GetSni() != "www.google.com" {
			t.Errorf("SNI to the gateway %q, want www.google.com (the DestinationRule's sni)", up.GetSni())
		}
		certs := up.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
		if len(certs) == 0 || certs[0].GetName() != "default" {
			t.Errorf("the sidecar presents %v to the gateway, want its workload certificate (SDS \"default\")", certs)
		}
	})

	t.Run("REGISTRY_ONLY sends the sidecar's calls to unknown hosts to the BlackHole", func(t *testing.T) {
		// Istio's REGISTRY_ONLY HTTP catch-all is the virtual host "block_all", answering 502 itself.
		if vh, got := routeTarget(t, sc, "unknown.example.com", "80"); vh != "block_all" || (got != "direct-response 502" && got != "BlackHoleCluster") {
			t.Errorf("HTTP to unknown.example.com:80 goes to virtual host %q, %q; want block_all, a 502 direct response or BlackHoleCluster", vh, got)
		}
		vo := sc.Listener("virtualOutbound")
		if vo == nil {
			t.Fatalf("no virtualOutbound listener\n%s", sc.Names())
		}
		var catchAll []string
		var chains []string
		for _, fc := range append(slices.Clone(vo.GetFilterChains()), vo.GetDefaultFilterChain()) {
			chains = append(chains, fc.GetName())
			if fc.GetName() != "virtualOutbound-catchall-tcp" {
				continue
			}
			for _, f := range fc.GetFilters() {
				if !strings.HasSuffix(f.GetTypedConfig().GetTypeUrl(), ".TcpProxy") {
					continue
				}
				tp := &tcpproxyv3.TcpProxy{}
				if err := f.GetTypedConfig().UnmarshalTo(tp); err != nil {
					t.Fatalf("decode tcp_proxy: %v", err)
				}
				catchAll = append(catchAll, tp.GetCluster())
			}
		}
		if len(catchAll) == 0 {
			t.Fatalf("virtualOutbound has no virtualOutbound-catchall-tcp chain with a tcp_proxy (chains %q)", chains)
		}
		for _, c := range catchAll {
			if c != "BlackHoleCluster" {
				t.Errorf("TCP to unknown destinations goes to %q, want BlackHoleCluster", c)
			}
		}
	})
}

func downstreamTLS(t *testing.T, fc *listenerv3.FilterChain) *tlsv3.DownstreamTlsContext {
	t.Helper()
	ts := fc.GetTransportSocket()
	if ts == nil {
		return nil
	}
	ctx := &tlsv3.DownstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		t.Fatalf("decode downstream TLS of %s: %v", fc.GetName(), err)
	}
	return ctx
}

// virtualHost is the virtual host Envoy picks for host[:port] (exact domain, then wildcard suffix, then
// "*") over the route configurations istiod sent (for a sidecar the one named after the port; for a
// gateway, any); it must have routes.
func virtualHost(t *testing.T, pc *kubetest.ProxyConfig, host, port string) *routev3.VirtualHost {
	t.Helper()
	var rcs []*routev3.RouteConfiguration
	if port != "" {
		if rc := pc.Route(port); rc != nil {
			rcs = append(rcs, rc)
		}
	} else {
		rcs = pc.Routes
	}
	if len(rcs) == 0 {
		t.Fatalf("no route configuration for port %q\n%s", port, pc.Names())
	}
	authority := host
	if port != "" {
		authority = host + ":" + port
	}
	var best *routev3.VirtualHost
	bestRank := 0
	for _, rc := range rcs {
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				rank := 0
				switch {
				case d == host || d == authority:
					rank = 3
				case strings.HasPrefix(d, "*.") && strings.HasSuffix(host, d[1:]):
					rank = 2
				case d == "*":
					rank = 1
				}
				if rank > bestRank {
					best, bestRank = vh, rank
				}
			}
		}
	}
	if best == nil || len(best.GetRoutes()) == 0 {
		t.Fatalf("no virtual host with routes for %s\n%s", authority, pc.Names())
	}
	return best
}

// routeCluster answers "where does Envoy send an HTTP request for host[:port]?" the way Envoy
// picks a virtual host (exact domain, then wildcard suffix, then "*"), over every route
// configuration istiod sent (for a sidecar the one named after the port; for a gateway, any).
func routeCluster(t *testing.T, pc *kubetest.ProxyConfig, host, port string) string {
	t.Helper()
	_, target := routeTarget(t, pc, host, port)
	return target
}

// routeTarget is routeCluster that also names the chosen virtual host; a direct response reads
// "direct-response <status>".
func routeTarget(t *testing.T, pc *kubetest.ProxyConfig, host, port string) (vhost, target string) {
	t.Helper()
	best := virtualHost(t, pc, host, port)
	r := best.GetRoutes()[0]
	if c := r.GetRoute().GetCluster(); c != "" {
		return best.GetName(), c
	}
	if wc := r.GetRoute().GetWeightedClusters().GetClusters(); len(wc) == 1 {
		return best.GetName(), wc[0].GetName()
	}
	if dr := r.GetDirectResponse(); dr != nil {
		return best.GetName(), fmt.Sprintf("direct-response %d", dr.GetStatus())
	}
	t.Fatalf("virtual host %s: first route has no single cluster: %v", best.GetName(), r)
	return "", ""
}

// renderedObjects are the rendered objects of an input for cluster1, without the mesh ConfigMap (the
// seed's is istiod's), their namespaces first.
func renderedObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	snap, err := file.Load([]string{path}, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap)
	if res.Invalid() {
		t.Fatalf("%s does not translate: %v", path, res.Problems())
	}
	out, err := render.Render(res.Plan, seedCluster)
	if err != nil {
		t.Fatal(err)
	}
	out.MeshConfig = nil
	y, err := render.YAML(out)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.DecodeYAML(y)
	if err != nil {
		t.Fatal(err)
	}
	return kubetest.WithNamespaces(objs)
}

// routeTablesByIstiod checks what istiod makes of the rendered RouteTables: the gateway table's split
// at the gateway, the sidecar's way to that gateway, and a table for some callers that only the
// selected caller's sidecar routes.
func routeTablesByIstiod(ctx context.Context, t *testing.T, istiod *kubetest.Istiod) {
	gw, err := istiod.Fetch(ctx, rtGatewayProxy)
	if err != nil {
		t.Fatalf("xDS as rt-egressgateway: %v\nistiod:\n%s", err, istiod.Log(40))
	}
	web, err := istiod.Fetch(ctx, webProxy)
	if err != nil {
		t.Fatalf("xDS as web's sidecar: %v\nistiod:\n%s", err, istiod.Log(40))
	}
	batch, err := istiod.Fetch(ctx, batchProxy)
	if err != nil {
		t.Fatalf("xDS as batch's sidecar: %v\nistiod:\n%s", err, istiod.Log(40))
	}

	t.Run("the gateway splits api.partner.example/v1 90/10 between v1's and v2's clusters, after the x-beta route", func(t *testing.T) {
		vh := virtualHost(t, gw, "api.partner.example", "")
		routes := vh.GetRoutes()
		if len(routes) < 2 {
			t.Fatalf("virtual host %s has %d routes, want the table's two: %v", vh.GetName(), len(routes), routes)
		}
		if h := routes[0].GetMatch().GetHeaders(); len(h) != 1 || h[0].GetName() != "x-beta" || routes[0].GetRoute().GetCluster() != "outbound|443||v2.partner.example" {
			t.Errorf("first route %v, want x-beta → outbound|443||v2.partner.example", routes[0])
		}
		if p := routes[1].GetMatch().GetPrefix(); p != "/v1" {
			t.Errorf("second route matches %v, want the prefix /v1", routes[1].GetMatch())
		}
		got := map[string]uint32{}
		for _, c := range routes[1].GetRoute().GetWeightedClusters().GetClusters() {
			got[c.GetName()] = c.GetWeight().GetValue()
		}
		want := map[string]uint32{"outbound|443||v1.partner.example": 90, "outbound|443||v2.partner.example": 10}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("weighted clusters %v, want %v", got, want)
		}
		for c := range want {
			if up := upstreamTLS(t, gw.Cluster(c)); up == nil || up.GetSni() != strings.TrimPrefix(c, "outbound|443||") {
				t.Errorf("cluster %s does not originate TLS with its host as SNI: %v", c, up)
			}
		}
	})

	t.Run("the gateway's RBAC filter lets only web's principal reach api.partner.example (v1's and v2's policy)", func(t *testing.T) {
		l := gw.Listener("0.0.0.0_8443")
		if l == nil {
			t.Fatalf("no 0.0.0.0_8443 listener\n%s", gw.Names())
		}
		for _, hcm := range kubetest.HTTPConnectionManagers(l) {
			for _, f := range hcm.GetHttpFilters() {
				if f.GetName() != "envoy.filters.http.rbac" {
					continue
				}
				rbac := &rbacv3.RBAC{}
				if err := f.GetTypedConfig().UnmarshalTo(rbac); err != nil {
					t.Fatalf("decode RBAC: %v", err)
				}
				found := false
				for name, p := range rbac.GetRules().GetPolicies() {
					var names []string
					for _, pr := range p.GetPrincipals() {
						names = append(names, kubetest.PrincipalNames(pr)...)
					}
					if !strings.Contains(p.String(), "api.partner.example") {
						continue
					}
					if slices.Contains(names, "any") {
						// The policy for unrestricted hosts may name the host only among its notHosts.
						if !strings.Contains(p.String(), "not_rule") {
							t.Errorf("RBAC policy %s lets any caller reach api.partner.example", name)
						}
						continue
					}
					found = true
					if len(names) != 1 || !strings.HasSuffix(names[0], "/sa/web") {
						t.Errorf("RBAC policy %s lets %q reach api.partner.example, want web only", name, names)
					}
				}
				if !found {
					t.Error("no RBAC policy names api.partner.example: the table's host is not restricted like its destinations")
				}
				return
			}
		}
		t.Fatal("no envoy.filters.http.rbac filter on rt-egressgateway's 8443 listener")
	})

	t.Run("a sidecar sends api.partner.example:80 to that gateway with Istio mutual TLS", func(t *testing.T) {
		c := routeCluster(t, batch, "api.partner.example", "80")
		if c != "outbound|443|api-partner-example|rt-egressgateway.egress-rt.svc.cluster.local" {
			t.Fatalf("batch's sidecar routes api.partner.example:80 to %q, want the gateway's subset for the host", c)
		}
		if up := upstreamTLS(t, batch.Cluster(c)); up == nil || up.GetSni() != "api.partner.example" {
			t.Errorf("the hop to the gateway is not mutual TLS with SNI api.partner.example: %v", up)
		}
	})

	t.Run("the table for the frontend team: web's sidecar splits internal.example.com 80/20, batch's answers 404", func(t *testing.T) {
		r := virtualHost(t, web, "internal.example.com", "80").GetRoutes()[0]
		got := map[string]uint32{}
		for _, c := range r.GetRoute().GetWeightedClusters().GetClusters() {
			got[c.GetName()] = c.GetWeight().GetValue()
		}
		want := map[string]uint32{"outbound|80||stable.example.com": 80, "outbound|80||canary.example.com": 20}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("web's first route for internal.example.com:80: weighted clusters %v, want %v (route %v)", got, want, r)
		}
		if vh, target := routeTarget(t, batch, "internal.example.com", "80"); target != "direct-response 404" {
			t.Errorf("batch's sidecar sends internal.example.com:80 to %q (virtual host %s), want the 404 of a table not for it", target, vh)
		}
	})
}

// shadowsByIstiod checks testdata/shadows.yaml: a portMatch port no gateway serves answers 503 to the
// service's own workspace, and a wildcard of another workspace does not reach the host directly (502).
func shadowsByIstiod(ctx context.Context, t *testing.T, istiod *kubetest.Istiod) {
	proxies := map[string]kubetest.Proxy{
		"ws-app":   {Type: "sidecar", IP: "10.244.3.10", Pod: "a-6f7c8-abcde", Namespace: "ws-app", ServiceAccount: "a", Labels: map[string]string{"app": "a"}},
		"ws-third": {Type: "sidecar", IP: "10.244.3.11", Pod: "t-6f7c8-fghij", Namespace: "ws-third", ServiceAccount: "t", Labels: map[string]string{"app": "t"}},
	}
	for _, tc := range []struct {
		name, ns, want string
	}{
		{"the service's own workspace gets 503 on a portMatch port no gateway serves", "ws-app", "direct-response 503"},
		{"another workspace's wildcard does not dial the host directly: 502", "ws-third", "direct-response 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := istiod.Fetch(ctx, proxies[tc.ns])
			if err != nil {
				t.Fatalf("xDS as %s's sidecar: %v\nistiod:\n%s", tc.ns, err, istiod.Log(40))
			}
			if vh, got := routeTarget(t, pc, "hidden.example.org", "80"); got != tc.want {
				t.Errorf("%s's sidecar sends hidden.example.org:80 to %q (virtual host %s), want %s", tc.ns, got, vh, tc.want)
			}
		})
	}
}

// upstreamTLS is kubetest.UpstreamTLS, failing the test on a socket that does not decode.
func upstreamTLS(t *testing.T, c *clusterv3.Cluster) *tlsv3.UpstreamTlsContext {
	t.Helper()
	tls, err := kubetest.UpstreamTLS(c)
	if err != nil {
		t.Fatal(err)
	}
	return tls
}
