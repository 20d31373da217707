package install

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// Encode writes objs as format: json (a List) or yaml (documents).
func Encode(format string, objs []runtime.Object) ([]byte, error) {
	if format == "json" {
		return JSON(objs)
	}
	return YAML(objs)
}
