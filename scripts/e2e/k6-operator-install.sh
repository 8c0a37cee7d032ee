#!/usr/bin/env bash
# Installs grafana/k6-operator v1.5.0 on a running e2e cluster (make e2e-up; k6-gate need
# not be installed), or does nothing more than check it when it is already there:
#   - its two images imported into containerd (k6-operator-images.sh made them): the
#     manager and the starter (sh and curl: what its starter Job runs against each runner's
#     k6 REST API); TestRuns name the starter in spec.starter.image
#   - its CRDs (TestRun, PrivateLoadZone: the manager watches both) from its Go module's
#     config/crd/bases, server-side (the TestRun CRD is ~280 KB, too large for apply's
#     annotation), and its ClusterRole from config/rbac/role.yaml
#   - test/e2e/manifests/k6-operator.yaml: namespace k6-operator-system, service account,
#     binding, the manager (all namespaces, one replica, no leader election)
# Then waits for the rollout and for the manager's TestRun controller to start its workers
# (its log). Run by scenario 9 and by hand: make e2e-k6-operator.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ -f "$KUBECONFIG" ]] || die "no cluster: $KUBECONFIG is missing (make e2e-up)"
ns=k6-operator-system
t0=$(date +%s)

t=$(date +%s)
imports=()
for i in k6-operator k6-operator-starter; do
  [[ -f "$E2E_IMAGES/$i.tar" ]] || die "$E2E_IMAGES/$i.tar is missing: run make e2e-scenario-images"
  ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import "$E2E_IMAGES/$i.tar" >/dev/null &
  imports+=("$!")
done
for p in "${imports[@]}"; do wait "$p" || die "an image import failed (ctr images import)"; done
log "images imported in $(($(date +%s) - t)) s: $K6_OPERATOR_IMAGE $K6_OPERATOR_STARTER_IMAGE"

src=$(cd "$E2E_ROOT/test/e2e/k6-operator" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/grafana/k6-operator)
[[ -d "$src/config/crd/bases" ]] || die "k6-operator's source is not in the Go module cache: run make e2e-scenario-tools"
kubectl_ apply --server-side -f "$src/config/crd/bases/k6.io_testruns.yaml" \
  -f "$src/config/crd/bases/k6.io_privateloadzones.yaml" >/dev/null
# Until a CRD has a status, `kubectl wait` fails at once instead of waiting: retried.
for crd in testruns.k6.io privateloadzones.k6.io; do
  wait_for 60 "CRD $crd to be established" \
    kubectl_ wait --for=condition=Established "crd/$crd" --timeout=10s ||
    die "CRD $crd not established"
done
sed -e 's/^  name: manager-role$/  name: k6-operator-manager-role/' "$src/config/rbac/role.yaml" |
  kubectl_ apply -f - >/dev/null
kubectl_ get clusterrole k6-operator-manager-role >/dev/null ||
  die "k6-operator's ClusterRole is not named k6-operator-manager-role (config/rbac/role.yaml changed?)"
sed -e "s|@K6_OPERATOR_IMAGE@|$K6_OPERATOR_IMAGE|g" "$E2E_ROOT/test/e2e/manifests/k6-operator.yaml" |
  kubectl_ apply -f - >/dev/null
kubectl_ -n "$ns" rollout status deployment/k6-operator-controller-manager --timeout=180s >/dev/null ||
  die "k6-operator's manager not ready: $(kubectl_ -n "$ns" get pods -o wide 2>&1)"
# Ready is only its health port; the TestRun controller runs once its caches have synced.
# (The log read whole before grep: grep -q leaving early would fail kubectl, under pipefail.)
controller_started() {
  local logs
  logs=$(kubectl_ -n "$ns" logs deployment/k6-operator-controller-manager --tail=-1) &&
    grep -q 'Starting workers.*"controller": "testrun"' <<<"$logs"
}
wait_for 60 "k6-operator's TestRun controller to start" controller_started ||
  die "k6-operator's TestRun controller did not start: $(kubectl_ -n "$ns" logs deployment/k6-operator-controller-manager --tail=30)"
log "k6-operator $(kubectl_ -n "$ns" get deployment k6-operator-controller-manager -o jsonpath='{.spec.template.spec.containers[0].image}') ready in $(($(date +%s) - t0)) s: $(kubectl_ -n "$ns" get pods --no-headers | awk '{ printf "%s %s %s; ", $1, $2, $3 }')"
