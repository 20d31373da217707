package check

import "testing"

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, to, host, path string
		port                 uint32
		opaque               bool
	}{
		{name: "http URL defaults to port 80", to: "http://www.google.com/search?q=x", host: "www.google.com", port: 80, path: "/search?q=x"},
		{name: "https URL defaults to 443 and is opaque", to: "https://www.google.com", host: "www.google.com", port: 443, opaque: true},
		{name: "explicit port wins", to: "http://www.google.com:8080/", host: "www.google.com", port: 8080, path: "/"},
		{name: "host:port", to: "www.google.com:80", host: "www.google.com", port: 80},
		{name: "IPv6 host:port", to: "[::1]:443", host: "::1", port: 443},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, path, opaque, err := ParseTarget(tt.to)
			if err != nil || host != tt.host || port != tt.port || path != tt.path || opaque != tt.opaque {
				t.Fatalf("got %q %d %q %v %v", host, port, path, opaque, err)
			}
		})
	}
}
