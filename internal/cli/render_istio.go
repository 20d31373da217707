package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/render/istio"
)

func newRenderIstioCmd(s streams) *cobra.Command {
	var in inputFlags
	var cluster, out, format string
	cmd := &cobra.Command{
		Use:   "istio -f PATH... [--cluster NAME] [-o yaml|json] [--out FILE|DIR]",
		Short: "Write the Istio and Kubernetes objects of each workload cluster",
		Long: `istio translates the resources and writes, per workload cluster, the objects that make Istio do
what egret's own proxies do: ServiceEntries, the egress Gateway, VirtualServices, DestinationRules,
AuthorizationPolicies, the gateway's Deployment, Service, ServiceAccount and PodDisruptionBudget,
istiod's mesh settings and the NetworkPolicies that close the sidecar bypass.
--out DIR (an existing directory, or a path ending in /) writes one file per cluster.`,
		Example: "  egret render istio -f examples/bookinfo-egress --cluster cluster1\n  egret render istio -f examples/bookinfo-egress --out rendered/",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(format, "yaml", "json"); err != nil {
				return err
			}
			res, err := translateInputs(s, &in)
			if err != nil {
				return err
			}
			var outs []*istio.Output
			if cluster != "" {
				o, err := istio.Render(res.Plan, cluster)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				outs = []*istio.Output{o}
			} else if outs, err = istio.RenderAll(res.Plan); err != nil {
				return withCode(ExitError, err)
			}
			for _, o := range outs {
				for _, w := range o.Warnings {
					fmt.Fprintf(s.err, "warning: cluster %s: %s\n", o.Cluster, w)
				}
			}
			if st, err := os.Stat(out); (err == nil && st.IsDir()) || strings.HasSuffix(out, "/") {
				if err := istio.WriteDir(out, format, outs); err != nil {
					return withCode(ExitError, err)
				}
				return nil
			}
			b, err := istio.Encode(format, outs...)
			if err != nil {
				return withCode(ExitError, err)
			}
			return writeFile(s, out, b)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&cluster, "cluster", "", "the workload cluster to render (default: every cluster)")
	cmd.Flags().StringVarP(&format, "output", "o", "yaml", "output format: yaml or json (a List)")
	cmd.Flags().StringVar(&out, "out", "-", "file or directory to write (- for standard output)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
