package translate

import (
	"maps"
	"testing"

	"egret.dev/egret/internal/api"
)

func TestGatewayLabelsAreIstioChartDefaultsWithTheComponentsMergedOver(t *testing.T) {
	tests := []struct {
		name  string
		label map[string]string
		want  map[string]string
	}{
		{
			name:  "no label map gives the chart's two labels",
			label: nil,
			want:  map[string]string{"app": "istio-egressgateway", "istio": "egressgateway"},
		},
		{
			name:  "only istio listed still carries app",
			label: map[string]string{"istio": "egressgateway"},
			want:  map[string]string{"app": "istio-egressgateway", "istio": "egressgateway"},
		},
		{
			name:  "extra labels are added",
			label: map[string]string{"traffic": "egress"},
			want:  map[string]string{"app": "istio-egressgateway", "istio": "egressgateway", "traffic": "egress"},
		},
		{
			name:  "a repeated key overrides the default",
			label: map[string]string{"istio": "payments-egress", "app": "payments"},
			want:  map[string]string{"app": "payments", "istio": "payments-egress"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			glm := seedGLM("cluster1")
			glm.Spec.Installations[0].IstioOperatorSpec.Components.EgressGateways[0].Label = tc.label
			res := Translate(&api.Snapshot{GatewayLifecycleManagers: []*api.GatewayLifecycleManager{glm}})
			if len(res.Plan.Gateways) != 1 {
				t.Fatalf("gateways = %d, want 1", len(res.Plan.Gateways))
			}
			if got := res.Plan.Gateways[0].Labels; !maps.Equal(got, tc.want) {
				t.Errorf("labels = %v, want %v", got, tc.want)
			}
		})
	}
}

// A VirtualGateway written for Istio's chart selects `app: istio-egressgateway`; the GatewayLifecycleManager
// lists only `istio: egressgateway`, as workshop manifests do. The gateway must still be selected.
func TestVirtualGatewaySelectingTheImpliedAppLabelFindsTheGateway(t *testing.T) {
	glm := seedGLM("cluster1")
	glm.Spec.Installations[0].IstioOperatorSpec.Components.EgressGateways[0].Label = map[string]string{"istio": "egressgateway"}
	vg := seedVG()
	vg.Spec.Workloads[0].Selector.Labels = map[string]string{"app": "istio-egressgateway"}
	res := Translate(&api.Snapshot{
		GatewayLifecycleManagers: []*api.GatewayLifecycleManager{glm},
		VirtualGateways:          []*api.VirtualGateway{vg},
	})
	if len(res.Plan.Gateways) != 1 || len(res.Plan.Gateways[0].Listeners) != 1 {
		t.Fatalf("gateway listeners = %+v, want the VirtualGateway's one listener", res.Plan.Gateways)
	}
	for _, st := range res.Statuses {
		if st.State != Accepted {
			t.Errorf("%s: %s %v", st.Object, st.State, st.Problems)
		}
	}
}
