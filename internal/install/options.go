// Package install builds the Kubernetes objects that install egret's controller in a management
// cluster (and the RBAC a workload cluster grants it), as typed k8s.io/api objects: `egret install
// --dry-run` prints them, and deploy/helm/egret renders the same objects from templates (a test
// keeps the two equal).
package install

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults, the same as deploy/helm/egret/values.yaml (a test compares them).
const (
	DefaultName      = "egret"
	DefaultNamespace = "egret-system"
	DefaultHub       = "ghcr.io/egret-dev"
	DefaultTag       = "0.1.0" // the chart's appVersion
	DefaultReplicas  = 2
	// AdminPort serves /healthz, /readyz and /metrics (the controller's --admin).
	AdminPort = 15014
	// LeaseName is the leader-election Lease in the controller's namespace (the contract's name).
	LeaseName = "egret-controller"
	// WorkloadClusterLabel marks the Secrets in the controller's namespace that hold workload-cluster
	// kubeconfigs (one data key per cluster name).
	WorkloadClusterLabel = "egret.dev/workload-cluster"
)

// Options are the settings of one install; the zero value of a field means its default.
type Options struct {
	// Name is the Helm release name: the Deployment, ServiceAccount, Service and the prefix of every
	// RBAC object. Default "egret".
	Name string
	// Namespace is where the controller runs; its Lease and the workload-cluster Secrets live there.
	Namespace string
	// Hub and Tag make the image <Hub>/egret:<Tag>.
	Hub, Tag   string
	PullPolicy corev1.PullPolicy
	// Replicas of the controller; one leads at a time (Lease LeaseName). Default 2; 0 means default.
	Replicas int32
	// LocalCluster, when set, makes the controller also render for and apply to the cluster it runs
	// in under this cluster name, and binds the workload ClusterRole to its ServiceAccount.
	LocalCluster string
	// Resources of the controller container; nil means DefaultResources.
	Resources *corev1.ResourceRequirements
	// CreateNamespace adds the Namespace object (first), so the output applies in one step. The
	// Helm chart leaves that to `helm install --create-namespace`.
	CreateNamespace bool
}

// DefaultResources is the chart's default resources block.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("512Mi"),
		},
	}
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Hub == "" {
		o.Hub = DefaultHub
	}
	if o.Tag == "" {
		o.Tag = DefaultTag
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullIfNotPresent
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.Resources == nil {
		r := DefaultResources()
		o.Resources = &r
	}
	var errs []string
	for _, f := range []struct{ flag, v string }{{"name", o.Name}, {"namespace", o.Namespace}} {
		for _, e := range validation.IsDNS1123Label(f.v) {
			errs = append(errs, fmt.Sprintf("%s %q: %s", f.flag, f.v, e))
		}
	}
	if o.LocalCluster != "" {
		for _, e := range validation.IsDNS1123Label(o.LocalCluster) {
			errs = append(errs, fmt.Sprintf("local cluster %q: %s", o.LocalCluster, e))
		}
	}
	if o.Replicas < 0 {
		errs = append(errs, fmt.Sprintf("replicas %d: must be at least 1", o.Replicas))
	}
	switch o.PullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Sprintf("pull policy %q: want Always, IfNotPresent or Never", o.PullPolicy))
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("install: %s", joinLines(errs))
	}
	return o, nil
}

func joinLines(xs []string) string {
	out := xs[0]
	for _, x := range xs[1:] {
		out += "; " + x
	}
	return out
}

// Image is the controller image the options name.
func (o Options) Image() string { return o.Hub + "/egret:" + o.Tag }
