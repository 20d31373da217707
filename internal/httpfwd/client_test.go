package httpfwd_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"egret.dev/egret/internal/httpfwd"
)

// Forward's own tests, again over the HTTP/1.1 Client instead of net/http's Transport.
func TestForwardBehavesTheSameOverTheHTTP1Client(t *testing.T) {
	old := newRoundTripper
	newRoundTripper = func() interface {
		http.RoundTripper
		CloseIdleConnections()
	} {
		return &httpfwd.Client{Dial: (&net.Dialer{}).DialContext}
	}
	defer func() { newRoundTripper = old }()
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"hop-by-hop and forwarding headers are stripped", TestForwardStripsHopByHopAndForwardingHeaders},
		{"trailers are copied, announced or not", TestForwardCopiesTrailersAnnouncedAndNot},
		{"1xx answers reach the client", TestForwardPassesInformationalAnswers},
		{"an answer of unknown length streams", TestForwardStreamsAnAnswerOfUnknownLength},
		{"a body broken upstream aborts the client's", TestForwardAbortsWhenTheBodyBreaks},
		{"a dial failure is returned with nothing written", TestForwardReturnsTheFailureWithNothingWritten},
		{"ModifyResponse errors are returned", TestForwardReturnsModifyResponseErrors},
	} {
		t.Run(tc.name, tc.test)
	}
}

// tlsUpstream is an HTTPS server on loopback (offering h2 and http/1.1) that counts its connections,
// and a client that originates TLS to it, verifying its certificate for example.com.
func tlsUpstream(t *testing.T, h http.HandlerFunc, tune func(*httpfwd.Client)) (*httptest.Server, *httpfwd.Client, *atomic.Int32) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed:
			closedConns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := &httpfwd.Client{
		Dial: (&net.Dialer{}).DialContext,
		TLS:  &tls.Config{RootCAs: roots, ServerName: "example.com"},
	}
	if tune != nil {
		tune(c)
	}
	t.Cleanup(c.Close)
	return srv, c, &conns
}

// closedConns counts the connections tlsUpstream's servers saw closed (one test reads it).
var closedConns atomic.Int32

// exchange sends one request with c and reads its whole answer; reused says whether it went on a
// pooled connection.
func exchange(t *testing.T, c *httpfwd.Client, req *http.Request) (resp *http.Response, body string, reused bool, err error) {
	t.Helper()
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err = c.RoundTrip(req)
	if err != nil {
		return nil, "", reused, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), reused, err
}

func get(t *testing.T, c *httpfwd.Client, url string) (*http.Response, string, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, body, reused, err := exchange(t, c, req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, body, reused
}

func TestClientVerifiesTLSAndSpeaksHTTP1OnOneKeptAliveConnection(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	srv, c, conns := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Proto+" "+r.TLS.ServerName+" "+r.Host)
		mu.Unlock()
		io.WriteString(w, "hello")
	}, nil)
	for i := range 3 {
		_, body, reused := get(t, c, srv.URL+"/")
		if body != "hello" || reused != (i > 0) {
			t.Errorf("request %d: body %q, reused %v", i, body, reused)
		}
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections for 3 sequential requests, want 1", conns.Load())
	}
	if want := "HTTP/1.1 example.com " + strings.TrimPrefix(srv.URL, "https://"); seen[0] != want {
		t.Errorf("upstream saw %q, want %q (HTTP/1.1 by ALPN although it offers h2, SNI from the config)", seen[0], want)
	}
}

func TestClientRefusesAnUpstreamItCannotVerify(t *testing.T) {
	srv, c, _ := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {}, func(c *httpfwd.Client) {
		c.TLS = &tls.Config{ServerName: "example.com", RootCAs: x509.NewCertPool()} // not the server's CA
	})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	_, _, _, err := exchange(t, c, req)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("got %v, want the certificate verification error", err)
	}
	_, c2, _ := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {}, nil)
	c2.TLS = &tls.Config{RootCAs: c2.TLS.RootCAs, ServerName: "other.test"}
	c2 = &httpfwd.Client{Dial: c2.Dial, TLS: c2.TLS}
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	_, _, _, err = exchange(t, c2, req)
	var host x509.HostnameError
	if !errors.As(err, &host) {
		t.Fatalf("got %v for a certificate not valid for the SNI name, want a hostname error", err)
	}
}

func TestClientClosesWhenEitherSideAsksTo(t *testing.T) {
	srv, c, conns := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "x")
	}, nil)
	get(t, c, srv.URL+"/close")
	if _, _, reused := get(t, c, srv.URL+"/"); reused {
		t.Error("a connection the upstream closed with Connection: close was reused")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Close = true
	if _, _, _, err := exchange(t, c, req); err != nil {
		t.Fatal(err)
	}
	if _, _, reused := get(t, c, srv.URL+"/"); reused {
		t.Error("a connection the request closed with Connection: close was reused")
	}
	if conns.Load() != 3 { // the upstream's close; the request's close (on the second); the last
		t.Errorf("%d connections, want 3", conns.Load())
	}
}

func TestClientReadsEveryKindOfBody(t *testing.T) {
	srv, c, conns := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			io.WriteString(w, "one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two")
		case "/trailers":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/hints":
			w.Header().Set("Link", "</a.css>")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		default:
			w.Header().Set("Content-Length", "5")
			if r.Method != http.MethodHead {
				io.WriteString(w, "fixed")
			}
		}
	}, nil)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"content-length", "GET", "/", "fixed", 200},
		{"chunked", "GET", "/chunked", "one,two", 200},
		{"trailers", "GET", "/trailers", "body", 200},
		{"HEAD has no body", "HEAD", "/", "", 200},
		{"204 has no body", "GET", "/204", "", 204},
		{"304 has no body", "GET", "/304", "", 304},
		{"1xx then the answer", "GET", "/hints", "final", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hints []string
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					hints = append(hints, fmt.Sprint(code, h.Get("Link")))
					return nil
				},
			})
			req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, nil)
			resp, body, _, err := exchange(t, c, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.path == "/trailers" && resp.Trailer.Get("X-Sum") != "42" {
				t.Errorf("trailers %v, want X-Sum 42", resp.Trailer)
			}
			if tc.path == "/hints" && (len(hints) != 1 || hints[0] != "103</a.css>") {
				t.Errorf("1xx answers seen %q, want one 103 with its Link", hints)
			}
		})
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections for %d requests read to their end, want 1", conns.Load(), len(tests))
	}
}

func TestClientSendsRequestBodies(t *testing.T) {
	srv, c, _ := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %v %s", r.ContentLength, r.TransferEncoding, b)
	}, nil)
	for _, tc := range []struct {
		name   string
		length int64
		want   string
	}{
		{"with a Content-Length", 7, "7 [] payload"},
		{"chunked, length unknown", -1, "-1 [chunked] payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("payload")))
			req.ContentLength = tc.length
			_, body, _, err := exchange(t, c, req)
			if err != nil || body != tc.want {
				t.Errorf("got %q, %v; want %q", body, err, tc.want)
			}
		})
	}
	// An upstream that answers while the body is still coming (here: without reading it at all) does
	// not deadlock the exchange.
	srv2, c2, _ := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	}, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(make([]byte, 1<<20))
	req, _ := http.NewRequest(http.MethodPost, srv2.URL, pr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, _, _, err := exchange(t, c2, req.WithContext(ctx))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %v, %v; want the early 413", resp, err)
	}
}

// rawUpstream is a TLS server on loopback whose connections serve does whatever the test needs, and a
// client verifying its certificate.
func rawUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (string, *httpfwd.Client, *atomic.Int32) {
	t.Helper()
	cert, roots := selfSigned(t, "upstream.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	c := &httpfwd.Client{Dial: (&net.Dialer{}).DialContext, TLS: &tls.Config{RootCAs: roots, ServerName: "upstream.test"}}
	t.Cleanup(c.Close)
	return "https://" + ln.Addr().String(), c, &conns
}

func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

// readRequest reads one request (headers only) from a raw connection.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err == nil {
		io.Copy(io.Discard, req.Body)
	}
	return req, err
}

func TestClientReadsABodyDelimitedByClose(t *testing.T) {
	url, c, conns := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err == nil {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\n\r\nuntil the end")
		}
	})
	for range 2 {
		_, body, reused := get(t, c, url)
		if body != "until the end" || reused {
			t.Errorf("body %q, reused %v; want the whole body and a fresh connection each time", body, reused)
		}
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2", conns.Load())
	}
}

func TestClientDropsAConnectionThatDiesMidBody(t *testing.T) {
	url, c, conns := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/die" {
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
				return
			}
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	get(t, c, url+"/") // a kept-alive connection, so the broken one is not simply a fresh dial
	req, _ := http.NewRequest(http.MethodGet, url+"/die", nil)
	if _, _, _, err := exchange(t, c, req); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want the body cut short (unexpected EOF)", err)
	}
	if _, body, reused := get(t, c, url+"/"); reused || body != "ok" {
		t.Errorf("after a broken body: reused %v, body %q; want a new connection", reused, body)
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2", conns.Load())
	}
}

func TestClientRetriesOnlySafeRequestsOnAStaleConnection(t *testing.T) {
	// The upstream answers one request per connection and then closes it, without saying so: the
	// pooled connection is stale when the next request takes it.
	url, c, conns := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err == nil {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	get(t, c, url)
	time.Sleep(50 * time.Millisecond) // the close reaches the client
	if _, body, _ := get(t, c, url); body != "ok" {
		t.Errorf("a GET on a stale connection got %q, want it sent again on a new one", body)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("once"))
	time.Sleep(50 * time.Millisecond)
	if _, _, _, err := exchange(t, c, req); err == nil {
		t.Error("a POST with a body on a stale connection succeeded: it must not be sent twice")
	}
	if conns.Load() != 2 { // the first GET; the second's retry; the POST failed on the stale one
		t.Errorf("%d connections, want 2", conns.Load())
	}
	// A connection idle for a second or more is checked before reuse: the POST finds the upstream's
	// close there and goes on a new connection.
	get(t, c, url)
	time.Sleep(1100 * time.Millisecond)
	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader("once"))
	if _, body, reused, err := exchange(t, c, req); err != nil || body != "ok" || reused {
		t.Errorf("a POST after the idle check got %q, reused %v, %v; want it on a new connection", body, reused, err)
	}
}

func TestClientEndsExchangesAtTheContextsDeadlineOrCancellation(t *testing.T) {
	url, c, _ := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		readRequest(br)
		io.Copy(io.Discard, br) // never answers
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	start := time.Now()
	if _, _, _, err := exchange(t, c, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the deadline", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, url, nil)
	if _, _, _, err := exchange(t, c, req); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the cancellation", err)
	}
	// Through Forward, the exchange's Deadline bounds it without a deadline in the context.
	x := &httpfwd.Exchange{Deadline: time.Now().Add(100 * time.Millisecond)}
	rec := httptest.NewRecorder()
	x.Init(rec)
	req, _ = http.NewRequest(http.MethodGet, url, nil)
	if err := (&httpfwd.Forwarder{}).Forward(rec, req, req, c, x); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Forward with an exchange deadline got %v, want the deadline", err)
	}
	// The deadline bounds the dial too: a dial that would hang ends with it.
	hang := &httpfwd.Client{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	x = &httpfwd.Exchange{Deadline: time.Now().Add(100 * time.Millisecond)}
	x.Init(rec)
	req, _ = http.NewRequest(http.MethodGet, url, nil)
	if err := (&httpfwd.Forwarder{}).Forward(rec, req, req, hang, x); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hanging dial got %v, want the exchange's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestClientRefusesEndlessHeaders(t *testing.T) {
	url, c, _ := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		readRequest(br)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
		line := "X-Junk: " + strings.Repeat("j", 1000) + "\r\n"
		for range 2000 {
			if _, err := io.WriteString(conn, line); err != nil {
				return
			}
		}
	})
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if _, _, _, err := exchange(t, c, req); !errors.Is(err, httpfwd.ErrHeadersTooLong) {
		t.Errorf("got %v, want ErrHeadersTooLong", err)
	}
}

func TestClientBoundsAndRetiresItsIdleConnections(t *testing.T) {
	release, release2 := make(chan struct{}), make(chan struct{})
	srv, c, conns := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			<-release
		case "/wait2":
			<-release2
		}
		io.WriteString(w, "x")
	}, func(c *httpfwd.Client) { c.MaxIdlePerHost = 1; c.IdleTimeout = 200 * time.Millisecond })
	closedConns.Store(0)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { get(t, c, srv.URL+"/wait") })
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	waitFor(t, func() bool { return closedConns.Load() == 2 }, "two of three connections closed when they ended (one idle kept)")
	waitFor(t, func() bool { return closedConns.Load() == 3 }, "the idle connection closed after its idle timeout")

	get(t, c, srv.URL+"/")
	done := make(chan struct{})
	go func() { defer close(done); get(t, c, srv.URL+"/wait2") }()
	time.Sleep(50 * time.Millisecond)
	c.Close() // retired while a request is in flight: its connection closes when it ends
	close(release2)
	<-done
	waitFor(t, func() bool { return closedConns.Load() == conns.Load() }, "every connection closed after the client was retired")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("timed out waiting: %s", what)
}
