#!/usr/bin/env bash
# Builds spire-server and spire-agent (v1.13.3) for egret's SPIRE integration test.
#
# The Go module proxy refuses `go install github.com/spiffe/spire/cmd/...@v1.13.3`, so the
# versions are pinned as tools in tools/spire/go.mod and built from there. A cold build takes
# about 6 minutes on 2 cores, so the binaries are cached and the script does nothing when
# both are already present.
#
# Output: ${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}/bin/{spire-server,spire-agent}
# The test in internal/identity looks there (or in $EGRET_SPIRE_BIN) for them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}"
bin="${tools_dir}/bin"
mkdir -p "${bin}"

need=()
for name in spire-server spire-agent; do
	if [[ ! -x "${bin}/${name}" ]]; then
		need+=("github.com/spiffe/spire/cmd/${name}")
	fi
done
if [[ ${#need[@]} -eq 0 ]]; then
	echo "build-spire: spire-server and spire-agent already in ${bin}"
	exit 0
fi

echo "build-spire: building ${need[*]} into ${bin} (about 6 minutes cold)"
cd "${here}/tools/spire"
GOBIN="${bin}" go install -ldflags "-s -w" "${need[@]}"
"${bin}/spire-server" --version 2>&1 | sed 's/^/build-spire: spire-server /'
"${bin}/spire-agent" --version 2>&1 | sed 's/^/build-spire: spire-agent /'
