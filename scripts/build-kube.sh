#!/usr/bin/env bash
# Builds kube-apiserver (v1.37.2), etcd (v3.7.3) and kubectl (v1.37.2) for egret's Kubernetes and Istio
# integration tests (internal/kubetest starts the servers on loopback; test/kubernetes runs kubectl
# for the walkthrough in docs/kubernetes.md).
#
# The Go module proxy refuses `go install k8s.io/kubernetes/cmd/kube-apiserver@...` and
# `go install go.etcd.io/etcd/server/v3@...` (their go.mod files have replace lines), so both are
# built from the wrapper module tools/kube, whose go.mod carries k8s.io/kubernetes' 33 staging
# replace lines. A cold build takes about 6-7 minutes on 2 cores (2.4 GB peak RSS), so the binaries
# are cached and the script does nothing when both are already present.
#
# Output: ${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}/bin/{kube-apiserver,etcd,kubectl}
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}"
bin="${tools_dir}/bin"
mkdir -p "${bin}"
cd "${here}/tools/kube"

kube_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"   # v1.37.2
minor="$(echo "${kube_version}" | cut -d. -f2)"

if [[ ! -x "${bin}/etcd" ]]; then
	echo "build-kube: building etcd into ${bin} (about 1 minute cold)"
	go build -trimpath -ldflags "-s -w" -o "${bin}/etcd.tmp" ./cmd/etcd
	mv "${bin}/etcd.tmp" "${bin}/etcd"
	"${bin}/etcd" --version | head -1 | sed 's/^/build-kube: /'
else
	echo "build-kube: etcd already in ${bin}"
fi

if [[ ! -x "${bin}/kube-apiserver" ]]; then
	echo "build-kube: building kube-apiserver ${kube_version} into ${bin} (about 6 minutes cold)"
	go build -trimpath -ldflags "-s -w \
		-X k8s.io/component-base/version.gitVersion=${kube_version} \
		-X k8s.io/component-base/version.gitMajor=1 \
		-X k8s.io/component-base/version.gitMinor=${minor}" \
		-o "${bin}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	mv "${bin}/kube-apiserver.tmp" "${bin}/kube-apiserver"
	"${bin}/kube-apiserver" --version | sed 's/^/build-kube: /'
else
	echo "build-kube: kube-apiserver already in ${bin}"
fi

if [[ ! -x "${bin}/kubectl" ]]; then
	echo "build-kube: building kubectl ${kube_version} into ${bin} (about 2 minutes cold)"
	go build -trimpath -ldflags "-s -w \
		-X k8s.io/component-base/version.gitVersion=${kube_version} \
		-X k8s.io/component-base/version.gitMajor=1 \
		-X k8s.io/component-base/version.gitMinor=${minor}" \
		-o "${bin}/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
	mv "${bin}/kubectl.tmp" "${bin}/kubectl"
	"${bin}/kubectl" version --client | head -1 | sed 's/^/build-kube: /'
else
	echo "build-kube: kubectl already in ${bin}"
fi
