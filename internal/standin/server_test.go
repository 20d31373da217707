package standin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// client sends every request to addr, whatever the URL's host, as a gateway with --resolve does.
func client(addr string, roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestTheServerStandsInForAnyHostUnderItsOwnCA(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	tests := []struct {
		name, addr, url, want string
	}{
		{"HTTPS for www.google.com", s.TLSAddr, "https://www.google.com/search", "egret stand-in for www.google.com: GET https://www.google.com/search"},
		{"HTTPS for another host, certificate made on demand", s.TLSAddr, "https://api.example.com/x", "egret stand-in for api.example.com: GET https://api.example.com/x"},
		{"plain HTTP", s.PlainAddr, "http://plain.example.com/", "egret stand-in for plain.example.com: GET http://plain.example.com/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client(tc.addr, roots).Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), tc.want) {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, b, tc.want)
			}
		})
	}
	t.Run("a client that does not trust the stand-in CA is refused", func(t *testing.T) {
		if _, err := client(s.TLSAddr, x509.NewCertPool()).Get("https://www.google.com/"); err == nil {
			t.Error("a client without the stand-in CA accepted its certificate")
		}
	})
}
