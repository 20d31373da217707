#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v4, pinned in tools/helm/go.mod) for egret's chart tests: test/install
# runs `helm template` and `helm lint` on deploy/helm/egret and compares the output with
# `egret install --dry-run`. It is its own module so egret's binary never links helm. A cold build
# takes a few minutes on 2 cores, so the binary is cached and the script does nothing when it is
# already present.
#
# Output: ${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}/bin/helm
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}"
bin="${tools_dir}/bin"
mkdir -p "${bin}"

if [[ -x "${bin}/helm" ]]; then
	echo "build-helm: helm already in ${bin}"
	exit 0
fi
cd "${here}/tools/helm"
version="$(go list -m -f '{{.Version}}' helm.sh/helm/v4)"
echo "build-helm: building helm ${version} into ${bin}"
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${version}" \
	-o "${bin}/helm.tmp" helm.sh/helm/v4/cmd/helm
mv "${bin}/helm.tmp" "${bin}/helm"
"${bin}/helm" version --short | sed 's/^/build-helm: /'
