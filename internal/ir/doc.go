// Package ir is egret's proxy-agnostic model of an egress plan, with the one decision every proxy and tool shares.
//
// A Plan is plain data (serializable to JSON and YAML) that refers between its parts by ID instead of by
// pointer, so that the slice of a plan one proxy needs can be sent to it and re-indexed there. Everything
// the API leaves implicit (defaults, references, label selections) has been resolved by the translator
// before a Plan exists; what remains is checked types: host patterns, ports and SPIFFE IDs.
package ir
