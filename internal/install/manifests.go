package install

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Object is a typed Kubernetes object with its TypeMeta set (what controller-runtime calls a
// client.Object).
type Object interface {
	metav1.Object
	runtime.Object
}

// Manifests returns the objects that install the controller in the management cluster, in apply
// order: the Namespace (with CreateNamespace), ServiceAccount, RBAC, metrics Service, Deployment and
// PodDisruptionBudget. CRDs are not among them (package crd has those).
//
// They are the objects `helm template` renders from deploy/helm/egret with the same settings; the
// controller's own objects never carry app.kubernetes.io/managed-by=egret, the label the controller
// garbage-collects by in the clusters it applies to.
func Manifests(o Options) ([]Object, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []Object
	if o.CreateNamespace {
		out = append(out, o.namespace())
	}
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: o.Name, Namespace: o.Namespace}
	out = append(out,
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: o.meta(o.Name, o.Namespace)},
		&rbacv1.ClusterRole{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: o.meta(o.Name+"-controller", ""),
			Rules:      controllerRules(),
		},
		clusterRoleBinding(o, o.Name+"-controller", sa),
		&rbacv1.Role{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "Role"),
			ObjectMeta: o.meta(o.Name+"-controller", o.Namespace),
			Rules:      namespaceRules(),
		},
		&rbacv1.RoleBinding{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
			ObjectMeta: o.meta(o.Name+"-controller", o.Namespace),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: o.Name + "-controller"},
			Subjects:   []rbacv1.Subject{sa},
		},
		workloadClusterRole(o),
	)
	if o.LocalCluster != "" {
		out = append(out, clusterRoleBinding(o, o.Name+"-workload", sa))
	}
	out = append(out, o.service(), o.deployment(), o.pdb())
	return out, nil
}

// WorkloadClusterManifests returns what a workload cluster applies so that the controller can own
// the rendered objects there: a ServiceAccount in Namespace (created), a long-lived token Secret for
// it (the kubeconfig the management cluster's Secret holds), the workload ClusterRole and its binding.
func WorkloadClusterManifests(o Options) ([]Object, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	name := o.Name + "-remote"
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: name, Namespace: o.Namespace}
	return []Object{
		o.namespace(),
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: o.meta(name, o.Namespace)},
		&corev1.Secret{
			TypeMeta: typeMeta("v1", "Secret"),
			ObjectMeta: func() metav1.ObjectMeta {
				m := o.meta(name+"-token", o.Namespace)
				m.Annotations = map[string]string{corev1.ServiceAccountNameKey: name}
				return m
			}(),
			Type: corev1.SecretTypeServiceAccountToken,
		},
		workloadClusterRole(o),
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: o.meta(o.Name+"-workload", ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.Name + "-workload"},
			Subjects:   []rbacv1.Subject{sa},
		},
	}, nil
}

// namespace is the same object in both outputs, so applying the workload-cluster file to the
// management cluster (as one field manager) keeps the label.
func (o Options) namespace() *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: typeMeta("v1", "Namespace"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: map[string]string{
			// The controller's pod meets the restricted Pod Security Standard; enforce it.
			"pod-security.kubernetes.io/enforce": "restricted",
		}},
	}
}

func workloadClusterRole(o Options) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
		ObjectMeta: o.meta(o.Name+"-workload", ""),
		Rules:      WorkloadRules(),
	}
}

// clusterRoleBinding binds the ClusterRole of the same name.
func clusterRoleBinding(o Options, name string, sa rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
		ObjectMeta: o.meta(name, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{sa},
	}
}

func (o Options) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: o.meta(o.Name+"-metrics", o.Namespace),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: o.selector(),
			Ports: []corev1.ServicePort{{
				Name: "http-metrics", Port: AdminPort, TargetPort: intstr.FromString("admin"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// Args are the controller's command line (the contract of `egret controlplane --source kubernetes`).
func (o Options) Args() []string {
	args := []string{"controlplane", "--source", "kubernetes", "--namespace", o.Namespace,
		"--leader-elect", "--admin", "0.0.0.0:" + strconv.Itoa(AdminPort)}
	if o.LocalCluster != "" {
		args = append(args, "--local-cluster", o.LocalCluster)
	}
	return args
}

func (o Options) deployment() *appsv1.Deployment {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("admin")},
		}}
	}
	nonRoot := int64(65532)
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: o.meta(o.Name, o.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: &o.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: o.selector()},
			// A new pod is ready before an old one goes, so a standby is there to take the Lease.
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: o.labels()},
				Spec: corev1.PodSpec{
					ServiceAccountName: o.Name,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr(true),
						RunAsUser:      &nonRoot,
						RunAsGroup:     &nonRoot,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "controller",
						Image:           o.Image(),
						ImagePullPolicy: o.PullPolicy,
						Args:            o.Args(),
						Env: []corev1.EnvVar{{
							Name:      "POD_NAMESPACE",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
						}},
						Ports:          []corev1.ContainerPort{{Name: "admin", ContainerPort: AdminPort, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: probe("/readyz"),
						LivenessProbe:  probe("/healthz"),
						Resources:      *o.Resources,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr(false),
							ReadOnlyRootFilesystem:   ptr(true),
							RunAsNonRoot:             ptr(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
				},
			},
		},
	}
}

func (o Options) pdb() *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
		ObjectMeta: o.meta(o.Name, o.Namespace),
		Spec: policyv1.PodDisruptionBudgetSpec{
			// One replica at a time may go: a drain never stalls, and the other keeps (or takes) the Lease.
			MaxUnavailable: &one,
			Selector:       &metav1.LabelSelector{MatchLabels: o.selector()},
		},
	}
}

// selector labels pick the controller's pods (stable across upgrades: never the version).
func (o Options) selector() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "egret",
		"app.kubernetes.io/instance": o.Name,
	}
}

func (o Options) labels() map[string]string {
	l := o.selector()
	l["app.kubernetes.io/component"] = "controller"
	l["app.kubernetes.io/part-of"] = "egret"
	return l
}

func (o Options) meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: o.labels()}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func ptr[T any](v T) *T { return &v }
