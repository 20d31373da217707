package gateway

import (
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"egret.dev/egret/internal/accesslog"
)

// Metrics are the gateway's Prometheus series, on a registry of its own.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	active      prometheus.Gauge
	connections prometheus.Counter
	config      *prometheus.GaugeVec
	certExpiry  prometheus.Gauge
}

// NewMetrics registers the gateway's series.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egret_gateway_requests_total",
			Help: "Requests (HTTP) and tunnels (CONNECT) by source identity, destination host, status and decision.",
		}, []string{"source_identity", "destination_host", "status", "decision", "response_flags"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "egret_gateway_request_duration_seconds",
			Help:    "Time from request start to the last byte, by destination host and decision.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"destination_host", "decision"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egret_gateway_downstream_connections_active",
			Help: "Open mTLS connections from sidecars.",
		}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egret_gateway_downstream_connections_total",
			Help: "mTLS connections accepted from sidecars.",
		}),
		config: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "egret_gateway_config_info",
			Help: "The applied config version (value 1).",
		}, []string{"version"}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egret_gateway_certificate_expiry_seconds",
			Help: "Unix time at which the gateway's SVID expires.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.active, m.connections, m.config, m.certExpiry)
	return m
}

func (m *Metrics) request(e *accesslog.Entry) {
	flags := make([]string, len(e.ResponseFlags))
	for i, f := range e.ResponseFlags {
		flags[i] = string(f)
	}
	host := hostOnly(e.Authority)
	m.requests.WithLabelValues(e.SourceIdentity, host, strconv.Itoa(e.Status), string(e.Decision), strings.Join(flags, ",")).Inc()
	m.duration.WithLabelValues(host, string(e.Decision)).Observe(e.Duration.Seconds())
}

func (m *Metrics) connOpened() { m.active.Inc(); m.connections.Inc() }
func (m *Metrics) connClosed() { m.active.Dec() }

// ConfigVersion records the applied config version.
func (m *Metrics) ConfigVersion(v string) {
	m.config.Reset()
	m.config.WithLabelValues(v).Set(1)
}

// Certificate records the expiry of the certificate the gateway presents.
func (m *Metrics) Certificate(c *x509.Certificate) {
	if c != nil {
		m.certExpiry.Set(float64(c.NotAfter.Unix()))
	}
}

// Handler serves the series in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 5 * time.Second})
}

func hostOnly(authority string) string {
	h, _, err := splitAuthority(authority, 0)
	if err != nil {
		return ""
	}
	return h
}
