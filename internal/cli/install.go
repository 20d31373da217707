package cli

import (
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"egret.dev/egret/internal/install"
)

func newInstallCmd(s streams) *cobra.Command {
	var o install.Options
	var pullPolicy string
	var out *outputFlags
	var dryRun, workload bool
	cmd := &cobra.Command{
		Use:   "install --dry-run [-n NAMESPACE] [--local-cluster NAME] [-o yaml|json] [--out FILE]",
		Short: "Print the manifests that install egret's Kubernetes controller",
		Long: `install prints what installs egret's controller in a management cluster: the CRDs, its
ServiceAccount, RBAC (least verbs: read the egret kinds, write their status, record events; read the
workload-cluster Secrets and hold its Lease in its own namespace), a metrics Service on 15014, the
Deployment (2 replicas, leader-elected) and a PodDisruptionBudget. They are the objects
'helm template' renders from deploy/helm/egret with the same settings; flags are named after the
chart's values (image.hub → --hub, replicas → --replicas, localCluster → --local-cluster).

--workload-cluster prints instead what each workload cluster applies so that the controller can own
the objects it renders there (a ServiceAccount with a token Secret, the ClusterRole and its binding);
the management cluster then gets a Secret labelled egret.dev/workload-cluster: "true" holding that
account's kubeconfig (see docs/kubernetes.md).

Only --dry-run is implemented: apply the output with kubectl.`,
		Example: `  egret install --dry-run | kubectl apply --server-side -f -
  egret install --dry-run -n egret-system --local-cluster mgmt --replicas 3 -o json
  egret install --dry-run --workload-cluster | kubectl --context cluster1 apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !dryRun {
				return usagef("install only prints manifests for now: run 'egret install --dry-run | kubectl apply --server-side -f -' (or 'helm install egret deploy/helm/egret -n egret-system --create-namespace')")
			}
			if err := out.check(); err != nil {
				return err
			}
			if o.Replicas < 1 {
				// Options reads 0 as "the default"; on the command line it would be a silent 2.
				return usagef("--replicas %d: want at least 1", o.Replicas)
			}
			o.PullPolicy = corev1.PullPolicy(pullPolicy)
			if err := o.Validate(); err != nil {
				return withCode(ExitUsage, err)
			}
			b, err := install.DryRun(o, workload, out.format)
			if err != nil {
				return err
			}
			return out.writeBytes(s, b)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them (required for now)")
	fl.StringVarP(&o.Namespace, "namespace", "n", install.DefaultNamespace, "the controller's namespace (Helm: the release namespace)")
	fl.StringVar(&o.Name, "name", install.DefaultName, "name of the controller's objects (Helm: the release name)")
	fl.BoolVar(&o.CreateNamespace, "create-namespace", true, "print the Namespace too (Helm: --create-namespace)")
	fl.StringVar(&o.Hub, "hub", install.DefaultHub, "image registry and path: the image is HUB/egret:TAG (value image.hub)")
	fl.StringVar(&o.Tag, "tag", install.DefaultTag, "image tag (value image.tag)")
	fl.StringVar(&pullPolicy, "pull-policy", string(corev1.PullIfNotPresent), "image pull policy: Always, IfNotPresent or Never (value image.pullPolicy)")
	fl.Int32Var(&o.Replicas, "replicas", install.DefaultReplicas, "controller replicas, one leading at a time (value replicas)")
	fl.StringVar(&o.LocalCluster, "local-cluster", "", "also render for and apply to this cluster under NAME, and grant the rights for it (value localCluster)")
	fl.BoolVar(&workload, "workload-cluster", false, "print what a workload cluster applies (RBAC for the controller's kubeconfig user) instead")
	out = addOutput(cmd, "output format: yaml or json (a List)", "yaml", "json")
	out.addFile(cmd, "file to write (- for standard output)")
	return cmd
}
