// Package crd generates the CustomResourceDefinitions of the kinds egret reads, with OpenAPI schemas
// derived from egret's own api types, so that the API server rejects what egret's decoder rejects.
package crd

//go:generate go test . -run TestCommittedCRDsMatchTheGenerator -update

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"egret.dev/egret/internal/api"
)

// Category is the kubectl category every egret CRD is in: `kubectl get egret` lists them all.
const Category = "egret"

// Dir is where the generated CRDs are committed, relative to the repository root (the Helm chart's crds/).
const Dir = "deploy/helm/egret/crds"

// Resource names one kind egret reads as a Kubernetes resource.
type Resource struct {
	GVK schema.GroupVersionKind
	GVR schema.GroupVersionResource
}

// kind is everything the generator knows about one kind beyond its Go type.
type kind struct {
	apiVersion string
	name       string
	plural     string
	object     api.Object // a zero value, for its Go type
	columns    []apiextensionsv1.CustomResourceColumnDefinition
	rules      []rule
}

// kinds lists every kind api.Decode accepts (a test keeps the two in step), in a stable order.
var kinds = []kind{
	{api.NetworkingV2, api.KindExternalService, "externalservices", &api.ExternalService{},
		[]apiextensionsv1.CustomResourceColumnDefinition{{Name: "Hosts", Type: "string", JSONPath: ".spec.hosts"}},
		externalServiceRules},
	{api.NetworkingV2, api.KindExternalEndpoint, "externalendpoints", &api.ExternalEndpoint{},
		[]apiextensionsv1.CustomResourceColumnDefinition{{Name: "Address", Type: "string", JSONPath: ".spec.address"}},
		externalEndpointRules},
	{api.NetworkingV2, api.KindVirtualGateway, "virtualgateways", &api.VirtualGateway{}, nil, virtualGatewayRules},
	{api.NetworkingV2, api.KindRouteTable, "routetables", &api.RouteTable{},
		[]apiextensionsv1.CustomResourceColumnDefinition{{Name: "Hosts", Type: "string", JSONPath: ".spec.hosts"}},
		routeTableRules},
	{api.SecurityV2, api.KindAccessPolicy, "accesspolicies", &api.AccessPolicy{}, nil, accessPolicyRules},
	{api.AdminV2, api.KindGatewayLifecycleManager, "gatewaylifecyclemanagers", &api.GatewayLifecycleManager{}, nil, gatewayLifecycleManagerRules},
	{api.AdminV2, api.KindIstioLifecycleManager, "istiolifecyclemanagers", &api.IstioLifecycleManager{}, nil, istioLifecycleManagerRules},
	{api.AdminV2, api.KindWorkspace, "workspaces", &api.Workspace{}, nil, workspaceRules},
	{api.AdminV2, api.KindWorkspaceSettings, "workspacesettings", &api.WorkspaceSettings{}, nil, workspaceSettingsRules},
	{api.EgretV1, api.KindMesh, "meshes", &api.Mesh{}, nil, meshRules},
	{api.EgretV1, api.KindWorkload, "workloads", &api.Workload{},
		[]apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Cluster", Type: "string", JSONPath: ".spec.cluster"},
			{Name: "Service Account", Type: "string", JSONPath: ".spec.serviceAccount"},
		},
		workloadRules},
}

// Resources lists the group/version/kind and resource of every CRD, in the order All returns them.
func Resources() []Resource {
	out := make([]Resource, 0, len(kinds))
	for _, k := range kinds {
		gv, _ := schema.ParseGroupVersion(k.apiVersion)
		out = append(out, Resource{GVK: gv.WithKind(k.name), GVR: gv.WithResource(k.plural)})
	}
	return out
}

// GVRs lists the resource of every CRD, in the order All returns them.
func GVRs() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, r := range Resources() {
		out = append(out, r.GVR)
	}
	return out
}

// All generates the CRD of every kind egret reads. An error means the api types and the generator's
// rules have drifted apart (a rule names a field that no longer exists); tests catch it first.
func All() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(kinds))
	for _, k := range kinds {
		c, err := k.crd()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// FileName is the name a CRD is committed under in Dir: <plural>.<group>.yaml.
func FileName(c *apiextensionsv1.CustomResourceDefinition) string {
	return c.Name + ".yaml"
}

// YAML renders a CRD as the committed file holds it (and `egret install` prints it): without the
// empty status and creationTimestamp a Go value carries, keys sorted.
func YAML(c *apiextensionsv1.CustomResourceDefinition) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), out...), nil
}

const header = "# Generated by internal/crd from egret's api types; do not edit. Regenerate: go generate ./internal/crd\n"

func (k kind) crd() (*apiextensionsv1.CustomResourceDefinition, error) {
	gv, err := schema.ParseGroupVersion(k.apiVersion)
	if err != nil {
		return nil, err
	}
	t := reflect.TypeOf(k.object).Elem()
	specField, ok := t.FieldByName("Spec")
	if !ok {
		return nil, fmt.Errorf("%s has no Spec field", t)
	}
	spec := schemaOf(specField.Type)
	spec.Description = fmt.Sprintf("The %s as egret reads it (%s).", k.name, t.PkgPath()+"."+t.Name())
	root := apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": {Type: "string"},
			"kind":       {Type: "string"},
			"metadata":   {Type: "object"},
			"spec":       spec,
			"status":     statusSchema(),
		},
	}
	for _, r := range k.rules {
		if err := r.apply(&root); err != nil {
			return nil, err
		}
	}
	columns := append([]apiextensionsv1.CustomResourceColumnDefinition{}, k.columns...)
	columns = append(columns,
		apiextensionsv1.CustomResourceColumnDefinition{Name: "Accepted", Type: "string", JSONPath: `.status.conditions[?(@.type=="Accepted")].status`},
		apiextensionsv1.CustomResourceColumnDefinition{Name: "Programmed", Type: "string", JSONPath: `.status.conditions[?(@.type=="Programmed")].status`},
		apiextensionsv1.CustomResourceColumnDefinition{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
	)
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: k.plural + "." + gv.Group, Labels: map[string]string{"app.kubernetes.io/part-of": "egret"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: gv.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural:     k.plural,
				Singular:   strings.ToLower(k.name),
				Kind:       k.name,
				ListKind:   k.name + "List",
				Categories: []string{Category},
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name:                     gv.Version,
				Served:                   true,
				Storage:                  true,
				Schema:                   &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &root},
				Subresources:             &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: columns,
			}},
		},
	}, nil
}
