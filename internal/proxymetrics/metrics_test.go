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

func TestRequestsAreCountedByIdentityHostStatusAndDecision(t *testing.T) {
	m := New("gateway")
	for i := 0; i < 3; i++ {
		m.Request(&accesslog.Entry{SourceIdentity: "spiffe://c1/ns/a/sa/b", Authority: "WWW.Example.com:80", Status: 403,
			Decision: accesslog.DecisionDeny, ResponseFlags: []accesslog.Flag{accesslog.FlagPolicyDenied}, Duration: time.Millisecond})
	}
	want := fmt.Sprintf(`egret_gateway_requests_total{decision="deny",destination_host="www.example.com",response_flags="RBAC",source_identity="spiffe://c1/ns/a/sa/b",status="403"} %d`, 3)
	if out := scrape(t, m); !strings.Contains(out, want) {
		t.Errorf("want %s in:\n%s", want, out)
	}
}
