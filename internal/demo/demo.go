// Package demo runs the seed scenario end to end on this machine (egret demo): the whole system on the
// embedded Bookinfo example, a local stand-in for www.google.com, and each step of the guide checked.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"egret.dev/egret/internal/supervisor"
)

// Options are what egret demo's flags set.
type Options struct {
	// Keep leaves the system running after the scenario, until ctx ends.
	Keep bool
	// GatewayNet and SidecarNet are the first three octets of the loopback addresses handed out.
	GatewayNet, SidecarNet string
	// Out takes the walk-through.
	Out io.Writer
}

// Run runs the scenario. Logs go to files in a temporary directory, removed when it ends (kept when a
// step failed; the CA's keys never are). It fails when a step did not give the expected answer.
func Run(ctx context.Context, o Options) error {
	work, err := os.MkdirTemp("", "egret-demo-")
	if err != nil {
		return err
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
	ok, err := run(ctx, o, work)
	if err != nil {
		return err
	}
	if !ok {
		keepLogs = true
		return fmt.Errorf("the scenario did not give the expected answers; logs in %s", work)
	}
	fmt.Fprintln(o.Out, "\nAll steps gave the expected answers.")
	return nil
}

// run starts the system in work and walks through the steps; ok is whether every answer was the expected one.
func run(ctx context.Context, o Options, work string) (ok bool, err error) {
	res := filepath.Join(work, "resources")
	if err := os.Mkdir(res, 0o755); err != nil {
		return false, err
	}
	if err := putExample(res, "00-istiod.yaml", "01-egress-gateway.yaml", "05-workloads.yaml"); err != nil {
		return false, err
	}
	// The stand-in for www.google.com, with a CA of its own that only the gateways are told about.
	google, googleAddr, caFile, err := startGoogle(work)
	if err != nil {
		return false, err
	}
	defer google.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, logs, err := startUp(ctx, o, work, caFile, googleAddr)
	if err != nil {
		return false, err
	}
	defer logs.close()
	out := o.Out
	fmt.Fprintf(out, "egret demo: the Bookinfo egress scenario, all on this machine\n")
	fmt.Fprintf(out, "work dir %s (resources/, access.log, egret.log); www.google.com is a local stand-in at %s\n\n", work, googleAddr)
	u.Print(out)
	ok, err = walk(ctx, out, u, res, logs, google)
	if err != nil {
		return false, err
	}
	if o.Keep {
		fmt.Fprintf(out, "\nStill running (Ctrl-C stops it): curl -x http://%s http://www.google.com/\n", u.SidecarAddress("bookinfo/productpage"))
		<-ctx.Done()
	}
	cancel()
	_ = u.Wait()
	return ok, nil
}

// walk runs steps 1 to 5, then the lockdown step, writing each step's resources into res.
func walk(ctx context.Context, out io.Writer, u *supervisor.Up, res string, logs *logFiles, google *http.Server) (bool, error) {
	put := func(names ...string) error { return putExample(res, names...) }
	ok, err := steps(out, u, put, logs.log.Name(), logs.access.Name())
	if err != nil {
		return false, err
	}
	if !lockdownStep(ctx, out, res, u, google) {
		ok = false
	}
	return ok, nil
}

// logFiles are the files the proxies log to: access logs and JSON logs.
type logFiles struct{ access, log *os.File }

func (l *logFiles) close() {
	l.access.Close()
	l.log.Close()
}

// startUp runs egret up on work/resources, its proxies logging to files in work.
func startUp(ctx context.Context, o Options, work, caFile, googleAddr string) (*supervisor.Up, *logFiles, error) {
	accessLog, err := os.Create(filepath.Join(work, "access.log"))
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(work, "egret.log"))
	if err != nil {
		accessLog.Close()
		return nil, nil, err
	}
	logs := &logFiles{access: accessLog, log: logFile}
	u, err := supervisor.StartUp(ctx, supervisor.UpOptions{
		Dir: filepath.Join(work, "resources"), DataDir: filepath.Join(work, "data"), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		UpstreamCA: caFile, Resolve: []string{"www.google.com:443=" + googleAddr},
		GatewayNet: o.GatewayNet, SidecarNet: o.SidecarNet,
		Stdout: accessLog, Log: slog.New(slog.NewJSONHandler(logFile, nil)),
	})
	if err != nil {
		logs.close()
		return nil, nil, err
	}
	return u, logs, nil
}
