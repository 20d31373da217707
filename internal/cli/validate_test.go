package cli

import (
	"bytes"
	"context"
	"egret.dev/egret/internal/meshtest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes egret in-process and returns its exit code and outputs.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errw)
	return code, out.String(), errw.String()
}

const example = "../../examples/bookinfo-egress"

func TestValidateAcceptsTheExample(t *testing.T) {
	code, out, errw := run(t, "", "validate", "-f", example)
	if code != ExitOK || out != "7 objects valid\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errw)
	}
}

// TestValidateRejectsABrokenCopyOfEachKind breaks one field in a copy of each example file and expects
// exit 1 and a message naming that file, line and field.
func TestValidateRejectsABrokenCopyOfEachKind(t *testing.T) {
	tests := []struct {
		file, old, new, want string
	}{
		{"00-istiod.yaml", "mode: REGISTRY_ONLY", "mode: BLOCK_ALL", `00-istiod.yaml:32: IstioLifecycleManager gloo-mesh/istiod-control-plane: spec.installations[0].istioOperatorSpec.meshConfig.outboundTrafficPolicy.mode: unknown value "BLOCK_ALL" (one of ALLOW_ANY, REGISTRY_ONLY)`},
		{"01-egress-gateway.yaml", "- name: cluster2", "- name: cluster_2", `01-egress-gateway.yaml:18: GatewayLifecycleManager gloo-mesh/istio-egressgateway: spec.installations[0].clusters[1].name: cluster name "cluster_2" contains '_'`},
		{"02-virtual-gateway.yaml", "mode: ISTIO_MUTUAL", "mode: SIMPLE", `02-virtual-gateway.yaml:16: VirtualGateway bookinfo/istio-egressgateway: spec.listeners[0].tls.mode: egret's egress gateway listeners need tls.mode ISTIO_MUTUAL`},
		{"03-external-service.yaml", "portMatch: 80", "portMatch: 0x1ffff", `03-external-service.yaml:18: ExternalService bookinfo/google: spec.ports[0].egressGatewayRoutes.portMatch: must be 1-65535, got 131071`},
		{"04-access-policy.yaml", "serviceAccountSelector:", "serviceAccountSelectors:", `04-access-policy.yaml:19: AccessPolicy bookinfo/egress-access-productpage: spec.config.authz.allowedClients[0].serviceAccountSelectors: unknown field "serviceAccountSelectors" (did you mean "serviceAccountSelector"?)`},
		{"05-workloads.yaml", "cluster: cluster1", "cluster: [cluster1]", `05-workloads.yaml:10: Workload bookinfo/productpage: spec.cluster: must be a string, got a list`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			dir := meshtest.CopyExample(t, nil)
			path := filepath.Join(dir, tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(tc.old)) {
				t.Fatalf("%s has no %q", tc.file, tc.old)
			}
			broken := bytes.Replace(data, []byte(tc.old), []byte(tc.new), 1)
			if err := os.WriteFile(path, broken, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, _ := run(t, "", "validate", "-f", dir)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(out, filepath.Join(dir, tc.want)) {
				t.Errorf("output does not name the problem:\n%s\nwant a line starting %s", out, filepath.Join(dir, tc.want))
			}
		})
	}
}

func TestValidateReadsStandardInput(t *testing.T) {
	code, out, _ := run(t, "apiVersion: egret.dev/v1alpha1\nkind: Mesh\nmetadata: {name: m}\nspec: {trustDomain: Bad_Domain}\n", "validate", "-f", "-")
	want := "<stdin>:4: Mesh m: spec.trustDomain: trust domain \"Bad_Domain\" must be lower-case letters, digits, '-' and '.' (it is the host of every SPIFFE ID)\n1 error, 0 warnings in 1 valid object\n"
	if code != ExitError || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
}

func TestValidateWithoutInputIsAUsageError(t *testing.T) {
	code, _, errw := run(t, "", "validate")
	if code != ExitUsage || !strings.Contains(errw, `required flag(s) "filename" not set`) {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
}
