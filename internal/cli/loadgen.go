package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/loadgen"
)

func newLoadgenCmd(s streams) *cobra.Command {
	var f loadgen.Options
	var out *outputFlags
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
			if out.format == "text" { // the name -o had before every command said table
				out.format = "table"
			}
			if err := out.check(); err != nil { // with the options' problems too, all at once
				return withCode(ExitUsage, errors.Join(errors.Unwrap(err), f.Validate()))
			}
			f.Output, f.Out = out.format, s.out
			return loadgen.Drive(cmd.Context(), f) // Drive validates the rest
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.URL, "url", "", "target URL (loopback only)")
	fl.StringVar(&f.Proxy, "proxy", "", "send requests through this HTTP or HTTPS proxy (loopback only), e.g. the gateway")
	fl.IntSliceVar(&f.Concurrency, "concurrency", []int{1, 16, 64}, "callers per run; one run per value")
	fl.IntVar(&f.Requests, "requests", 10000, "requests per run, at most")
	fl.DurationVar(&f.Duration, "duration", 30*time.Second, "wall time per run, at most")
	fl.StringVar(&f.CACert, "cacert", "", "PEM CA bundle to verify the server (and an HTTPS proxy) with, instead of the system roots")
	fl.StringVar(&f.Cert, "cert", "", "PEM client certificate for mutual TLS (with --key)")
	fl.StringVar(&f.Key, "key", "", "PEM private key of --cert")
	fl.BoolVar(&f.H2, "h2", false, "speak HTTP/2 only (needs TLS); otherwise HTTP/1.1 only")
	fl.IntVar(&f.WatchPID, "watch-pid", 0, "sample this process's CPU time and memory before and after each run")
	out = addOutput(cmd, "output format: table, markdown or tsv (plain numbers, for scripts)", "table", "markdown", "tsv")
	fl.StringVar(&f.Label, "label", "", "path name in the markdown or tsv table (default: client → upstream, or client → proxy → upstream)")
	fl.StringVar(&f.Host, "host", "", "send this Host (HTTP/2 :authority) instead of the URL's host; the URL's address is still what is dialled")
	fl.StringVar(&f.ServerID, "server-spiffe-id", "", "verify the server by its chain (against --cacert) and this SPIFFE ID in its URI SAN, not by host name")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}
