//go:build tools

// Package tools pins the Kubernetes and etcd binaries that egret's Istio integration tests run
// (see scripts/build-kube.sh). It is its own module so that k8s.io/kubernetes' replace lines stay
// out of egret's go.mod.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
