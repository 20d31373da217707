package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// The gateway's forwarder passes what a host sends besides the answer — informational answers (103
// Early Hints) and trailers — and logs the final status, not the informational one.
func TestGatewayForwardsEarlyHintsAndTrailers(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "payload")
		w.Header().Set("X-Checksum", "c0ffee")
	})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)

	var hints []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, h.Get("Link"))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://www.google.com/", nil)
	resp, err := m.Client(meshtest.Productpage, gw.Addr).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "payload" || resp.Trailer.Get("X-Checksum") != "c0ffee" {
		t.Errorf("got %d %q trailers %v; want 200, the payload and X-Checksum c0ffee", resp.StatusCode, body, resp.Trailer)
	}
	if len(hints) != 1 || hints[0] != "</app.css>; rel=preload" {
		t.Errorf("early hints %q; want the host's one Link", hints)
	}
	if lines := waitLog(t, gw, 1); lines[0]["response_code"] != 200.0 {
		t.Errorf("logged response_code %v, want 200 (the final answer, not the 103)", lines[0]["response_code"])
	}
}
