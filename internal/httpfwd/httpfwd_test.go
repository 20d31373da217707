package httpfwd_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/httpfwd"
)

// newRoundTripper is the client front forwards with; client_test.go runs these tests again with the
// HTTP/1.1 Client.
var newRoundTripper = func() interface {
	http.RoundTripper
	CloseIdleConnections()
} {
	return &http.Transport{}
}

// front starts a proxy on loopback that forwards every request to backend with Forward, answering 502
// itself when Forward returns an error (which it records).
func front(t *testing.T, backend string, modify func(*http.Response) error) (*httptest.Server, *error) {
	t.Helper()
	u, _ := url.Parse(backend)
	f := &httpfwd.Forwarder{ModifyResponse: modify}
	tr := newRoundTripper()
	t.Cleanup(tr.CloseIdleConnections)
	var got error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var x httpfwd.Exchange
		x.Init(w)
		out := httpfwd.Outbound(r, httptrace.WithClientTrace(r.Context(), &x.Trace))
		out.URL.Scheme, out.URL.Host = "http", u.Host
		if err := f.Forward(w, r, out, tr, &x); err != nil {
			got = err
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestForwardStripsHopByHopAndForwardingHeaders(t *testing.T) {
	var seen http.Header
	var query string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, query = r.Header.Clone(), r.URL.RawQuery
		w.Header().Set("Connection", "X-Backend-Hop")
		w.Header().Set("X-Backend-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Add("X-Kept", "one")
		w.Header().Add("X-Kept", "two")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	srv, _ := front(t, backend.URL, nil)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/p?a=1&b=2;c=3", nil)
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "1")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Te", "trailers")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Set("X-App", "kept")
	req.Header["User-Agent"] = nil // no User-Agent: the proxy must not add Go's
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	for _, h := range []string{"X-Hop", "Proxy-Authorization", "X-Forwarded-For", "Forwarded", "User-Agent"} {
		if v, ok := seen[h]; ok && !(h == "User-Agent" && v[0] == "") {
			t.Errorf("backend saw %s: %q", h, v)
		}
	}
	if seen.Get("Te") != "trailers" || seen.Get("X-App") != "kept" {
		t.Errorf("backend saw TE %q, X-App %q; want trailers, kept", seen.Get("Te"), seen.Get("X-App"))
	}
	if query != "a=1" {
		t.Errorf("backend saw query %q; want the pair with ';' dropped and the rest re-encoded (a=1), as ReverseProxy does", query)
	}
	if string(body) != "ok" || resp.Header.Get("X-Backend-Hop") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("client got body %q, X-Backend-Hop %q, Keep-Alive %q", body, resp.Header.Get("X-Backend-Hop"), resp.Header.Get("Keep-Alive"))
	}
	if got := resp.Header.Values("X-Kept"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("client got X-Kept %q, want [one two]", got)
	}
}

func TestForwardCopiesTrailersAnnouncedAndNot(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}))
	defer backend.Close()
	srv, _ := front(t, backend.URL, nil)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("got body %q, trailers %v; want body, X-Sum 42 and X-Late yes", body, resp.Trailer)
	}
}

func TestForwardPassesInformationalAnswers(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	defer backend.Close()
	srv, _ := front(t, backend.URL, nil)
	var hints []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints = append(hints, h.Get("Link"))
			}
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(hints) != 1 || hints[0] != "</style.css>; rel=preload" || string(body) != "final" || resp.Header.Get("Link") != "" {
		t.Errorf("got 103 hints %q, body %q, final Link %q; want one hint with the Link, then the answer without it", hints, body, resp.Header.Get("Link"))
	}
}

func TestForwardStreamsAnAnswerOfUnknownLength(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	defer backend.Close()
	defer close(release)
	srv, _ := front(t, backend.URL, nil)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "first\n" {
			t.Errorf("first line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk did not reach the client before the backend finished: the proxy buffered a streaming answer")
	}
}

func TestForwardAbortsWhenTheBodyBreaks(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only ten b")
		w.(http.Flusher).Flush()
		c, _, _ := http.NewResponseController(w).Hijack()
		c.Close()
	}))
	defer backend.Close()
	srv, _ := front(t, backend.URL, nil)
	resp, err := http.Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("a body cut short upstream reached the client as a complete answer")
	}
}

func TestForwardReturnsTheFailureWithNothingWritten(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	srv, got := front(t, "http://"+addr, nil)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || *got == nil {
		t.Errorf("got %d, Forward's error %v; want the caller's 502 and the dial error", resp.StatusCode, *got)
	}
}

func TestForwardReturnsModifyResponseErrors(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	defer backend.Close()
	refuse := errors.New("refused")
	srv, got := front(t, backend.URL, func(*http.Response) error { return refuse })
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !errors.Is(*got, refuse) || strings.Contains(string(body), "secret") {
		t.Errorf("got %d %q, Forward's error %v; want the caller's 502 and nothing of the refused answer", resp.StatusCode, body, *got)
	}
}

func TestUpgradeRequestsAreLeftToTheReverseProxy(t *testing.T) {
	for _, tc := range []struct {
		name, connection string
		want             bool
	}{
		{"websocket upgrade", "keep-alive, Upgrade", true},
		{"plain keep-alive", "keep-alive", false},
		{"no Connection header", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.connection != "" {
				h.Set("Connection", tc.connection)
			}
			if got := httpfwd.Upgrade(h); got != tc.want {
				t.Errorf("Upgrade(%q) = %v, want %v", tc.connection, got, tc.want)
			}
		})
	}
}
