//go:build tools

// Package tools pins istiod (pilot-discovery) for egret's Istio integration test (see
// scripts/build-istiod.sh). It is its own module so egret's binary never links istio.io/istio.
package tools

import _ "istio.io/istio/pilot/cmd/pilot-discovery"
