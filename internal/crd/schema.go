package crd

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"egret.dev/egret/internal/api"
)

var (
	rawType  = reflect.TypeOf(api.Raw{})
	enumType = reflect.TypeOf((*api.Enum)(nil)).Elem()
)

// schemaOf is the structural schema of what api.Decode accepts for a value of type t, rule for rule:
//   - api.Raw is any value (the decoder keeps it as it is): x-kubernetes-preserve-unknown-fields, no type;
//   - a struct's fields are its json names, inline structs flattened, unexported and `json:"-"` fields
//     left out; any other key is unknown (pruned, or an error under kubectl's strict field validation),
//     except where an inline map catches the rest (x-kubernetes-preserve-unknown-fields);
//   - an Enum string lists its values; a number is a whole number (no float, no string: "${PORT}" is a
//     type error here as it is in the decoder) within its Go type's range; a map has string keys.
//
// Null is the zero value for the decoder; for the API server a null in a non-nullable field is pruned
// before validation, so both treat it as absent.
func schemaOf(t reflect.Type) apiextensionsv1.JSONSchemaProps {
	if t == rawType {
		return apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: ptr(true)}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.Struct:
		return structSchema(t)
	case reflect.Slice:
		item := schemaOf(t.Elem())
		return apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &item}}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("crd: map key of %s is not a string", t)) // the decoder has the same rule
		}
		val := schemaOf(t.Elem())
		return apiextensionsv1.JSONSchemaProps{Type: "object", AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &val}}
	case reflect.String:
		s := apiextensionsv1.JSONSchemaProps{Type: "string"}
		if t.Implements(enumType) {
			s.Enum = enumJSON(reflect.Zero(t).Interface().(api.Enum).EnumValues())
		}
		return s
	case reflect.Bool:
		return apiextensionsv1.JSONSchemaProps{Type: "boolean"}
	case reflect.Uint32, reflect.Uint16:
		return apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int64", Minimum: ptr(0.0),
			Maximum: ptr(float64(uint64(1)<<(t.Bits()) - 1))}
	case reflect.Int32:
		return apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int32", Minimum: ptr(float64(math.MinInt32)), Maximum: ptr(float64(math.MaxInt32))}
	case reflect.Int, reflect.Int64:
		return apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int64"}
	}
	panic(fmt.Sprintf("crd: the decoder cannot decode a %s (%s), so neither can a schema say it", t.Kind(), t))
}

func structSchema(t reflect.Type) apiextensionsv1.JSONSchemaProps {
	s := apiextensionsv1.JSONSchemaProps{Type: "object"}
	fields, rest := api.WireFields(t)
	if rest != nil {
		s.XPreserveUnknownFields = ptr(true)
	}
	for _, f := range fields {
		if s.Properties == nil {
			s.Properties = map[string]apiextensionsv1.JSONSchemaProps{}
		}
		s.Properties[f.Name] = schemaOf(f.Type)
	}
	return s
}

func enumJSON(values []string) []apiextensionsv1.JSON {
	out := make([]apiextensionsv1.JSON, 0, len(values))
	for _, v := range values {
		b, _ := json.Marshal(v)
		out = append(out, apiextensionsv1.JSON{Raw: b})
	}
	return out
}

func ptr[T any](v T) *T { return &v }
