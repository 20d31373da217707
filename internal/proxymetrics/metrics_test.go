package proxymetrics

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/accesslog"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestCertificateExpiryFollowsRotation(t *testing.T) {
	m := New("sidecar")
	if !strings.Contains(scrape(t, m), "egret_sidecar_certificate_expiry_seconds 0") {
		t.Error("an unknown certificate should read 0")
	}
	current := &x509.Certificate{NotAfter: time.Unix(1000, 0)}
	m.Certificate(func() *x509.Certificate { return current })
	if !strings.Contains(scrape(t, m), "egret_sidecar_certificate_expiry_seconds 1000") {
		t.Error("expiry not reported")
	}
	current = &x509.Certificate{NotAfter: time.Unix(5000, 0)} // rotated
	if !strings.Contains(scrape(t, m), "egret_sidecar_certificate_expiry_seconds 5000") {
		t.Error("the rotated certificate's expiry is not reported")
	}
}

func TestRequestsAreCountedByConfigNamesNeverByTheHost(t *testing.T) {
	tests := []struct {
		name   string
		labels Labels
		want   string
	}{
		{"a registered service through a gateway", Labels{Service: "bookinfo/google", Gateway: "cluster1/ns/gw"},
			`egret_gateway_requests_total{decision="deny",destination_service="bookinfo/google",gateway="cluster1/ns/gw",policy="bookinfo/p",response_flags="RBAC",source_identity="spiffe://c1/ns/a/sa/b",status="403"} 3`},
		{"a host in no service", Labels{},
			`egret_gateway_requests_total{decision="deny",destination_service="unknown",gateway="",policy="bookinfo/p",response_flags="RBAC",source_identity="spiffe://c1/ns/a/sa/b",status="403"} 3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New("gateway")
			for i := 0; i < 3; i++ {
				m.Request(&accesslog.Entry{SourceIdentity: "spiffe://c1/ns/a/sa/b", Authority: fmt.Sprintf("host-%d.example.com:80", i),
					SNI: fmt.Sprintf("sni-%d", i), Path: fmt.Sprintf("/p%d", i), Status: 403, Policy: "bookinfo/p",
					Decision: accesslog.DecisionDeny, ResponseFlags: []accesslog.Flag{accesslog.FlagPolicyDenied}, Duration: time.Millisecond}, tc.labels)
			}
			out := scrape(t, m)
			if !strings.Contains(out, tc.want) {
				t.Errorf("want %s in:\n%s", tc.want, out)
			}
			if strings.Contains(out, "example.com") || strings.Contains(out, "sni-") || strings.Contains(out, "/p1") {
				t.Errorf("a host, SNI or path became a label:\n%s", out)
			}
		})
	}
}
