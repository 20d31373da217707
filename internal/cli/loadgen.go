package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/loadgen"
)

type loadgenFlags struct {
	url, proxy        string
	concurrency       []int
	requests          int
	duration          time.Duration
	cacert, cert, key string
	h2                bool
	watchPID          int
	output, label     string
	host              string
	serverID          string
}

func newLoadgenCmd(s streams) *cobra.Command {
	var f loadgenFlags
	cmd := &cobra.Command{
		Use:   "loadgen --url URL",
		Short: "Send keep-alive load to a loopback target and report throughput and latency",
		Long: `loadgen runs one load per concurrency value against URL, each caller sending GET
requests back to back over kept-alive connections, and prints requests per second,
p50/p90/p99/max latency of the successful requests and, with --watch-pid, the CPU
time and resident memory of a process (e.g. the gateway) per run.

Each run stops after --requests or --duration, whichever comes first. Only loopback
targets are allowed: URL and proxy must be 127.0.0.0/8 or ::1, or names resolving
only there; every connection is checked again when it is dialled.

--host sets the request's Host (the HTTP/2 :authority) while the URL still names
the loopback address that is dialled: a gateway routes by that name. A server that
proves itself with a SPIFFE SVID (no DNS name or IP in its certificate) is verified
with --server-spiffe-id: its chain against --cacert, then its URI SAN.

A 4xx or 5xx answer counts as an error; any error makes the command exit 1 after
printing every result.`,
		Example: `  egret loadgen --url http://127.0.0.1:8080/ --concurrency 1,16,64 --requests 20000
  egret loadgen --url http://upstream.local:8080/ --proxy https://127.0.0.1:15443 \
      --cacert ca.pem --cert client.pem --key client-key.pem --watch-pid $(pidof egret) -o markdown
  egret loadgen --url https://127.0.0.1:18443/ --host www.google.com --h2 \
      --cacert bundle.pem --cert svid.pem --key key.pem \
      --server-spiffe-id spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), s)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "target URL (loopback only)")
	fl.StringVar(&f.proxy, "proxy", "", "send requests through this HTTP or HTTPS proxy (loopback only), e.g. the gateway")
	fl.IntSliceVar(&f.concurrency, "concurrency", []int{1, 16, 64}, "callers per run; one run per value")
	fl.IntVar(&f.requests, "requests", 10000, "requests per run, at most")
	fl.DurationVar(&f.duration, "duration", 30*time.Second, "wall time per run, at most")
	fl.StringVar(&f.cacert, "cacert", "", "PEM CA bundle to verify the server (and an HTTPS proxy) with, instead of the system roots")
	fl.StringVar(&f.cert, "cert", "", "PEM client certificate for mutual TLS (with --key)")
	fl.StringVar(&f.key, "key", "", "PEM private key of --cert")
	fl.BoolVar(&f.h2, "h2", false, "speak HTTP/2 only (needs TLS); otherwise HTTP/1.1 only")
	fl.IntVar(&f.watchPID, "watch-pid", 0, "sample this process's CPU time and memory before and after each run")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, markdown or tsv (plain numbers, for scripts)")
	fl.StringVar(&f.label, "label", "", "path name in the markdown or tsv table (default: client → upstream, or client → proxy → upstream)")
	fl.StringVar(&f.host, "host", "", "send this Host (HTTP/2 :authority) instead of the URL's host; the URL's address is still what is dialled")
	fl.StringVar(&f.serverID, "server-spiffe-id", "", "verify the server by its chain (against --cacert) and this SPIFFE ID in its URI SAN, not by host name")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}

func (f *loadgenFlags) check() error {
	var errs []error
	if f.output == "text" { // the name -o had before every command said table
		f.output = "table"
	}
	if err := checkOutput(f.output, "table", "markdown", "tsv"); err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	if (f.cert == "") != (f.key == "") {
		errs = append(errs, errors.New("--cert and --key go together"))
	}
	if len(f.concurrency) == 0 {
		errs = append(errs, errors.New("--concurrency needs at least one value"))
	}
	for _, c := range f.concurrency {
		if c < 1 {
			errs = append(errs, fmt.Errorf("--concurrency values must be at least 1, got %d", c))
		}
	}
	if f.requests < 1 {
		errs = append(errs, fmt.Errorf("--requests must be at least 1, got %d", f.requests))
	}
	if f.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration must be positive, got %s", f.duration))
	}
	if f.watchPID < 0 {
		errs = append(errs, fmt.Errorf("--watch-pid must be positive, got %d", f.watchPID))
	}
	if f.host != "" {
		if err := checkHostHeader(f.host); err != nil {
			errs = append(errs, fmt.Errorf("--host: %w", err))
		}
	}
	if f.serverID != "" {
		if _, err := loadgen.ParseSPIFFEID(f.serverID); err != nil {
			errs = append(errs, fmt.Errorf("--server-spiffe-id: %w", err))
		}
		if f.cacert == "" {
			errs = append(errs, errors.New("--server-spiffe-id needs --cacert (the trust bundle the server's SVID chains to)"))
		}
	}
	return errors.Join(errs...)
}

// checkHostHeader accepts host or host:port, where host is a DNS name or an IP address (IPv6 in
// brackets), so a typo cannot smuggle a path, spaces or header syntax into the request.
func checkHostHeader(h string) error {
	u, err := url.Parse("http://" + h)
	if err != nil || u.Host != h || u.Hostname() == "" {
		return fmt.Errorf("%q is not a host or host:port", h)
	}
	for _, r := range u.Hostname() {
		if !(r == '.' || r == '-' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%q is not a host or host:port", h)
		}
	}
	return nil
}

func (f *loadgenFlags) run(ctx context.Context, s streams) error {
	if err := f.check(); err != nil {
		return withCode(ExitUsage, err)
	}
	target, err := loadgen.RequireLoopbackURL(ctx, net.DefaultResolver, f.url)
	if err != nil {
		return withCode(ExitError, fmt.Errorf("--url %w", err))
	}
	var proxy *url.URL
	if f.proxy != "" {
		if proxy, err = loadgen.RequireLoopbackURL(ctx, net.DefaultResolver, f.proxy); err != nil {
			return withCode(ExitError, fmt.Errorf("--proxy %w", err))
		}
	}
	if f.serverID != "" && target.Scheme != "https" && (proxy == nil || proxy.Scheme != "https") {
		return withCode(ExitUsage, errors.New("--server-spiffe-id needs an https URL or proxy"))
	}
	if f.h2 && target.Scheme != "https" {
		return withCode(ExitUsage, fmt.Errorf("--h2 needs an https URL, got %s", target.Scheme))
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return withCode(ExitError, err)
	}

	label := f.label
	if label == "" {
		label = "client → upstream"
		if proxy != nil {
			label = "client → proxy → upstream"
		}
	}
	switch f.output {
	case "markdown":
		fmt.Fprintln(s.out, loadgen.MarkdownHeader())
	case "tsv":
		fmt.Fprintln(s.out, loadgen.TSVHeader())
	}
	var failed []string
	for _, c := range f.concurrency {
		res, err := f.runOne(ctx, c, target, proxy, tlsConf)
		if err != nil {
			return withCode(ExitError, err)
		}
		switch f.output {
		case "markdown":
			fmt.Fprintln(s.out, res.MarkdownRow(label))
		case "tsv":
			fmt.Fprintln(s.out, res.TSVRow(label))
		default:
			fmt.Fprintln(s.out, res.String())
		}
		if res.Errors > 0 {
			failed = append(failed, fmt.Sprintf("concurrency %d: %d of %d requests failed, first: %v", c, res.Errors, res.Requests, res.FirstError))
		}
	}
	if len(failed) > 0 {
		errs := make([]error, len(failed))
		for i, m := range failed {
			errs[i] = errors.New(m)
		}
		return withCode(ExitError, errors.Join(errs...))
	}
	return nil
}

// runOne runs one load with a fresh client, so every run opens its own connections.
func (f *loadgenFlags) runOne(ctx context.Context, c int, target, proxy *url.URL, tlsConf *tls.Config) (loadgen.Result, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: loadgen.DialControl}
	var protocols http.Protocols
	if f.h2 {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	tr := &http.Transport{
		// Never the environment's proxy: load goes only where the flags say.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        c,
		MaxIdleConnsPerHost: c,
		Protocols:           &protocols,
	}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	u := target.String()
	do := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if f.host != "" {
			// Only the Host header changes: the transport still dials the URL's (loopback) address.
			req.Host = f.host
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		// Reading the body to the end is what lets the connection be reused.
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	}
	return loadgen.Run(ctx, loadgen.Params{Concurrency: c, Requests: f.requests, Duration: f.duration, Do: do, WatchPID: f.watchPID})
}

// tlsConfig verifies servers against --cacert (or the system roots), by SPIFFE ID with
// --server-spiffe-id, and presents --cert when given.
func (f *loadgenFlags) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.cacert != "" {
		pem, err := os.ReadFile(f.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate found", f.cacert)
		}
		conf.RootCAs = pool
	}
	if f.serverID != "" {
		id, err := loadgen.ParseSPIFFEID(f.serverID)
		if err != nil {
			return nil, fmt.Errorf("--server-spiffe-id: %w", err)
		}
		// InsecureSkipVerify turns off only Go's chain and host name check, which an SVID (no host
		// name) cannot pass; VerifyConnection puts the chain check back and adds the SPIFFE ID check.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = loadgen.VerifySPIFFEServer(conf.RootCAs, id)
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}
