package loadgen

import (
	"context"
	"net"
	"strings"
	"testing"
)

// fixedResolver answers every name with the same addresses, so no test depends on real DNS.
type fixedResolver []string

func (r fixedResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range r {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestRequireLoopbackURL(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		resolves fixedResolver
		want     string // "" accepts
	}{
		{"IPv4 loopback", "http://127.0.0.1:8080/x", nil, ""},
		{"anywhere in 127/8", "https://127.3.2.1/", nil, ""},
		{"IPv6 loopback", "http://[::1]:80/", nil, ""},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:80/", nil, ""},
		{"name resolving to loopback only", "http://upstream.test:80/", fixedResolver{"127.0.0.1", "::1"}, ""},
		{"private address", "http://10.0.0.1/", nil, "not a loopback address"},
		{"unspecified address", "http://0.0.0.0:80/", nil, "not a loopback address"},
		{"public IPv6", "http://[2001:db8::1]/", nil, "not a loopback address"},
		{"name resolving elsewhere", "http://example.com/", fixedResolver{"93.184.215.14"}, "resolves to 93.184.215.14"},
		{"name resolving partly elsewhere", "http://split.test/", fixedResolver{"127.0.0.1", "192.0.2.7"}, "resolves to 192.0.2.7"},
		{"name resolving to nothing", "http://empty.test/", fixedResolver{}, "resolves to no address"},
		{"other scheme", "ftp://127.0.0.1/", nil, "scheme must be http or https"},
		{"no host", "http:///path", nil, "no host"},
		{"not a URL", "http://[::1", nil, "missing ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RequireLoopbackURL(context.Background(), tc.resolves, tc.url)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRequireLoopbackURLResolvesLocalhost(t *testing.T) {
	if _, err := RequireLoopbackURL(context.Background(), net.DefaultResolver, "http://localhost:1/"); err != nil {
		t.Fatal(err)
	}
}

func TestDialControl(t *testing.T) {
	tests := []struct {
		address string
		ok      bool
	}{
		{"127.0.0.1:443", true},
		{"127.255.0.9:80", true},
		{"[::1]:80", true},
		{"10.1.2.3:80", false},
		{"[2001:db8::1]:443", false},
		{"0.0.0.0:80", false},
		{"not-an-address", false},
	}
	for _, tc := range tests {
		t.Run(tc.address, func(t *testing.T) {
			if err := DialControl("tcp", tc.address, nil); (err == nil) != tc.ok {
				t.Fatalf("DialControl(%q) = %v, want ok=%v", tc.address, err, tc.ok)
			}
		})
	}
}

// TestDialControlAllowsARealLoopbackDial proves the control function lets a real dial through.
func TestDialControlAllowsARealLoopbackDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: DialControl}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
