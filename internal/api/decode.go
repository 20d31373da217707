package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kindInfo says which apiVersion a kind is accepted under and how to make an empty one.
type kindInfo struct {
	apiVersion string
	new        func() Object
}

var kinds = map[string]kindInfo{
	KindVirtualGateway:          {NetworkingV2, func() Object { return &VirtualGateway{} }},
	KindExternalService:         {NetworkingV2, func() Object { return &ExternalService{} }},
	KindExternalEndpoint:        {NetworkingV2, func() Object { return &ExternalEndpoint{} }},
	KindAccessPolicy:            {SecurityV2, func() Object { return &AccessPolicy{} }},
	KindGatewayLifecycleManager: {AdminV2, func() Object { return &GatewayLifecycleManager{} }},
	KindIstioLifecycleManager:   {AdminV2, func() Object { return &IstioLifecycleManager{} }},
	KindMesh:                    {EgretV1, func() Object { return &Mesh{} }},
	KindWorkload:                {EgretV1, func() Object { return &Workload{} }},
	KindWorkspace:               {AdminV2, func() Object { return &Workspace{} }},
	KindWorkspaceSettings:       {AdminV2, func() Object { return &WorkspaceSettings{} }},
	KindRouteTable:              {NetworkingV2, func() Object { return &RouteTable{} }},
}

// KnownKinds lists the kinds the decoder accepts, sorted.
func KnownKinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Decode reads every object in data (YAML or JSON, many documents; a `kind: List` is unpacked), strictly:
// an unknown field, a wrong type or an unknown enum value is a Problem naming the file, line, object and
// field path. Objects with problems are dropped; the returned problems are all that was found.
func Decode(file string, data []byte) ([]Object, []Problem) {
	d := &decoder{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []Object
	var budget expansion
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.problems = append(d.problems, syntaxProblem(file, err))
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		if p := budget.add(file, &doc); p != nil {
			return nil, append(d.problems, *p) // nothing of such a file is used
		}
		objs = append(objs, d.document(doc.Content[0])...)
	}
	return objs, d.problems
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	p := Problem{Source: Source{File: file}, Message: "invalid YAML: " + err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Source.Line, _ = strconv.Atoi(m[1])
		p.Message = "invalid YAML: " + m[2]
	}
	return p
}

type decoder struct {
	file     string
	object   string         // "Kind ns/name" of the object being decoded
	lines    map[string]int // field path → line, for the object being decoded
	problems []Problem
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		Source:  Source{File: d.file, Line: n.Line},
		Object:  d.object,
		Path:    path,
		Message: fmt.Sprintf(format, args...),
	})
}

// document decodes one top-level YAML node into zero or more objects.
func (d *decoder) document(n *yaml.Node) []Object {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	d.object = ""
	if n.Kind != yaml.MappingNode {
		d.fail(n, "", "a resource must be a mapping with apiVersion, kind, metadata and spec, got %s", describe(n))
		return nil
	}
	apiVersion, kind := scalarField(n, "apiVersion"), scalarField(n, "kind")
	if kind == "List" && apiVersion == "v1" {
		var out []Object
		if items := field(n, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				out = append(out, d.document(it)...)
			}
		}
		return out
	}
	d.object = objectRef(n, kind)
	info, ok := kinds[kind]
	if !ok && unsupportedKind(kind, apiVersion) {
		// A Gloo kind egret does not implement: kept, so that it is reported on itself and the rest runs.
		info, ok = kindInfo{apiVersion, func() Object { return &Unsupported{} }}, true
	}
	switch {
	case kind == "":
		d.fail(n, "kind", "missing: every resource needs a kind (one of %s)", strings.Join(KnownKinds(), ", "))
		return nil
	case !ok:
		d.fail(keyNode(n, "kind"), "kind", "unknown kind %q (egret reads %s)", kind, strings.Join(KnownKinds(), ", "))
		return nil
	case apiVersion != info.apiVersion:
		at := keyNode(n, "apiVersion")
		if at == nil {
			at = n
		}
		d.fail(at, "apiVersion", "%s must have apiVersion %s, got %q", kind, info.apiVersion, apiVersion)
		return nil
	}
	obj := info.new()
	d.lines = map[string]int{}
	before := len(d.problems)
	d.value(n, reflect.ValueOf(obj).Elem(), "")
	if len(d.problems) > before {
		return nil
	}
	h := reflect.ValueOf(obj).Elem().FieldByName("Header").Addr().Interface().(*Header)
	h.Src = Source{File: d.file, Line: n.Line, Lines: d.lines}
	return []Object{obj}
}

func objectRef(n *yaml.Node, kind string) string {
	md := field(n, "metadata")
	name, ns := "", ""
	if md != nil && md.Kind == yaml.MappingNode {
		name, ns = scalarField(md, "name"), scalarField(md, "namespace")
	}
	if kind == "" {
		kind = "object"
	}
	if name == "" {
		name = "(unnamed)"
	}
	if ns == "" {
		return kind + " " + name
	}
	return kind + " " + ns + "/" + name
}

var (
	rawType  = reflect.TypeOf(Raw{})
	enumType = reflect.TypeOf((*Enum)(nil)).Elem()
)

// value decodes n into v, reporting problems against path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if _, ok := d.lines[path]; !ok && d.lines != nil {
		d.lines[path] = n.Line
	}
	if v.Type() == rawType {
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(Raw{Value: x}))
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // absent and null mean the same: the zero value
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.value(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.structValue(n, v, path)
	case reflect.Slice:
		d.sliceValue(n, v, path)
	case reflect.Map:
		d.mapValue(n, v, path)
	case reflect.String:
		d.stringValue(n, v, path)
	case reflect.Bool:
		d.boolValue(n, v, path)
	case reflect.Uint32, reflect.Uint16, reflect.Int, reflect.Int32, reflect.Int64:
		d.intValue(n, v, path)
	default:
		d.fail(n, path, "egret cannot decode a %s here", v.Kind())
	}
}

// sliceValue decodes a YAML sequence into a slice.
func (d *decoder) sliceValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// mapValue decodes a YAML mapping into a map; a duplicate key is a problem.
func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be strings")
			continue
		}
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, join(path, k.Value), "duplicate key")
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, e, join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

// stringValue decodes a string scalar, checking an Enum's allowed values.
func (d *decoder) stringValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		if n.Kind == yaml.ScalarNode {
			d.fail(n, path, "must be a string, got %s (quote it: %q)", describe(n), n.Value)
		} else {
			d.fail(n, path, "must be a string, got %s", describe(n))
		}
		return
	}
	if d.unexpandedVar(n, path) {
		return
	}
	if v.Type().Implements(enumType) {
		allowed := reflect.Zero(v.Type()).Interface().(Enum).EnumValues()
		if !contains(allowed, n.Value) {
			d.fail(n, path, "unknown value %q (one of %s)", n.Value, strings.Join(allowed, ", "))
			return
		}
	}
	v.SetString(n.Value)
}

// boolValue decodes true or false.
func (d *decoder) boolValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		if d.unexpandedVar(n, path) {
			return
		}
		d.fail(n, path, "must be true or false, got %s", describe(n))
		return
	}
	v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
}

// intValue decodes a whole number that fits v.
func (d *decoder) intValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		if d.unexpandedVar(n, path) {
			return
		}
		d.fail(n, path, "must be a whole number, got %s", describe(n))
		return
	}
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		d.fail(n, path, "must be a whole number, got %q", n.Value)
		return
	}
	if v.CanUint() {
		if i < 0 || v.OverflowUint(uint64(i)) {
			d.fail(n, path, "%d is out of range", i)
			return
		}
		v.SetUint(uint64(i))
		return
	}
	if v.OverflowInt(i) {
		d.fail(n, path, "%d is out of range", i)
		return
	}
	v.SetInt(i)
}

// unexpanded finds $VAR or ${VAR}, as left by copying a manifest that expects envsubst.
var unexpanded = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}|^\$[A-Za-z_][A-Za-z0-9_]*$`)

// unexpandedVar reports (as the problem of n) a scalar holding $VAR or ${VAR}: in a string, a number or
// a boolean field alike, the fix is to substitute it, not to change its type.
func (d *decoder) unexpandedVar(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	m := unexpanded.FindString(n.Value)
	if m == "" {
		return false
	}
	d.fail(n, path, "%q looks like an unexpanded shell variable (%s): substitute it first (envsubst, or egret's --expand-env)", n.Value, m)
	return true
}

// WireField is one key an api struct is decoded from: the json tag's name (the Go name when the tag has
// none), with inline structs flattened.
type WireField struct {
	Name  string
	Type  reflect.Type
	Index []int // for reflect.Value.FieldByIndex
}

// WireFields lists, in order, the keys a struct is decoded from, and the index of its inline map that
// takes any other key (nil when other keys are errors). The CRD schemas (internal/crd) follow the same
// list, so kubectl and egret read the same fields.
func WireFields(t reflect.Type) (fields []WireField, rest []int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			switch f.Type.Kind() {
			case reflect.Struct:
				sub, _ := WireFields(f.Type)
				for _, w := range sub {
					fields = append(fields, WireField{Name: w.Name, Type: w.Type, Index: append([]int{i}, w.Index...)})
				}
			case reflect.Map:
				rest = []int{i}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, WireField{Name: name, Type: f.Type, Index: []int{i}})
	}
	return fields, rest
}

// structFields is WireFields by name, with the names in order (for suggestions).
func structFields(t reflect.Type) (map[string]WireField, []string, []int) {
	list, rest := WireFields(t)
	fields := make(map[string]WireField, len(list))
	order := make([]string, len(list))
	for i, f := range list {
		fields[f.Name] = f
		order[i] = f.Name
	}
	return fields, order, rest
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, got %s", describe(n))
		return
	}
	fields, order, rest := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be strings")
			continue
		}
		p := join(path, k.Value)
		if k.Tag == "!!merge" {
			d.fail(k, p, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if seen[k.Value] {
			d.fail(k, p, "duplicate field")
			continue
		}
		seen[k.Value] = true
		d.lines[p] = k.Line
		fi, ok := fields[k.Value]
		if !ok {
			if rest != nil {
				m := v.FieldByIndex(rest)
				if m.IsNil() {
					m.Set(reflect.MakeMap(m.Type()))
				}
				e := reflect.New(m.Type().Elem()).Elem()
				d.value(val, e, p)
				m.SetMapIndex(reflect.ValueOf(k.Value), e)
				continue
			}
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if s := suggest(k.Value, order); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(k, p, "%s", msg)
			continue
		}
		d.value(val, v.FieldByIndex(fi.Index), p)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported YAML node"
}

func field(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

func keyNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalarField(n *yaml.Node, key string) string {
	if f := field(n, key); f != nil && f.Kind == yaml.ScalarNode {
		return f.Value
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known name closest to s when it is a plausible typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
