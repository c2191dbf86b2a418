//go:build tools

// Package tools only exists so that `go mod tidy` keeps the commands that
// kubeapi.sh builds (kube-apiserver, kubectl) and their dependencies in
// go.mod/go.sum. The build tag keeps it out of every normal build (it cannot
// be built itself: both imports are main packages; kubeapi.sh builds them
// with `go build`).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
