package gateway_test

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/resolve"
)

// dnsServer answers A queries from a table, on a loopback UDP port.
func dnsServer(t testing.TB, answers map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := strings.TrimSuffix(q.Question[0].Name, ".")
		if ip, ok := answers[name]; ok && q.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		} else if !ok {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSAnswersInPrivateRangesAreRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	for _, tc := range []struct{ name, answer, rangeName string }{
		{"a private address", "10.1.2.3", "private"},
		{"loopback", "127.0.0.1", "loopback"},
		{"the cloud metadata address", "169.254.169.254", "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := dnsServer(t, map[string]string{"www.google.com": tc.answer})
			gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, func(p *gateway.Params) {
				p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Resolver: resolve.New(resolve.Options{Server: addr, Timeout: 2 * time.Second})})
			})
			resp, _ := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503", resp.StatusCode)
			}
			line := waitLog(t, gw, 1)[0]
			reason, _ := line["reason"].(string)
			if line["response_flags"] != "DF" || !strings.Contains(reason, tc.answer) || !strings.Contains(reason, tc.rangeName) {
				t.Errorf("log flags %v, reason %q: want DF naming %s and the %s range", line["response_flags"], reason, tc.answer, tc.rangeName)
			}
		})
	}
}

func TestAnAddressNamedByAnExternalEndpointIsAllowed(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	port := netip.MustParseAddrPort(ext.Addr()).Port()
	endpoint := `apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: google-local, namespace: bookinfo, labels: {host: google}}
spec:
  address: 127.0.0.1
  ports: [{name: https, number: ` + itoa(port) + `}]
`
	cfg := meshtest.SeedConfig(t, endpoint, strings.Replace(googleWithSelector, "SELECTOR", "host: google", 1))
	gw := meshtest.StartGateway(t, m, cfg, ext, func(p *gateway.Params) {
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Resolver: resolve.New(resolve.Options{Server: dnsServer(t, nil)}), ExtraRootsFile: ext.CAFile})
	})
	resp, body := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com:8080/", nil)
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("got %d %q, want 200 from the endpoint the ExternalEndpoint names; log %v", resp.StatusCode, body, waitLog(t, gw, 1))
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// googleWithSelector replaces the seed's ExternalService with one selecting ExternalEndpoints.
const googleWithSelector = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: google2, namespace: bookinfo}
spec:
  hosts: [www.google.com]
  selector: {SELECTOR}
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    clientsideTls: {}
    egressGatewayRoutes:
      portMatch: 8080
      virtualGatewayRefs: [{name: istio-egressgateway, cluster: cluster1}]
`
