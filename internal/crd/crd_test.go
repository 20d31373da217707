package crd

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"egret.dev/egret/internal/api"
)

// TestEveryKindTheDecoderReadsHasACRD keeps the generator's kind table and api.Decode in step: the same
// kinds, each under the apiVersion the decoder wants and decoded into the Go type the schema is made from.
func TestEveryKindTheDecoderReadsHasACRD(t *testing.T) {
	var names []string
	for _, k := range kinds {
		names = append(names, k.name)
	}
	sort.Strings(names)
	if want := api.KnownKinds(); !reflect.DeepEqual(names, want) {
		t.Fatalf("CRD kinds %v, the decoder reads %v", names, want)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			doc := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {name: a, namespace: b}\n", k.apiVersion, k.name)
			objs, problems := api.Decode("k.yaml", []byte(doc))
			if len(problems) > 0 || len(objs) != 1 {
				t.Fatalf("the decoder does not take %s under %s: %v", k.name, k.apiVersion, problems)
			}
			if got, want := reflect.TypeOf(objs[0]), reflect.TypeOf(k.object); got != want {
				t.Fatalf("the decoder makes a %v, the schema is generated from %v", got, want)
			}
		})
	}
}

// TestTheContractsNamesAndStatus checks what the other parts of issue 14 rely on: names, scope, the
// status subresource and the status schema.
func TestTheContractsNamesAndStatus(t *testing.T) {
	crds, err := All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ExternalService": "externalservices.networking.gloo.solo.io", "ExternalEndpoint": "externalendpoints.networking.gloo.solo.io",
		"VirtualGateway": "virtualgateways.networking.gloo.solo.io", "RouteTable": "routetables.networking.gloo.solo.io",
		"AccessPolicy":            "accesspolicies.security.policy.gloo.solo.io",
		"GatewayLifecycleManager": "gatewaylifecyclemanagers.admin.gloo.solo.io", "IstioLifecycleManager": "istiolifecyclemanagers.admin.gloo.solo.io",
		"Workspace": "workspaces.admin.gloo.solo.io", "WorkspaceSettings": "workspacesettings.admin.gloo.solo.io",
		"Mesh": "meshes.egret.dev", "Workload": "workloads.egret.dev",
	}
	if len(crds) != len(want) || len(Resources()) != len(want) || len(GVRs()) != len(want) {
		t.Fatalf("%d CRDs, %d resources, want %d", len(crds), len(Resources()), len(want))
	}
	for i, c := range crds {
		t.Run(c.Spec.Names.Kind, func(t *testing.T) {
			if c.Name != want[c.Spec.Names.Kind] {
				t.Errorf("name %s, want %s", c.Name, want[c.Spec.Names.Kind])
			}
			if c.Spec.Scope != apiextensionsv1.NamespaceScoped {
				t.Errorf("scope %s", c.Spec.Scope)
			}
			r := Resources()[i]
			if r.GVR.Resource+"."+r.GVR.Group != c.Name || r.GVK.Kind != c.Spec.Names.Kind || r.GVK.Version != c.Spec.Versions[0].Name {
				t.Errorf("Resources()[%d] = %v, CRD %s", i, r, c.Name)
			}
			v := c.Spec.Versions[0]
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Error("no status subresource")
			}
			st := v.Schema.OpenAPIV3Schema.Properties["status"]
			if st.XPreserveUnknownFields == nil || !*st.XPreserveUnknownFields {
				t.Error("status does not preserve unknown fields")
			}
			for _, list := range []struct {
				path []string
				key  string
			}{{[]string{"conditions"}, "type"}, {[]string{"clusters"}, "name"}, {[]string{"clusters", "conditions"}, "type"}} {
				s := st
				for _, p := range list.path {
					s = s.Properties[p]
					if s.Items != nil && p != list.path[len(list.path)-1] {
						s = *s.Items.Schema
					}
				}
				if s.XListType == nil || *s.XListType != "map" || !reflect.DeepEqual(s.XListMapKeys, []string{list.key}) {
					t.Errorf("status.%v is not a list-map keyed by %s", list.path, list.key)
				}
			}
			if g := st.Properties["observedGeneration"]; g.Type != "integer" || g.Format != "int64" {
				t.Errorf("status.observedGeneration is %s/%s", g.Type, g.Format)
			}
		})
	}
}

// TestPreserveUnknownFieldsOnlyWhereTheDecoderTakesAnything: outside status, the schema keeps unknown
// fields only where egret's type does (api.Raw, an inline map), so the API server's pruning and strict
// field validation see the same fields the strict decoder does.
func TestPreserveUnknownFieldsOnlyWhereTheDecoderTakesAnything(t *testing.T) {
	crds, err := All()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		// api.MeshConfig's inline map (Istio's MeshConfig: egret reads a few fields, accepts the rest).
		"spec.installations[].istioOperatorSpec.meshConfig": true,
	}
	for _, c := range crds {
		root := c.Spec.Versions[0].Schema.OpenAPIV3Schema
		var walk func(path string, s apiextensionsv1.JSONSchemaProps)
		walk = func(path string, s apiextensionsv1.JSONSchemaProps) {
			forbidden := strings.HasPrefix(s.Description, "Not accepted by egret: ")
			if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields && s.Type != "" && !allowed[path] && !forbidden {
				t.Errorf("%s: %s keeps unknown fields", c.Spec.Names.Kind, path)
			}
			for name, p := range s.Properties {
				walk(join(path, name), p)
			}
			if s.Items != nil && s.Items.Schema != nil {
				if !forbidden {
					walk(path+"[]", *s.Items.Schema)
				}
			}
		}
		if root.XPreserveUnknownFields != nil {
			t.Errorf("%s: the root keeps unknown fields", c.Name)
		}
		walk("spec", root.Properties["spec"])
	}
}

// TestAnObjectWithEveryFieldOfTheSchemaDecodes builds, from each CRD's spec schema, an object that sets
// every field it declares with a value of the declared type, and decodes it with api.Decode: a field name
// or type the schema has and the decoder does not would be a decode problem.
func TestAnObjectWithEveryFieldOfTheSchemaDecodes(t *testing.T) {
	crds, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds {
		t.Run(c.Spec.Names.Kind, func(t *testing.T) {
			obj := map[string]any{
				"apiVersion": c.Spec.Group + "/" + c.Spec.Versions[0].Name,
				"kind":       c.Spec.Names.Kind,
				"metadata":   map[string]any{"name": "a", "namespace": "b"},
				"spec":       sample(c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]),
			}
			b, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if _, problems := api.Decode("sample.json", b); len(problems) > 0 {
				t.Fatalf("%v\n%s", problems, b)
			}
		})
	}
}

// sample is a value of every field s declares.
func sample(s apiextensionsv1.JSONSchemaProps) any {
	preserve := s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
	switch s.Type {
	case "":
		if preserve {
			return map[string]any{"anything": []any{1, "x", true}}
		}
	case "object":
		m := map[string]any{}
		for name, p := range s.Properties {
			m[name] = sample(p)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			m["some-key"] = sample(*s.AdditionalProperties.Schema)
		}
		if preserve {
			m["someFieldEgretDoesNotRead"] = map[string]any{"x": 1}
		}
		return m
	case "array":
		return []any{sample(*s.Items.Schema)}
	case "string":
		if len(s.Enum) > 0 {
			var v string
			_ = json.Unmarshal(s.Enum[0].Raw, &v)
			return v
		}
		return "x"
	case "integer":
		if s.Minimum != nil && *s.Minimum > 1 {
			return int64(*s.Minimum)
		}
		return 1
	case "boolean":
		return true
	}
	panic("sample: schema type " + s.Type)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
