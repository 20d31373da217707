package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/offline"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/translate"
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
	var id, out, format string
	cmd := &cobra.Command{
		Use:     "gateway-config -f PATH --gateway CLUSTER/NAMESPACE/NAME [--out FILE]",
		Short:   "Write an egress gateway's config",
		Example: "  egret render gateway-config -f examples/bookinfo-egress --gateway cluster1/gloo-mesh-gateways/istio-egressgateway --out gw.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			legacyOutFile(s, &format, &out)
			if err := checkOutput(format, "json", "yaml"); err != nil {
				return err
			}
			res, err := translateInputs(s, &in)
			if err != nil {
				return err
			}
			cfg, err := proxyconfig.ForGateway(res.Plan, id)
			if err != nil {
				return withCode(ExitError, err)
			}
			return writeOutput(s, out, format, cfg)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&id, "gateway", "", "gateway ID, cluster/namespace/name (see 'egret get gateways')")
	addRenderOutputFlags(cmd, &format, &out)
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

func newRenderSidecarCmd(s streams) *cobra.Command {
	var in inputFlags
	var workload, out, format string
	var addrs []string
	cmd := &cobra.Command{
		Use:     "sidecar-config -f PATH --workload NAMESPACE/NAME --gateway-address ID=HOST:PORT...",
		Short:   "Write a workload sidecar's config",
		Example: "  egret render sidecar-config -f examples/bookinfo-egress --workload bookinfo/productpage \\\n    --gateway-address cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.0.1:8443 --out pp.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			legacyOutFile(s, &format, &out)
			if err := checkOutput(format, "json", "yaml"); err != nil {
				return err
			}
			ns, name, ok := strings.Cut(workload, "/")
			if !ok {
				return withCode(ExitUsage, fmt.Errorf("--workload %q: want NAMESPACE/NAME", workload))
			}
			gw := map[string]string{}
			for _, a := range addrs {
				id, addr, ok := strings.Cut(a, "=")
				if !ok {
					return withCode(ExitUsage, fmt.Errorf("--gateway-address %q: want ID=HOST:PORT", a))
				}
				gw[id] = addr
			}
			res, err := translateInputs(s, &in)
			if err != nil {
				return err
			}
			cfg, err := proxyconfig.ForSidecar(res.Plan, ns, name, gw)
			if err != nil {
				return withCode(ExitError, err)
			}
			return writeOutput(s, out, format, cfg)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&workload, "workload", "", "the Workload, namespace/name")
	cmd.Flags().StringArrayVar(&addrs, "gateway-address", nil, "where a gateway's listener is reached, ID=HOST:PORT (repeatable)")
	addRenderOutputFlags(cmd, &format, &out)
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}

// translateInputs loads and translates, refusing any invalid resource (offline.Strict).
func translateInputs(s streams, in *inputFlags) (*translate.Result, error) {
	snap, err := in.load(s)
	res, err := offline.Strict(snap, err)
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return res, nil
}

// addRenderOutputFlags: the config is JSON (what --config reads) or YAML, to standard output or --out.
func addRenderOutputFlags(cmd *cobra.Command, format, out *string) {
	cmd.Flags().StringVarP(format, "output", "o", "json", "output format: json (what --config reads) or yaml")
	cmd.Flags().StringVar(out, "out", "-", "file to write (- for standard output)")
}

// legacyOutFile keeps `render gateway-config|sidecar-config -o FILE.json` working for the scripts
// written before --out existed (a file name ending in .json or .yaml, and no --out file): it writes the
// file and says to use --out. Any other -o value is the output format, as on every command.
func legacyOutFile(s streams, format, out *string) {
	f := *format
	if (*out != "" && *out != "-") || !(strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
		return
	}
	fmt.Fprintf(s.err, "egret: -o %s: -o is the output format; writing the file, but use --out %s\n", f, f)
	*out, *format = f, "json"
	if !strings.HasSuffix(f, ".json") {
		*format = "yaml"
	}
}
