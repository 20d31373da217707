package supervisor

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/standin"
)

// upStandin is `egret up --standin`: one local server that answers for every external host the
// resources name (HTTPS with a CA of its own, and plain HTTP), and the --resolve and --upstream-ca
// settings that point the gateways at it. Hosts added while up runs get it too.
type upStandin struct {
	srv    *standin.Server
	dir    string // holds ca.pem (the CA certificate only; its key never leaves memory)
	caFile string
}

// startStandin starts the server and writes the CA the gateways verify it with; extraCA is the
// user's --upstream-ca, kept trusted beside it.
func startStandin(extraCA string) (*upStandin, error) {
	srv, err := standin.Start()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "egret-standin-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	bundle := append([]byte(nil), srv.CAPEM...)
	if extraCA != "" {
		b, err := os.ReadFile(extraCA)
		if err != nil {
			srv.Close()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("--upstream-ca: %w", err)
		}
		bundle = append(bundle, b...)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, bundle, 0o644); err != nil {
		srv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &upStandin{srv: srv, dir: dir, caFile: caFile}, nil
}

func (s *upStandin) close() {
	s.srv.Close()
	os.RemoveAll(s.dir)
}

// overrides are HOST:PORT=ADDR for every host:port the plan's gateways and sidecars dial by name:
// ports the proxy originates TLS to, or that carry TLS, go to the HTTPS server, the rest to plain HTTP.
// Wildcard hosts cannot be listed, and services with ExternalEndpoints dial those addresses instead.
func (s *upStandin) overrides(plan *ir.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for _, sv := range plan.Services {
		for _, p := range sv.Ports {
			if len(p.Endpoints) > 0 || p.NoEndpoints != "" {
				continue
			}
			port := p.TargetPort
			if port == 0 {
				port = p.Number
			}
			addr := s.srv.PlainAddr
			if p.TLS != nil || strings.EqualFold(p.Protocol, "HTTPS") || strings.EqualFold(p.Protocol, "TLS") {
				addr = s.srv.TLSAddr
			}
			for _, h := range sv.Hosts {
				if h.IsWildcard() {
					continue
				}
				k := net.JoinHostPort(string(h), strconv.Itoa(int(port))) + "=" + addr
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
