#!/usr/bin/env bash
# Regenerates internal/xds/configv1/*.pb.go from its .proto with the pinned protoc-gen-go.
# protoc: Debian's protobuf-compiler (3.21.12); protoc-gen-go: the google.golang.org/protobuf version in
# go.mod, installed into ~/.cache/egret/tools/bin. Run by `go generate ./internal/xds/...`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${EGRET_TOOLS:-$HOME/.cache/egret/tools}/bin"
if ! command -v protoc >/dev/null; then
	echo "gen-proto: protoc is missing (apt-get install protobuf-compiler)" >&2
	exit 1
fi
ver=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
if [[ ! -x "$tools/protoc-gen-go" ]] || ! "$tools/protoc-gen-go" --version | grep -q "${ver#v}"; then
	GOBIN="$tools" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$ver"
fi
cd "$root/internal/xds/configv1"
PATH="$tools:$PATH" protoc --go_out=. --go_opt=paths=source_relative config.proto
