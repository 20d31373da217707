package api

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Bounds on what one file's YAML may expand to once its aliases are followed. A few hundred bytes of
// nested aliases ("billion laughs") expand to billions of nodes; the decoder walks the expanded tree,
// so without a bound such a file costs minutes and gigabytes.
const (
	MaxExpandedNodes = 1_000_000
	MaxExpandedBytes = 64 << 20
)

// expansion measures documents as expanded without expanding them: each node's expanded size is
// computed once and reused by every alias to it, so measuring costs as much as the file's own nodes.
type expansion struct {
	sizes        map[*yaml.Node]size
	open         map[*yaml.Node]bool
	nodes, bytes int64 // the file's running totals
}

type size struct{ nodes, bytes int64 }

// add counts one more document of the file and returns a problem when the file is over a bound.
func (e *expansion) add(file string, doc *yaml.Node) *Problem {
	if e.sizes == nil {
		e.sizes, e.open = map[*yaml.Node]size{}, map[*yaml.Node]bool{}
	}
	s, at, err := e.measure(doc)
	if err == "" {
		e.nodes, e.bytes = sat(e.nodes+s.nodes), sat(e.bytes+s.bytes)
		if e.nodes > MaxExpandedNodes || e.bytes > MaxExpandedBytes {
			err = fmt.Sprintf("YAML aliases expand this file beyond %d nodes or %d MiB; egret refuses it (nested aliases, \"billion laughs\"?)",
				MaxExpandedNodes, MaxExpandedBytes>>20)
		}
	}
	if err == "" {
		return nil
	}
	if at == nil {
		at = doc
	}
	return &Problem{Source: Source{File: file, Line: at.Line}, Message: err}
}

// measure returns n's expanded size, or an error and the alias where it arose: an alias to a node that
// contains it, or one whose expansion alone is over a bound (measuring stops there).
func (e *expansion) measure(n *yaml.Node) (size, *yaml.Node, string) {
	if s, ok := e.sizes[n]; ok {
		return s, nil, ""
	}
	if e.open[n] {
		return size{}, n, "a YAML alias refers to a node that contains it"
	}
	e.open[n] = true
	defer delete(e.open, n)
	s := size{nodes: 1, bytes: int64(len(n.Value))}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		a, at, err := e.measure(n.Alias)
		if err != "" {
			if at == nil {
				at = n
			}
			return size{}, at, err
		}
		if a.nodes > MaxExpandedNodes || a.bytes > MaxExpandedBytes {
			return size{}, n, fmt.Sprintf("the alias *%s expands to more than %d nodes or %d MiB; egret refuses it (nested aliases, \"billion laughs\"?)",
				n.Value, MaxExpandedNodes, MaxExpandedBytes>>20)
		}
		s = a
	}
	for _, c := range n.Content {
		cs, at, err := e.measure(c)
		if err != "" {
			return size{}, at, err
		}
		s.nodes, s.bytes = sat(s.nodes+cs.nodes), sat(s.bytes+cs.bytes)
	}
	e.sizes[n] = s
	return s, nil, ""
}

// sat keeps sums of expanded sizes from overflowing: anything past the bounds is just "too much".
func sat(n int64) int64 { return min(n, 1<<50) }
