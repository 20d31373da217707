package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/supervisor"
)

// lockdownWorkload is the transparent Workload the demo's lockdown step adds.
const lockdownWorkload = `# Added by egret demo's lockdown step: a workload in its own network namespace.
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata:
  name: ratings
  namespace: bookinfo
spec:
  serviceAccount: bookinfo-ratings
  cluster: cluster1
  sidecar:
    mode: transparent
`

// lockdownStep is the seed's last step: a workload that bypasses its sidecar cannot get out. It adds
// bookinfo/ratings in transparent mode (egret up gives it a network namespace), then, from inside that
// namespace, calls www.google.com as a program with no proxy settings would (the sidecar takes it and
// the policy answers) and dials the stand-in directly, escaping the redirect with the sidecar's own
// socket mark (the rules refuse it). It reports whether every answer was the expected one; without
// root or nftables it says why it skips.
func lockdownStep(ctx context.Context, out io.Writer, res string, u *supervisor.Up, standIn *http.Server) bool {
	fmt.Fprintln(out, "\n6. network lockdown: bookinfo/ratings (sidecar.mode: transparent) in its own network namespace; a call that bypasses the sidecar is refused:")
	if u.LockdownUnsupported() != nil {
		fmt.Fprintf(out, "    skipped: %v\n", u.LockdownUnsupported())
		return true
	}
	if err := os.WriteFile(filepath.Join(res, "06-lockdown-workload.yaml"), []byte(lockdownWorkload), 0o644); err != nil {
		fmt.Fprintf(out, "  ✗ %v\n", err)
		return false
	}
	path := lockdown.Path(lockdown.NameFor("bookinfo", "ratings"))
	ok := true
	mark := func(good bool) string {
		if good {
			return "✓"
		}
		ok = false
		return "✗"
	}

	// Through the sidecar: an unmodified client; the nftables redirect hands its connection over.
	var code int
	var body string
	var hostEnd string
	deadline := time.Now().Add(15 * time.Second)
	for {
		if a, err := lockdown.HostEnd(path); err == nil {
			hostEnd = a.String()
			code, body = getInNamespace(ctx, path, net.JoinHostPort(hostEnd, "80"), "http://www.google.com/")
		} else {
			code, body = 0, err.Error()
		}
		if code == 403 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "  %s %-58s %d %s\n", mark(code == 403), "ratings (no proxy settings) → http://www.google.com/", code, oneLine(body))
	if hostEnd == "" {
		return false
	}

	// Around the sidecar: the stand-in also listens on the host end of ratings' veth, one hop away;
	// a socket carrying the sidecar's bypass mark skips the redirect and meets the filter.
	ln, err := tls.Listen("tcp", net.JoinHostPort(hostEnd, "0"), standIn.TLSConfig)
	if err != nil {
		fmt.Fprintf(out, "  ✗ %v\n", err)
		return false
	}
	defer ln.Close()
	go standIn.Serve(ln)
	var dialErr error
	_ = lockdown.Do(path, func() error {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := intercept.BypassDialer(int(intercept.DefaultBypassMark)).DialContext(dctx, "tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		dialErr = err
		return nil
	})
	what := fmt.Sprintf("ratings, around its sidecar → stand-in at %s", ln.Addr())
	if dialErr == nil {
		fmt.Fprintf(out, "  %s %-58s connected\n", mark(false), what)
	} else {
		fmt.Fprintf(out, "  %s %-58s refused (%v)\n", mark(errors.Is(dialErr, syscall.ECONNREFUSED)), what, errors.Unwrap(errors.Unwrap(dialErr)))
	}
	fmt.Fprintf(out, "    egret exec bookinfo/ratings -- CMD runs a command in that namespace (while the system runs)\n")
	return ok
}

// getInNamespace GETs target from inside the namespace at path, connecting to addr whatever the URL
// says, as a program there that resolved the name to addr would.
func getInNamespace(ctx context.Context, path, addr, target string) (int, string) {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var c net.Conn
		err := lockdown.Do(path, func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: tr}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}
