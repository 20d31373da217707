package demo

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"egret.dev/egret/examples"
	"egret.dev/egret/internal/report"
	"egret.dev/egret/internal/standin"
	"egret.dev/egret/internal/supervisor"
)

// get calls target through the sidecar at proxy, as an unmodified client with HTTP_PROXY would.
func get(proxy, target string) (int, string) {
	pu, _ := url.Parse("http://" + proxy)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	resp, err := c.Get(target)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func grepLast(path, substr string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			last = sc.Text()
		}
	}
	return last
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// steps runs steps 1 to 5 of the scenario against up, writing resources with put; ok is whether
// every answer was the expected one. logFile and accessLog are the files the proxies log to.
func steps(out io.Writer, u *supervisor.Up, put func(...string) error, logFile, accessLog string) (ok bool, err error) {
	pp, rv := u.SidecarAddress("bookinfo/productpage"), u.SidecarAddress("bookinfo/reviews")
	ok = true
	check := func(what string, got int, want int, body string) {
		mark := "✓"
		if got != want {
			mark, ok = "✗", false
		}
		fmt.Fprintf(out, "  %s %-58s %d %s\n", mark, what, got, oneLine(body))
	}
	await := func(proxy, target string, want int) (int, string) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, body := get(proxy, target)
			if code == want || time.Now().After(deadline) {
				return code, body
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	fmt.Fprintln(out, "1. outboundTrafficPolicy REGISTRY_ONLY, www.google.com in no ExternalService (want 502):")
	code, body := await(rv, "http://www.google.com/", 502)
	check("reviews → http://www.google.com/", code, 502, body)
	if line := grepLast(logFile, `"msg":"blocked"`); line != "" {
		fmt.Fprintf(out, "    sidecar log: %s\n", oneLine(line))
	}

	fmt.Fprintln(out, "\n2. VirtualGateway (443, ISTIO_MUTUAL) + ExternalService (clientsideTls, portMatch 80): every workload gets out (want 200):")
	if err := put("02-virtual-gateway.yaml", "03-external-service.yaml"); err != nil {
		return false, err
	}
	code, body = await(pp, "http://www.google.com/", 200)
	check("productpage → http://www.google.com/", code, 200, body)
	code, body = await(rv, "http://www.google.com/", 200)
	check("reviews → http://www.google.com/", code, 200, body)
	if line := grepLast(accessLog, `"component":"gateway"`); line != "" {
		fmt.Fprintf(out, "    gateway access log: %s\n", oneLine(line))
	}

	fmt.Fprintln(out, "\n3. the generated routing (egret get routes): port 80 in the mesh, port 443 upstream:")
	var routes strings.Builder
	report.Routes(&routes, u.ControlPlane().Plan())
	for _, l := range strings.Split(strings.TrimSpace(routes.String()), "\n") {
		fmt.Fprintln(out, "    "+l)
	}

	fmt.Fprintln(out, "\n4. AccessPolicy: only bookinfo-productpage may reach www.google.com (want 403 for reviews):")
	if err := put("04-access-policy.yaml"); err != nil {
		return false, err
	}
	code, body = await(rv, "http://www.google.com/", 403)
	check("reviews → http://www.google.com/", code, 403, body)
	code, body = await(pp, "http://www.google.com/", 200)
	check("productpage → http://www.google.com/", code, 200, body)

	fmt.Fprintln(out, "\n5. egret status:")
	time.Sleep(300 * time.Millisecond) // let the last ACKs land
	st := u.ControlPlane().Status()
	var b strings.Builder
	report.Status(&b, &st)
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		fmt.Fprintln(out, "    "+l)
	}
	for _, p := range st.Proxies {
		if p.State() != "SYNCED" {
			ok = false
		}
	}
	return ok, nil
}

// startGoogle starts the stand-in for www.google.com and writes its CA to work/standin-ca.pem.
func startGoogle(work string) (srv *http.Server, addr, caFile string, err error) {
	caPEM, cert, err := standin.Certificate("www.google.com")
	if err != nil {
		return nil, "", "", err
	}
	caFile = filepath.Join(work, "standin-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		return nil, "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", "", err
	}
	srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<html>stand-in for %s, reached over %s</html>", r.Host, r.Proto)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	return srv, ln.Addr().String(), caFile, nil
}

// putExample copies the named files of the embedded Bookinfo example into res.
func putExample(res string, names ...string) error {
	for _, n := range names {
		b, err := fs.ReadFile(examples.BookinfoEgress, "bookinfo-egress/"+n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(res, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
