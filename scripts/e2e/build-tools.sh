#!/usr/bin/env bash
# Builds the Go parts of the e2e cluster from the Go module proxy (GOTOOLCHAIN=local,
# CGO_ENABLED=0, static), each from its wrapper module under test/e2e/:
#   build-tools.sh kubernetes OUT  kube-apiserver, kube-controller-manager, kube-scheduler,
#                                  kubelet, kube-proxy, kubectl (test/e2e/kube)
#   build-tools.sh etcd OUT        etcd, etcdctl (test/e2e/etcd)
#   build-tools.sh coredns OUT     coredns (test/e2e/coredns)
#   build-tools.sh kube-router OUT kube-router (test/e2e/kube-router), the NetworkPolicy
#                                  engine (up.sh runs it firewall-only)
#   build-tools.sh images OUT      pause, e2e-app, oci-image (test/e2e/images, stdlib only)
#   build-tools.sh podinfo OUT     podinfo (test/e2e/podinfo), the scenarios' app
#   build-tools.sh flagger OUT     flagger (test/e2e/flagger), the scenarios' controller
#   build-tools.sh keda OUT        keda (the operator) and keda-adapter (its metrics API
#                                  server), test/e2e/keda: scenario 5's autoscaler
#   build-tools.sh k6-operator OUT k6-operator (test/e2e/k6-operator), the TestRun
#                                  controller (k6 over several runner pods)
# The versions are the ones each go.mod requires (the only place they are written).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
usage="usage: build-tools.sh kubernetes|etcd|coredns|kube-router|images|podinfo|flagger|keda|k6-operator OUT_DIR"
what=${1:?$usage}
out=${2:?$usage}
mkdir -p "$out"
out=$(cd "$out" && pwd)

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

# The version a wrapper module requires of a module, e.g. v1.34.4.
required_version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

start=$(date +%s)
case "$what" in
  kubernetes)
    cd "$root/test/e2e/kube"
    v=$(required_version . k8s.io/kubernetes)
    minor=${v#v1.}
    minor=${minor%%.*}
    # What Kubernetes' hack/lib/version.sh stamps, so `kubectl version`, the node's
    # kubeletVersion and the API server's /version say v1.34.4 and not v0.0.0-master.
    ldflags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    echo "building Kubernetes $v (6 binaries; 10-30 min with a cold Go cache on 2 cores)"
    go build -trimpath -ldflags "$ldflags" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
    ;;
  etcd)
    cd "$root/test/e2e/etcd"
    v=$(required_version . go.etcd.io/etcd/server/v3)
    echo "building etcd $v"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
    go build -trimpath -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3
    ;;
  coredns)
    cd "$root/test/e2e/coredns"
    v=$(required_version . github.com/coredns/coredns)
    echo "building CoreDNS $v"
    go build -trimpath -ldflags "-s -w" -o "$out/coredns" github.com/coredns/coredns
    ;;
  kube-router)
    cd "$root/test/e2e/kube-router"
    v=$(required_version . github.com/cloudnativelabs/kube-router/v2)
    # What kube-router's Makefile stamps (its log's "Running kube-router version ...").
    ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$v"
    ldflags+=" -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=1970-01-01T00:00:00Z"
    echo "building kube-router $v"
    go build -trimpath -ldflags "$ldflags" -o "$out/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
    ;;
  podinfo)
    cd "$root/test/e2e/podinfo"
    v=$(required_version . github.com/stefanprodan/podinfo)
    echo "building podinfo $v"
    go build -trimpath -ldflags "-s -w" -o "$out/podinfo" github.com/stefanprodan/podinfo/cmd/podinfo
    ;;
  flagger)
    cd "$root/test/e2e/flagger"
    v=$(required_version . github.com/fluxcd/flagger)
    echo "building Flagger $v"
    go build -trimpath -ldflags "-s -w" \
      -o "$out/flagger" github.com/fluxcd/flagger/cmd/flagger
    ;;
  keda)
    cd "$root/test/e2e/keda"
    v=$(required_version . github.com/kedacore/keda/v2)
    # What KEDA's Makefile stamps (its log's "KEDA Version"), named as in its images.
    ldflags="-s -w -X github.com/kedacore/keda/v2/version.Version=${v#v}"
    ldflags+=" -X github.com/kedacore/keda/v2/version.GitCommit=$v"
    echo "building KEDA $v (operator and metrics API server)"
    go build -trimpath -ldflags "$ldflags" -o "$out/keda" github.com/kedacore/keda/v2/cmd/operator
    go build -trimpath -ldflags "$ldflags" -o "$out/keda-adapter" github.com/kedacore/keda/v2/cmd/adapter
    ;;
  k6-operator)
    cd "$root/test/e2e/k6-operator"
    v=$(required_version . github.com/grafana/k6-operator)
    # Its main package is cmd (the Makefile's `go build -o bin/manager cmd/main.go`); it
    # stamps no version.
    echo "building k6-operator $v"
    go build -trimpath -ldflags "-s -w" -o "$out/k6-operator" github.com/grafana/k6-operator/cmd
    ;;
  images)
    cd "$root/test/e2e/images"
    go build -trimpath -ldflags "-s -w" -o "$out/" ./cmd/pause ./cmd/e2e-app ./cmd/oci-image
    ;;
  *)
    echo "build-tools.sh: unknown part '$what'" >&2
    exit 2
    ;;
esac
echo "built $what in $(($(date +%s) - start)) s"
