#!/usr/bin/env bash
# Builds istiod (pilot-discovery) for egret's Istio integration test (test/istio starts it on
# loopback against a kube-apiserver from scripts/build-kube.sh).
#
# istio.io/istio has no semver tags on the module proxy; tools/istiod/go.mod pins the same
# pseudo-version egret's go.mod uses for its validation tests, so istiod and the validator are one
# Istio. A cold build takes about 7 minutes on 2 cores (2.3 GB peak RSS), so the binary is cached
# and the script does nothing when it is already present.
#
# Output: ${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}/bin/pilot-discovery
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}"
bin="${tools_dir}/bin"
mkdir -p "${bin}"

if [[ -x "${bin}/pilot-discovery" ]]; then
	echo "build-istiod: pilot-discovery already in ${bin}"
	exit 0
fi
cd "${here}/tools/istiod"
version="$(go list -m -f '{{.Version}}' istio.io/istio)"
echo "build-istiod: building pilot-discovery (istio.io/istio ${version}) into ${bin} (about 7 minutes cold)"
go build -trimpath -ldflags "-s -w" -o "${bin}/pilot-discovery.tmp" istio.io/istio/pilot/cmd/pilot-discovery
mv "${bin}/pilot-discovery.tmp" "${bin}/pilot-discovery"
echo "build-istiod: built ${bin}/pilot-discovery"
