package kubernetes

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"egret.dev/egret/internal/kubetest"
)

// The seed's proxies, as the test pretends to be them.
var (
	egressGatewayProxy = kubetest.SeedGatewayProxy
	productpageProxy   = kubetest.SeedProductpageProxy
	gatewayService     = kubetest.SeedGatewayService
)

// istiodOnWorkloadCluster starts istiod on the workload cluster once the controller has applied the
// seed there, with the mesh config the controller rendered (ConfigMap istio-system/istio), and checks
// over xDS what the gateway and productpage's sidecar would get: the gateway's 8443 listener requires
// mutual TLS and its RBAC filter names productpage's principal; the sidecar sends www.google.com:80
// to the gateway over Istio mutual TLS. test/istio checks the same on objects it renders itself.
func istiodOnWorkloadCluster(t *testing.T, work *kubetest.APIServer) {
	kubetest.Binary(t, "pilot-discovery", "scripts/build-istiod.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cm, err := work.Clientset.CoreV1().ConfigMaps("istio-system").Get(ctx, "istio", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the controller's mesh config: %v", err)
	}
	if !strings.Contains(cm.Data["mesh"], "REGISTRY_ONLY") {
		t.Fatalf("mesh config without the seed's REGISTRY_ONLY:\n%s", cm.Data["mesh"])
	}
	istiod := kubetest.StartIstiod(t, work, kubetest.IstiodOptions{ClusterID: "cluster1", MeshConfig: []byte(cm.Data["mesh"])})
	gw, err := istiod.Fetch(ctx, egressGatewayProxy)
	if err != nil {
		t.Fatalf("xDS as the egress gateway: %v\nistiod:\n%s", err, istiod.Log(40))
	}
	sc, err := istiod.Fetch(ctx, productpageProxy)
	if err != nil {
		t.Fatalf("xDS as productpage's sidecar: %v\nistiod:\n%s", err, istiod.Log(40))
	}

	l := gw.Listener("0.0.0.0_8443")
	if l == nil || len(l.GetFilterChains()) == 0 {
		t.Fatalf("no 0.0.0.0_8443 listener with filter chains for the gateway\n%s", gw.Names())
	}
	for i, fc := range l.GetFilterChains() {
		tls := &tlsv3.DownstreamTlsContext{}
		if fc.GetTransportSocket() == nil || fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(tls) != nil {
			t.Fatalf("the gateway's filter chain %d (%s) terminates no TLS", i, fc.GetName())
		}
		if !tls.GetRequireClientCertificate().GetValue() {
			t.Errorf("the gateway's filter chain %d (%s) does not require a client certificate", i, fc.GetName())
		}
	}
	var principals []string
	for _, hcm := range kubetest.HTTPConnectionManagers(l) {
		for _, f := range hcm.GetHttpFilters() {
			if f.GetName() != "envoy.filters.http.rbac" {
				continue
			}
			rbac := &rbacv3.RBAC{}
			if err := f.GetTypedConfig().UnmarshalTo(rbac); err != nil {
				t.Fatalf("decode RBAC: %v", err)
			}
			for _, p := range rbac.GetRules().GetPolicies() {
				for _, pr := range p.GetPrincipals() {
					principals = append(principals, kubetest.PrincipalNames(pr)...)
				}
			}
		}
	}
	if !containsMatch(principals, `/sa/bookinfo-productpage$`) {
		t.Errorf("the gateway's RBAC filter names %q, not productpage's principal", principals)
	}

	cluster := sidecarRoute(t, sc, "www.google.com", "80")
	if !strings.HasPrefix(cluster, "outbound|443|") || !gatewayService.MatchString(cluster[strings.LastIndex(cluster, "|")+1:]) {
		t.Fatalf("the sidecar routes www.google.com:80 to %q, want port 443 of the gateway's Service", cluster)
	}
	if up := upstreamTLS(t, sc.Cluster(cluster)); up == nil || up.GetSni() != "www.google.com" {
		t.Errorf("the sidecar's hop to the gateway is not TLS with SNI www.google.com: %v", up)
	}
}

// sidecarRoute is the cluster of the first route of the virtual host Envoy picks for host:port in the
// sidecar's route configuration for that port (exact domain first, then "*").
func sidecarRoute(t *testing.T, pc *kubetest.ProxyConfig, host, port string) string {
	t.Helper()
	rc := pc.Route(port)
	if rc == nil {
		t.Fatalf("no route configuration %q\n%s", port, pc.Names())
	}
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			if (d == host || d == host+":"+port) && len(vh.GetRoutes()) > 0 {
				r := vh.GetRoutes()[0].GetRoute()
				if c := r.GetCluster(); c != "" {
					return c
				}
				if wc := r.GetWeightedClusters().GetClusters(); len(wc) == 1 {
					return wc[0].GetName()
				}
				t.Fatalf("virtual host %s: first route has no single cluster", vh.GetName())
			}
		}
	}
	t.Fatalf("no virtual host for %s:%s in route configuration %s", host, port, port)
	return ""
}

func containsMatch(xs []string, re string) bool {
	r := regexp.MustCompile(re)
	for _, x := range xs {
		if r.MatchString(x) {
			return true
		}
	}
	return false
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
