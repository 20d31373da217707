// Package api holds egret's resource types as they are written by users: decoded, defaulted and validated, with no behaviour.
package api

import "strings"

// API groups and versions accepted verbatim from the seed's manifests.
const (
	NetworkingV2 = "networking.gloo.solo.io/v2"
	SecurityV2   = "security.policy.gloo.solo.io/v2"
	AdminV2      = "admin.gloo.solo.io/v2"
	EgretV1      = "egret.dev/v1alpha1"
)

// Kinds egret understands.
const (
	KindVirtualGateway          = "VirtualGateway"
	KindExternalService         = "ExternalService"
	KindExternalEndpoint        = "ExternalEndpoint"
	KindAccessPolicy            = "AccessPolicy"
	KindGatewayLifecycleManager = "GatewayLifecycleManager"
	KindIstioLifecycleManager   = "IstioLifecycleManager"
	KindMesh                    = "Mesh"
	KindWorkload                = "Workload"
	KindRouteTable              = "RouteTable"
)

// ObjectMeta is the subset of Kubernetes object metadata that egret reads.
// ClusterName places an object in one cluster; empty means it applies to every cluster.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	ClusterName string            `json:"clusterName,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Source says where an object was read from, for error messages.
type Source struct {
	File string `json:"-"`
	Line int    `json:"-"`
	// Lines maps field paths (spec.ports[0].number) to the line they were written on.
	Lines map[string]int `json:"-"`
}

// At returns the position of a field path, or of its nearest enclosing field that has one.
func (s Source) At(path string) Source {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.Lines[p]; ok {
			return Source{File: s.File, Line: l}
		}
	}
	return Source{File: s.File, Line: s.Line}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Object is implemented by every resource kind.
type Object interface {
	GetKind() string
	GetMeta() *ObjectMeta
	GetSource() Source
}

// Header is the part every resource shares.
type Header struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Src        Source     `json:"-"`
}

func (h *Header) GetKind() string      { return h.Kind }
func (h *Header) GetMeta() *ObjectMeta { return &h.Metadata }
func (h *Header) GetSource() Source    { return h.Src }

// Ref names an object as "Kind namespace/name" (or "Kind name" when it has no namespace).
func Ref(o Object) string {
	m := o.GetMeta()
	if m.Namespace == "" {
		return o.GetKind() + " " + m.Name
	}
	return o.GetKind() + " " + m.Namespace + "/" + m.Name
}

// ObjectSelector selects objects by name, namespace, cluster and labels; an empty field matches anything.
type ObjectSelector struct {
	Name      string            `json:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Cluster   string            `json:"cluster,omitempty"`
	Workspace string            `json:"workspace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// ObjectReference names one object; an empty namespace or cluster means the referring object's own.
type ObjectReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
}

// PortSelector picks a port by number or by name.
type PortSelector struct {
	Number uint32 `json:"number,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Raw holds a value egret accepts but does not read (Istio operator settings it has no use for).
type Raw struct {
	Value any
}
