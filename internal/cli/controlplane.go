package cli

import (
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/controller"
	"egret.dev/egret/internal/controlplane"
)

func newControlPlaneCmd(s streams) *cobra.Command {
	var p controlplane.Params
	var addrs []string
	var src string
	var ko controller.Options
	cmd := &cobra.Command{
		Use:   "controlplane (-f DIR --data-dir DIR | --source kubernetes)",
		Short: "Run the control plane: watch, translate, distribute, report",
		Long: `controlplane loads every resource under -f, watches it, and validates and translates
each change. A change with any invalid resource is reported (log and 'egret status') and the last good
configuration keeps being served: never a partial one.

On --listen (TLS, 15012) it serves join-token enrollment and SVID renewal (see 'egret token create') and
a delta xDS stream per proxy (gRPC): each gateway and sidecar, identified by its SVID,
gets its slice of the plan, versioned by content hash, and acknowledges or rejects each version. On
--admin (plain HTTP, loopback) it serves /status (what 'egret status' prints), /plan and /healthz/ready.

--source kubernetes runs the Kubernetes controller instead: it watches egret's custom resources in the
management cluster (--kubeconfig), translates them as 'egret validate' does, renders the Istio and
Kubernetes objects of every workload cluster and server-side-applies them there (field manager egret,
label app.kubernetes.io/managed-by=egret), deletes the objects with that label it no longer renders, and
writes status (Accepted, Programmed, per cluster) and events on each resource. Workload clusters are the
data keys (cluster name = kubeconfig) of Secrets labelled egret.dev/workload-cluster=true in --namespace,
plus --local-cluster. Replicas elect a leader on the Lease egret-controller in --namespace. --admin serves
/healthz, /readyz and /metrics. See docs/kubernetes.md.`,
		Example: `  egret controlplane -f examples/bookinfo-egress --data-dir /var/lib/egret \
    --gateway-address cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.1.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch src {
			case "kubernetes":
				ko.Admin, ko.Log = p.Admin, s.log()
				return controller.Run(cmd.Context(), ko)
			case "file":
				if p.ConfigDir == "" {
					return usagef("--source file needs -f DIR")
				}
				if p.Poll <= 0 || p.Debounce <= 0 {
					return usagef("--poll %s, --debounce %s: both must be positive", p.Poll, p.Debounce)
				}
			default:
				return usagef("--source %q: want file or kubernetes", src)
			}
			var err error
			if p.GatewayAddresses, err = pairs("--gateway-address", "ID=HOST[:PORT]", addrs, nil); err != nil {
				return err
			}
			p.Log = s.log()
			return controlplane.Run(cmd.Context(), p)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&p.ConfigDir, "filename", "f", "", "directory of resource files, watched (as 'egret up -f')")
	deprecatedAlias(cmd, "config-dir", "filename", &p.ConfigDir)
	addDataDirFlag(cmd, &p.DataDir, "CA data directory (root key 0600, join tokens), created if missing")
	fl.StringVar(&p.Listen, "listen", "127.0.0.1:15012", "TLS address for enrollment and config streams")
	fl.StringVar(&p.Admin, "admin", "127.0.0.1:15014", "plain HTTP admin address (file: /status, /plan; kubernetes: /healthz, /readyz, /metrics); keep it on loopback")
	fl.StringVar(&p.TrustDomain, "trust-domain", "cluster1", "trust domain of the control plane's own certificate")
	fl.StringArrayVar(&addrs, "gateway-address", nil, "where sidecars reach a gateway, ID=HOST or ID=HOST:PORT (repeatable)")
	fl.DurationVar(&p.Poll, "poll", 100*time.Millisecond, "file: how often -f DIR is checked for changes")
	fl.DurationVar(&p.Debounce, "debounce", 300*time.Millisecond, "file: how long -f DIR must stay unchanged before a change is loaded (a file written in pieces is read once whole); every change waits this long")
	fl.StringVar(&src, "source", "file", "where resources come from: file (-f DIR, the standalone control plane) or kubernetes (the controller)")
	fl.StringVar(&ko.Kubeconfig, "kubeconfig", "", "kubernetes: the management cluster's kubeconfig (default: in-cluster, else $KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&ko.Namespace, "namespace", controller.NamespaceFromEnv(), "kubernetes: the controller's namespace (its Lease and the workload-cluster Secrets); default $POD_NAMESPACE, else egret-system")
	fl.StringVar(&ko.LocalCluster, "local-cluster", "", "kubernetes: also render for and apply to the management cluster under this cluster name (empty: none)")
	fl.BoolVar(&ko.LeaderElect, "leader-elect", true, "kubernetes: reconcile only while holding the Lease egret-controller (run several replicas)")
	return cmd
}
