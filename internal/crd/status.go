package crd

import apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

// Condition types and reasons egret writes in status (the Kubernetes contract of issue 14).
const (
	ConditionAccepted   = "Accepted"
	ConditionProgrammed = "Programmed"

	ReasonAccepted    = "Accepted"
	ReasonInvalid     = "Invalid"
	ReasonProgrammed  = "Programmed"
	ReasonApplyFailed = "ApplyFailed"
	ReasonPending     = "Pending"
)

// statusSchema is the status every egret CRD carries: observedGeneration, conditions and the same per
// workload cluster. It preserves unknown fields, so a newer controller may add some without a CRD change.
func statusSchema() apiextensionsv1.JSONSchemaProps {
	generation := apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int64", Minimum: ptr(0.0)}
	cluster := apiextensionsv1.JSONSchemaProps{
		Type:     "object",
		Required: []string{"name"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"name":               {Type: "string", MinLength: ptr[int64](1), Description: "The workload cluster (a key of a workload-cluster Secret, or the --local-cluster name)."},
			"observedGeneration": generation,
			"conditions":         conditionsSchema(),
		},
	}
	return apiextensionsv1.JSONSchemaProps{
		Type:                   "object",
		Description:            "Written by the egret controller: whether it accepted this resource, and whether what it renders is applied in each workload cluster.",
		XPreserveUnknownFields: ptr(true),
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"observedGeneration": generation,
			"conditions":         conditionsSchema(),
			"clusters": {
				Type:         "array",
				Items:        &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &cluster},
				XListType:    ptr("map"),
				XListMapKeys: []string{"name"},
			},
		},
	}
}

// conditionsSchema is a list of metav1.Condition, keyed by type, with metav1.Condition's own constraints.
func conditionsSchema() apiextensionsv1.JSONSchemaProps {
	condition := apiextensionsv1.JSONSchemaProps{
		Type:     "object",
		Required: []string{"type", "status", "lastTransitionTime", "reason", "message"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"type": {Type: "string", MaxLength: ptr[int64](316),
				Pattern: `^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`},
			"status":             {Type: "string", Enum: enumJSON([]string{"True", "False", "Unknown"})},
			"observedGeneration": {Type: "integer", Format: "int64", Minimum: ptr(0.0)},
			"lastTransitionTime": {Type: "string", Format: "date-time"},
			"reason": {Type: "string", MinLength: ptr[int64](1), MaxLength: ptr[int64](1024),
				Pattern: `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`},
			"message": {Type: "string", MaxLength: ptr[int64](32768)},
		},
	}
	return apiextensionsv1.JSONSchemaProps{
		Type:         "array",
		Items:        &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &condition},
		XListType:    ptr("map"),
		XListMapKeys: []string{"type"},
	}
}
