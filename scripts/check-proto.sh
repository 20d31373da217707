#!/usr/bin/env bash
# Fails when internal/xds/configv1/*.pb.go is not what scripts/gen-proto.sh generates from config.proto.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v protoc >/dev/null || apt-get install -y protobuf-compiler >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$root/internal/xds/configv1/config.pb.go" "$tmp/"
"$root/scripts/gen-proto.sh"
if ! cmp -s "$tmp/config.pb.go" "$root/internal/xds/configv1/config.pb.go"; then
	cp "$tmp/config.pb.go" "$root/internal/xds/configv1/config.pb.go"
	echo "internal/xds/configv1/config.pb.go is stale: run go generate ./internal/xds/configv1 and commit it" >&2
	exit 1
fi
