package loadgen

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
)

// Options describe egret loadgen: one run per Concurrency value of GET requests against URL, each
// run's result printed to Out as Output says (table, markdown or tsv).
type Options struct {
	URL, Proxy        string // loopback only
	Concurrency       []int
	Requests          int
	Duration          time.Duration
	CACert, Cert, Key string // PEM files: the roots servers are verified against; the client certificate
	H2                bool   // HTTP/2 only (needs TLS); otherwise HTTP/1.1 only
	WatchPID          int
	Output, Label     string
	Host              string // the Host (HTTP/2 :authority) sent instead of the URL's
	ServerID          string // verify the server by this SPIFFE ID instead of a host name
	Out               io.Writer
}

// UsageError marks options that do not go together.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Validate reports every option out of range at once (not Output, which the caller checks).
func (o Options) Validate() error {
	var errs []error
	if (o.Cert == "") != (o.Key == "") {
		errs = append(errs, errors.New("--cert and --key go together"))
	}
	if len(o.Concurrency) == 0 {
		errs = append(errs, errors.New("--concurrency needs at least one value"))
	}
	for _, c := range o.Concurrency {
		if c < 1 {
			errs = append(errs, fmt.Errorf("--concurrency values must be at least 1, got %d", c))
		}
	}
	if o.Requests < 1 {
		errs = append(errs, fmt.Errorf("--requests must be at least 1, got %d", o.Requests))
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration must be positive, got %s", o.Duration))
	}
	if o.WatchPID < 0 {
		errs = append(errs, fmt.Errorf("--watch-pid must be positive, got %d", o.WatchPID))
	}
	if o.Host != "" {
		if err := checkHostHeader(o.Host); err != nil {
			errs = append(errs, fmt.Errorf("--host: %w", err))
		}
	}
	if o.ServerID != "" {
		if _, err := ParseSPIFFEID(o.ServerID); err != nil {
			errs = append(errs, fmt.Errorf("--server-spiffe-id: %w", err))
		}
		if o.CACert == "" {
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

// Drive validates o, runs the loads one after the other and prints each result; any failed request
// makes it return an error after every result is printed.
func Drive(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return usage(err)
	}
	target, proxy, err := o.endpoints(ctx)
	if err != nil {
		return err
	}
	tlsConf, err := o.tlsConfig()
	if err != nil {
		return err
	}
	return o.runAll(ctx, target, proxy, tlsConf)
}

// endpoints checks that the target and the proxy are on loopback and fit the TLS options.
func (o Options) endpoints(ctx context.Context) (target, proxy *url.URL, err error) {
	target, err = RequireLoopbackURL(ctx, net.DefaultResolver, o.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("--url %w", err)
	}
	if o.Proxy != "" {
		if proxy, err = RequireLoopbackURL(ctx, net.DefaultResolver, o.Proxy); err != nil {
			return nil, nil, fmt.Errorf("--proxy %w", err)
		}
	}
	if o.ServerID != "" && target.Scheme != "https" && (proxy == nil || proxy.Scheme != "https") {
		return nil, nil, usage(errors.New("--server-spiffe-id needs an https URL or proxy"))
	}
	if o.H2 && target.Scheme != "https" {
		return nil, nil, usage(fmt.Errorf("--h2 needs an https URL, got %s", target.Scheme))
	}
	return target, proxy, nil
}

// runAll runs one load per concurrency value and prints each result as it ends.
func (o Options) runAll(ctx context.Context, target, proxy *url.URL, tlsConf *tls.Config) error {
	label := o.Label
	if label == "" {
		label = "client → upstream"
		if proxy != nil {
			label = "client → proxy → upstream"
		}
	}
	switch o.Output {
	case "markdown":
		fmt.Fprintln(o.Out, MarkdownHeader())
	case "tsv":
		fmt.Fprintln(o.Out, TSVHeader())
	}
	var failed []string
	for _, c := range o.Concurrency {
		res, err := o.runOne(ctx, c, target, proxy, tlsConf)
		if err != nil {
			return err
		}
		switch o.Output {
		case "markdown":
			fmt.Fprintln(o.Out, res.MarkdownRow(label))
		case "tsv":
			fmt.Fprintln(o.Out, res.TSVRow(label))
		default:
			fmt.Fprintln(o.Out, res.String())
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
		return errors.Join(errs...)
	}
	return nil
}

// runOne runs one load with a fresh client, so every run opens its own connections.
func (o Options) runOne(ctx context.Context, c int, target, proxy *url.URL, tlsConf *tls.Config) (Result, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: DialControl}
	var protocols http.Protocols
	if o.H2 {
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
		if o.Host != "" {
			// Only the Host header changes: the transport still dials the URL's (loopback) address.
			req.Host = o.Host
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
	return Run(ctx, Params{Concurrency: c, Requests: o.Requests, Duration: o.Duration, Do: do, WatchPID: o.WatchPID})
}

// tlsConfig verifies servers against --cacert (or the system roots), by SPIFFE ID with
// --server-spiffe-id, and presents --cert when given.
func (o Options) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate found", o.CACert)
		}
		conf.RootCAs = pool
	}
	if o.ServerID != "" {
		id, err := ParseSPIFFEID(o.ServerID)
		if err != nil {
			return nil, fmt.Errorf("--server-spiffe-id: %w", err)
		}
		// InsecureSkipVerify turns off only Go's chain and host name check, which an SVID (no host
		// name) cannot pass; VerifyConnection puts the chain check back and adds the SPIFFE ID check.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = VerifySPIFFEServer(conf.RootCAs, id)
	}
	if o.Cert != "" {
		pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

func usage(err error) error { return UsageError{Err: err} }
