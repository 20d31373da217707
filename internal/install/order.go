package install

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"egret.dev/egret/internal/crd"
)

// WithCRDs orders the controller's objects as `egret install` prints them, and as `helm template
// --include-crds` renders the chart: the Namespace (when there is one) first, then the CRDs, then what
// runs in the namespace.
func WithCRDs(objs []Object, crds []*apiextensionsv1.CustomResourceDefinition) []runtime.Object {
	rest := RuntimeObjects(objs)
	out := make([]runtime.Object, 0, len(rest)+len(crds))
	if len(objs) > 0 {
		if _, ok := objs[0].(*corev1.Namespace); ok {
			out, rest = append(out, rest[0]), rest[1:]
		}
	}
	for _, c := range crds {
		out = append(out, c)
	}
	return append(out, rest...)
}

// Validate reports every option out of range at once (what Manifests would refuse).
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// DryRun is what `egret install --dry-run` prints, as format: the controller's objects with egret's
// CRDs (internal/crd generates them; they are also the chart's crds/ files), or with workloadCluster
// what each workload cluster applies.
func DryRun(o Options, workloadCluster bool, format string) ([]byte, error) {
	if workloadCluster {
		objs, err := WorkloadClusterManifests(o)
		if err != nil {
			return nil, err
		}
		return Encode(format, RuntimeObjects(objs))
	}
	objs, err := Manifests(o)
	if err != nil {
		return nil, err
	}
	crds, err := crd.All()
	if err != nil {
		return nil, err
	}
	return Encode(format, WithCRDs(objs, crds))
}

// Encode writes objs as format: json (a List) or yaml (documents).
func Encode(format string, objs []runtime.Object) ([]byte, error) {
	if format == "json" {
		return JSON(objs)
	}
	return YAML(objs)
}
