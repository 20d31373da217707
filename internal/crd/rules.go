package crd

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// A rule narrows the schema at path where egret's validation (internal/api/validate*.go) rejects a value
// unconditionally, whatever the rest of the object and the other objects say. Conditional and
// cross-object checks stay in egret and are reported in the Accepted condition (docs/kubernetes.md).
//
// Paths are field names from the root, "[]" stepping into a list's items: spec.ports[].number.
type rule struct {
	path string
	edit func(*apiextensionsv1.JSONSchemaProps) error
}

func (r rule) apply(root *apiextensionsv1.JSONSchemaProps) error {
	var segs []string
	if r.path != "" {
		segs = strings.Split(r.path, ".")
	}
	if err := at(root, segs, r.edit); err != nil {
		return fmt.Errorf("rule at %s: %w", r.path, err)
	}
	return nil
}

// at runs fn on the schema at segs below s (schemas in Properties are values: each level is written back).
func at(s *apiextensionsv1.JSONSchemaProps, segs []string, fn func(*apiextensionsv1.JSONSchemaProps) error) error {
	if len(segs) == 0 {
		return fn(s)
	}
	name, list := strings.CutSuffix(segs[0], "[]")
	child, ok := s.Properties[name]
	if !ok {
		return fmt.Errorf("no field %q", name)
	}
	target := &child
	if list {
		if child.Items == nil || child.Items.Schema == nil {
			return fmt.Errorf("%q is not a list", name)
		}
		target = child.Items.Schema
	}
	if err := at(target, segs[1:], fn); err != nil {
		return err
	}
	s.Properties[name] = child
	return nil
}

// Patterns of the names egret checks (internal/api/names.go).
const (
	dnsLabel     = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	dnsSubdomain = `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
	methodToken  = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
	// allowedPath: "*" alone, "*suffix", or "/exact" / "/prefix*": a * only at the start or the end.
	allowedPath = `^(\*|\*[^*]+|/[^*]*\*?)$`
)

func required(path string, fields ...string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		for _, f := range fields {
			p, ok := s.Properties[f]
			if !ok {
				return fmt.Errorf("no field %q", f)
			}
			s.Required = append(s.Required, f)
			// Present but empty is as missing to egret.
			switch p.Type {
			case "string":
				p.MinLength = ptr[int64](1)
			case "array":
				p.MinItems = ptr[int64](1)
			}
			s.Properties[f] = p
		}
		return nil
	}}
}

func nonEmpty(path string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		switch s.Type {
		case "string":
			s.MinLength = ptr[int64](1)
		case "array":
			s.MinItems = ptr[int64](1)
		default:
			return fmt.Errorf("nonEmpty on a %s", s.Type)
		}
		return nil
	}}
}

// port: 1-65535 (egret's v.port, where 0 is an error too).
func port(path string) rule { return numberRange(path, 1, 65535) }

// portOrUnset: 0 means unset to egret, anything else must be a port.
func portOrUnset(path string) rule { return numberRange(path, 0, 65535) }

func numberRange(path string, lo, hi float64) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "integer" {
			return fmt.Errorf("range on a %s", s.Type)
		}
		s.Minimum, s.Maximum = &lo, &hi
		return nil
	}}
}

func maxItems(path string, n int64) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "array" {
			return fmt.Errorf("maxItems on a %s", s.Type)
		}
		s.MaxItems = &n
		return nil
	}}
}

// only narrows an enum to the values egret acts on (the others decode, then always fail validation).
func only(path string, values ...string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		for _, v := range values {
			found := false
			for _, e := range s.Enum {
				found = found || string(e.Raw) == fmt.Sprintf("%q", v)
			}
			if !found {
				return fmt.Errorf("%q is not a value of the decoder's enum", v)
			}
		}
		s.Enum = enumJSON(values)
		return nil
	}}
}

// name: a required name matching ^pattern$, at most max characters.
func name(path, pattern string, max int64) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "string" {
			return fmt.Errorf("pattern on a %s", s.Type)
		}
		s.Pattern, s.MaxLength = "^"+pattern+"$", &max
		return nil
	}}
}

// optionalName: empty (unset to egret) or a name matching ^pattern$.
func optionalName(path, pattern string, max int64) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "string" {
			return fmt.Errorf("pattern on a %s", s.Type)
		}
		s.Pattern, s.MaxLength = "^("+pattern+")?$", &max
		return nil
	}}
}

func pattern(path, re string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "string" {
			return fmt.Errorf("pattern on a %s", s.Type)
		}
		s.Pattern = re
		return nil
	}}
}

func items(r rule) rule { r.path += "[]"; return r }

// forbid rejects a field egret never accepts set (not supported, or not acted on); message says why.
// "Set" means what it means to egret: a non-empty string, list or map, or any other value present.
func forbid(path, field, message string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		p, ok := s.Properties[field]
		if !ok {
			return fmt.Errorf("no field %q", field)
		}
		// CEL cannot see a field the schema leaves untyped (an api.Raw); egret rejects every value of a
		// forbidden field, so typing it as an object (any fields) narrows nothing egret accepts.
		if p.Type == "" {
			p.Type = "object"
		}
		if p.Type == "array" && p.Items.Schema.Type == "" {
			p.Items.Schema.Type = "object"
		}
		s.Properties[field] = p
		expr := fmt.Sprintf("!has(self.%s)", field)
		switch {
		case p.Type == "string":
			expr += fmt.Sprintf(" || size(self.%s) == 0", field)
		case p.Type == "array", p.Type == "object" && p.AdditionalProperties != nil:
			expr += fmt.Sprintf(" || size(self.%s) == 0", field)
		}
		p.Description = "Not accepted by egret: " + message
		s.Properties[field] = p
		s.XValidations = append(s.XValidations, apiextensionsv1.ValidationRule{
			Rule: expr, Message: message, FieldPath: "." + field, Reason: ptr(apiextensionsv1.FieldValueForbidden),
		})
		return nil
	}}
}

// cel adds a CEL rule on the object at path, reported against fieldPath (relative, ".field").
func cel(path, expr, message, fieldPath string) rule {
	return rule{path, func(s *apiextensionsv1.JSONSchemaProps) error {
		if s.Type != "object" {
			return fmt.Errorf("CEL rule on a %s", s.Type)
		}
		s.XValidations = append(s.XValidations, apiextensionsv1.ValidationRule{Rule: expr, Message: message, FieldPath: fieldPath})
		return nil
	}}
}

// selector is egret's v.selector: a cluster and a namespace, when set, are DNS-1123 labels.
func selector(path string) []rule {
	return []rule{
		optionalName(path+".cluster", dnsLabel, 63),
		optionalName(path+".namespace", dnsLabel, 63),
	}
}

func cluster(path string) rule         { return name(path, dnsLabel, 63) }
func optionalCluster(path string) rule { return optionalName(path, dnsLabel, 63) }
func trustDomain(path string) rule     { return optionalName(path, dnsSubdomain, 253) }

func concat(groups ...[]rule) []rule {
	var out []rule
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
