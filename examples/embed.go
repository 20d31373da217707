// Package examples embeds the example resources, so `egret demo` runs on a machine with only the binary.
package examples

import "embed"

// BookinfoEgress is the seed scenario: examples/bookinfo-egress/*.yaml.
//
//go:embed bookinfo-egress/*.yaml
var BookinfoEgress embed.FS
