package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/render/istio"
)

func newRenderCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write one proxy's config, cut from the translated resources",
		Long: `render translates the resources and writes the native config of one proxy, the file that
'egret gateway --config' and 'egret sidecar --config' run from when there is no control plane.`,
	}
	cmd.AddCommand(newRenderGatewayCmd(s), newRenderSidecarCmd(s), newRenderIstioCmd(s))
	return cmd
}

func newRenderGatewayCmd(s streams) *cobra.Command {
	var in inputFlags
	var id string
	var out *outputFlags
	cmd := &cobra.Command{
		Use:     "gateway-config -f PATH --gateway CLUSTER/NAMESPACE/NAME [--out FILE]",
		Short:   "Write an egress gateway's config",
		Example: "  egret render gateway-config -f examples/bookinfo-egress --gateway cluster1/gloo-mesh-gateways/istio-egressgateway --out gw.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.checkConfig(s); err != nil {
				return err
			}
			res, err := in.translate(s)
			if err != nil {
				return err
			}
			cfg, err := proxyconfig.ForGateway(res.Plan, id)
			if err != nil {
				return err
			}
			return out.write(s, cfg)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&id, "gateway", "", "gateway ID, cluster/namespace/name (see 'egret get gateways')")
	out = addConfigOutput(cmd)
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

func newRenderSidecarCmd(s streams) *cobra.Command {
	var in inputFlags
	var workload string
	var addrs []string
	var out *outputFlags
	cmd := &cobra.Command{
		Use:     "sidecar-config -f PATH --workload NAMESPACE/NAME --gateway-address ID=HOST:PORT...",
		Short:   "Write a workload sidecar's config",
		Example: "  egret render sidecar-config -f examples/bookinfo-egress --workload bookinfo/productpage \\\n    --gateway-address cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.0.1:8443 --out pp.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.checkConfig(s); err != nil {
				return err
			}
			ns, name, ok := strings.Cut(workload, "/")
			if !ok {
				return usagef("--workload %q: want NAMESPACE/NAME", workload)
			}
			gw, err := pairs("--gateway-address", "ID=HOST:PORT", addrs, nil)
			if err != nil {
				return err
			}
			res, err := in.translate(s)
			if err != nil {
				return err
			}
			cfg, err := proxyconfig.ForSidecar(res.Plan, ns, name, gw)
			if err != nil {
				return err
			}
			return out.write(s, cfg)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&workload, "workload", "", "the Workload, namespace/name")
	cmd.Flags().StringArrayVar(&addrs, "gateway-address", nil, "where a gateway's listener is reached, ID=HOST:PORT (repeatable)")
	out = addConfigOutput(cmd)
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}

// addConfigOutput: a proxy's config is JSON (what --config reads) or YAML, to standard output or --out.
func addConfigOutput(cmd *cobra.Command) *outputFlags {
	out := addOutput(cmd, "output format: json (what --config reads) or yaml", "json", "yaml")
	out.addFile(cmd, "file to write (- for standard output)")
	return out
}

// checkConfig checks -o of a proxy's config. It keeps `render gateway-config|sidecar-config -o FILE.json`
// working for the scripts written before --out existed (a file name ending in .json or .yaml, and no
// --out file): it writes the file and says to use --out. Any other -o value is the output format, as on
// every command.
func (o *outputFlags) checkConfig(s streams) error {
	f := o.format
	if (o.file == "" || o.file == "-") && (strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
		fmt.Fprintf(s.err, "egret: -o %s: -o is the output format; writing the file, but use --out %s\n", f, f)
		o.file, o.format = f, "json"
		if !strings.HasSuffix(f, ".json") {
			o.format = "yaml"
		}
	}
	return o.check()
}

func newRenderIstioCmd(s streams) *cobra.Command {
	var in inputFlags
	var cluster string
	var out *outputFlags
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
			if err := out.check(); err != nil {
				return err
			}
			res, err := in.translate(s)
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
				return err
			}
			for _, o := range outs {
				for _, w := range o.Warnings {
					fmt.Fprintf(s.err, "warning: cluster %s: %s\n", o.Cluster, w)
				}
			}
			return istio.Write(out.file, out.format, outs, s.out)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&cluster, "cluster", "", "the workload cluster to render (default: every cluster)")
	out = addOutput(cmd, "output format: yaml or json (a List)", "yaml", "json")
	out.addFile(cmd, "file or directory to write (- for standard output)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
