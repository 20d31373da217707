package gateway

import (
	"encoding/json"
	"net/http"

	"egret.dev/egret/internal/proxyconfig"
)

// AdminHandler serves /stats/prometheus, /healthz/ready and /config_dump, as Envoy's admin port does.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /stats/prometheus", g.p.Metrics.Handler())
	mux.HandleFunc("GET /healthz/ready", g.readyHandler)
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(redact(g.Config()))
	})
	return mux
}

// ReadyHandler answers 200 while the gateway serves and 503 while it starts or drains.
func (g *Gateway) ReadyHandler() http.Handler { return http.HandlerFunc(g.readyHandler) }

func (g *Gateway) readyHandler(w http.ResponseWriter, _ *http.Request) {
	if !g.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// redact copies a config with the paths of private keys hidden: the dump is for people, who do not need
// to know where key material lives.
func redact(c *proxyconfig.Gateway) *proxyconfig.Gateway {
	out := *c
	out.Plan.Services = append(out.Plan.Services[:0:0], c.Plan.Services...)
	for i := range out.Plan.Services {
		s := &out.Plan.Services[i]
		s.Ports = append(s.Ports[:0:0], s.Ports...)
		for j := range s.Ports {
			if t := s.Ports[j].TLS; t != nil && t.PrivateKey != "" {
				cp := *t
				cp.PrivateKey = "[redacted]"
				s.Ports[j].TLS = &cp
			}
		}
	}
	return &out
}
