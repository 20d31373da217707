package cli

import (
	"bufio"
	"context"
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

	"github.com/spf13/cobra"

	"egret.dev/egret/examples"
	"egret.dev/egret/internal/standin"
	"egret.dev/egret/internal/supervisor"
)

func newDemoCmd(s streams) *cobra.Command {
	var keep bool
	var nets upFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the seed scenario end to end on this machine, on the embedded example",
		Long: `demo runs the whole system ('egret up') on the embedded Bookinfo example, with a local HTTPS
server standing in for www.google.com (its own CA; nothing leaves this machine), and walks through the
guide's steps, checking each answer:

  1. REGISTRY_ONLY, no ExternalService: a call to www.google.com is blocked (502) and logged.
  2. A VirtualGateway and an ExternalService: every workload reaches www.google.com through its
     cluster's egress gateway (mTLS in, TLS originated to port 443).
  3. The generated routing lists port 443 as the upstream.
  4. An AccessPolicy: reviews gets 403 "RBAC: access denied", productpage 200.
  5. Every proxy is in sync.
  6. Run as root on Linux: a transparent workload in its own network namespace reaches
     www.google.com only through its sidecar (the policy answers); a direct dial is refused.

Each step is applied by writing files into the directory the control plane watches, as a user would.
Logs go to files in a temporary directory (printed), removed when the demo ends (the logs are kept
when a step failed; the CA's keys never are); --keep leaves everything running afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), s, keep, nets) },
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the system running after the scenario (Ctrl-C stops it)")
	addNetFlags(cmd, &nets)
	return cmd
}

func runDemo(ctx context.Context, s streams, keep bool, nets upFlags) error {
	work, err := os.MkdirTemp("", "egret-demo-")
	if err != nil {
		return withCode(ExitError, err)
	}
	// The CA's keys (work/data) go when the demo does; the logs stay only when a step failed.
	keepLogs := false
	defer func() {
		if keepLogs {
			os.RemoveAll(filepath.Join(work, "data"))
			return
		}
		os.RemoveAll(work)
	}()
	res := filepath.Join(work, "resources")
	if err := os.Mkdir(res, 0o755); err != nil {
		return withCode(ExitError, err)
	}
	put := func(names ...string) error { return putExample(res, names...) }
	if err := put("00-istiod.yaml", "01-egress-gateway.yaml", "05-workloads.yaml"); err != nil {
		return withCode(ExitError, err)
	}

	// The stand-in for www.google.com, with a CA of its own that only the gateways are told about.
	google, googleAddr, caFile, err := startDemoGoogle(work)
	if err != nil {
		return withCode(ExitError, err)
	}
	defer google.Close()

	accessLog, err := os.Create(filepath.Join(work, "access.log"))
	if err != nil {
		return withCode(ExitError, err)
	}
	defer accessLog.Close()
	logFile, err := os.Create(filepath.Join(work, "egret.log"))
	if err != nil {
		return withCode(ExitError, err)
	}
	defer logFile.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, err := supervisor.StartUp(ctx, upFlags{
		dir: res, dataDir: filepath.Join(work, "data"), listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		upstreamCA: caFile, overrides: []string{"www.google.com:443=" + googleAddr},
		gatewayNet: nets.gatewayNet, sidecarNet: nets.sidecarNet,
	}.options(streams{in: s.in, out: accessLog, err: logFile}))
	if err != nil {
		return proxyExit(err)
	}
	out := s.out
	fmt.Fprintf(out, "egret demo: the Bookinfo egress scenario, all on this machine\n")
	fmt.Fprintf(out, "work dir %s (resources/, access.log, egret.log); www.google.com is a local stand-in at %s\n\n", work, googleAddr)
	u.Print(out)

	pp := u.SidecarAddress("bookinfo/productpage")
	ok, err := demoSteps(out, u, put, logFile.Name(), accessLog.Name())
	if err != nil {
		return withCode(ExitError, err)
	}

	if !demoLockdown(ctx, out, res, u, google) {
		ok = false
	}

	if keep {
		fmt.Fprintf(out, "\nStill running (Ctrl-C stops it): curl -x http://%s http://www.google.com/\n", pp)
		<-ctx.Done()
	}
	cancel()
	_ = u.Wait()
	if !ok {
		keepLogs = true
		return withCode(ExitError, fmt.Errorf("the scenario did not give the expected answers; logs in %s", work))
	}
	fmt.Fprintln(out, "\nAll steps gave the expected answers.")
	return nil
}

// demoGet calls target through the sidecar at proxy, as an unmodified client with HTTP_PROXY would.
func demoGet(proxy, target string) (int, string) {
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

// demoSteps runs steps 1 to 5 of the scenario against up, writing resources with put; ok is whether
// every answer was the expected one. logFile and accessLog are the files the proxies log to.
func demoSteps(out io.Writer, u *supervisor.Up, put func(...string) error, logFile, accessLog string) (ok bool, err error) {
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
			code, body := demoGet(proxy, target)
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
	routesTable(&routes, u.ControlPlane().Plan())
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
	printStatus(streams{out: &b}, &st)
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

// startDemoGoogle starts the stand-in for www.google.com and writes its CA to work/standin-ca.pem.
func startDemoGoogle(work string) (srv *http.Server, addr, caFile string, err error) {
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
