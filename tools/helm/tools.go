//go:build tools

// Package tools pins helm for egret's chart tests (see scripts/build-helm.sh): `helm template` and
// `helm lint` of deploy/helm/egret. It is its own module so egret's binary never links helm.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
