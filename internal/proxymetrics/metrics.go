// Package proxymetrics holds the Prometheus series that egret's gateway and sidecar both export, named
// egret_<component>_*.
package proxymetrics

import (
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"egret.dev/egret/internal/accesslog"
)

// Metrics are one proxy's Prometheus series, on a registry of its own.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	active      prometheus.Gauge
	connections prometheus.Counter
	config      *prometheus.GaugeVec
	certExpiry  prometheus.GaugeFunc
	// leaf returns the certificate the proxy presents now; read at each scrape, so rotation shows.
	leaf atomic.Pointer[func() *x509.Certificate]
}

// New registers the series of component ("gateway" or "sidecar").
func New(component string) *Metrics {
	n := func(s string) string { return "egret_" + component + "_" + s }
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: n("requests_total"),
			Help: "Requests (HTTP) and tunnels (CONNECT) by source identity, destination service, gateway, policy, status and decision.",
		}, []string{"source_identity", "destination_service", "gateway", "policy", "status", "decision", "response_flags"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    n("request_duration_seconds"),
			Help:    "Time from request start to the last byte, by destination service and decision.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"destination_service", "decision"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: n("downstream_connections_active"),
			Help: "Open connections from clients.",
		}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: n("downstream_connections_total"),
			Help: "Connections accepted from clients.",
		}),
		config: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: n("config_info"),
			Help: "The applied config version (value 1).",
		}, []string{"version"}),
	}
	m.certExpiry = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: n("certificate_expiry_seconds"),
		Help: "Unix time at which the SVID the proxy presents now expires (0 when unknown).",
	}, func() float64 {
		if f := m.leaf.Load(); f != nil {
			if c := (*f)(); c != nil {
				return float64(c.NotAfter.Unix())
			}
		}
		return 0
	})
	m.reg.MustRegister(m.requests, m.duration, m.active, m.connections, m.config, m.certExpiry)
	return m
}

// Labels name what a request is counted under. Every value comes from config (service and gateway IDs)
// so the number of series stays bounded whatever hosts callers send; the raw Host header, SNI and path
// never become a label.
type Labels struct {
	// Service is the ExternalService the decision matched; "" (any host in no service) counts as
	// UnknownService.
	Service string
	// Gateway is the gateway that carried the call (the sidecar's), or this gateway's own ID.
	Gateway string
}

// UnknownService is the one destination_service every host outside the registry is counted under.
const UnknownService = "unknown"

// Request counts one request or connection from its access log entry. Besides l, it reads only the
// entry's verified source identity, the policy that decided (a name from config), status, decision and
// response flags.
func (m *Metrics) Request(e *accesslog.Entry, l Labels) {
	flags := make([]string, len(e.ResponseFlags))
	for i, f := range e.ResponseFlags {
		flags[i] = string(f)
	}
	svc := l.Service
	if svc == "" {
		svc = UnknownService
	}
	m.requests.WithLabelValues(e.SourceIdentity, svc, l.Gateway, e.Policy, strconv.Itoa(e.Status), string(e.Decision), strings.Join(flags, ",")).Inc()
	m.duration.WithLabelValues(svc, string(e.Decision)).Observe(e.Duration.Seconds())
}

// ConnOpened and ConnClosed track client connections.
func (m *Metrics) ConnOpened() { m.active.Inc(); m.connections.Inc() }
func (m *Metrics) ConnClosed() { m.active.Dec() }

// ConfigVersion records the applied config version.
func (m *Metrics) ConfigVersion(v string) {
	m.config.Reset()
	m.config.WithLabelValues(v).Set(1)
}

// Certificate tells the metrics where the proxy's current certificate is; its expiry is read at
// each scrape, so a rotated SVID shows at once.
func (m *Metrics) Certificate(current func() *x509.Certificate) {
	m.leaf.Store(&current)
}

// Handler serves the series in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 5 * time.Second})
}
