package translate

import (
	"maps"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// workloads gives each Workload its SPIFFE identity in its cluster's trust domain.
func (t *translator) workloads() {
	for _, w := range t.snap.Workloads {
		if !t.valid(w) {
			continue
		}
		m := w.Metadata
		iw := ir.Workload{
			Name:           m.Name,
			Namespace:      m.Namespace,
			Cluster:        w.Spec.Cluster,
			ServiceAccount: w.Spec.ServiceAccount,
			Labels:         workloadLabels(w),
			Identity:       ir.NewSpiffeID(t.trustDomain(w.Spec.Cluster), m.Namespace, w.Spec.ServiceAccount),
		}
		if sc := w.Spec.Sidecar; sc != nil {
			iw.Sidecar = &ir.Sidecar{Listen: sc.Listen, Mode: string(sc.Mode)}
		}
		t.plan.Workloads = append(t.plan.Workloads, iw)
	}
}

// workloadLabels are the Workload's metadata labels overlaid with spec.labels, so either place works.
func workloadLabels(w *api.Workload) map[string]string {
	if len(w.Metadata.Labels) == 0 && len(w.Spec.Labels) == 0 {
		return nil
	}
	out := maps.Clone(w.Metadata.Labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, w.Spec.Labels)
	return out
}
