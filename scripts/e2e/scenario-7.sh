#!/usr/bin/env bash
# Scenario 7 of issue 29: `helm uninstall` leaves nothing of the release: no object of any
# listable kind, in any namespace or cluster-wide, with the release's instance label (the
# Roles it made in test included), no pod, no Helm release record. The one exception
# Kubernetes makes by design is the Redis StatefulSet's volume claim (a StatefulSet's
# claims outlive it unless the chart sets persistentVolumeClaimRetentionPolicy); it is
# listed, then deleted as a user would, and its volume released. What is left in the
# namespace is what the README's install made by hand: the token's Secret.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm
t0=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" uninstall k6-gate --namespace k6-gate --wait --timeout 5m >/dev/null
no_pods() { [[ -z "$(kubectl_ -n k6-gate get pods -o name)" ]]; }
if ! wait_for 120 "k6-gate's pods to be gone" no_pods; then
  for p in $(kubectl_ -n k6-gate get pods -o name); do
    kubectl_ -n k6-gate logs "$p" >"$ARTIFACTS/scenario-7-${p#pod/}.log" 2>&1 || true
  done
  die "pods left in k6-gate 120 s after helm uninstall (their logs: test-artifacts/e2e/scenario-7-*.log): $(kubectl_ -n k6-gate get pods --no-headers | xargs)"
fi
ok "helm uninstall in $(($(date +%s) - t0)) s; no pod left in k6-gate"
[[ -z "$("$helm" --kubeconfig "$KUBECONFIG" list -A -q)" ]] || die "Helm still lists a release"
[[ -z "$(kubectl_ get secrets -A -l owner=helm,name=k6-gate -o name)" ]] || die "Helm's release records are left"
ok "no Helm release, no release record"

kinds=$(kubectl_ api-resources --verbs=list -o name | grep -v -x -e events -e events.events.k8s.io -e componentstatuses -e endpoints | paste -sd,)
kubectl_ get "$kinds" -A -l app.kubernetes.io/instance=k6-gate -o name --ignore-not-found >"$ARTIFACTS/scenario-7-left.txt"
left=$(grep -v -x 'persistentvolumeclaim/data-k6-gate-redis-0' "$ARTIFACTS/scenario-7-left.txt" || true)
[[ -z "$left" ]] || die "left of the release: $(xargs <<<"$left")"
pvc_left=$(wc -l <"$ARTIFACTS/scenario-7-left.txt")
ok "no object of the release's left in $(tr ',' '\n' <<<"$kinds" | wc -l) kinds but the StatefulSet's claim ($pvc_left: data-k6-gate-redis-0)"

rest=$(kubectl_ -n k6-gate get all,configmaps,secrets,serviceaccounts,roles,rolebindings -o name | sort | xargs)
[[ "$rest" == "configmap/kube-root-ca.crt secret/k6-gate-webhook serviceaccount/default" ]] ||
  die "namespace k6-gate holds more than the token's Secret and Kubernetes' own: $rest"
[[ -z "$(kubectl_ -n test get roles,rolebindings -o name)" ]] || die "Roles left in test: $(kubectl_ -n test get roles,rolebindings -o name | xargs)"
ok "k6-gate holds only the README's token Secret (and Kubernetes' own); test no Role"

if ((pvc_left)); then
  kubectl_ -n k6-gate delete pvc -l app.kubernetes.io/instance=k6-gate --wait --timeout=60s >/dev/null
  released() { [[ "$(kubectl_ get pv e2e-redis-data -o jsonpath='{.status.phase}')" == Released ]]; }
  wait_for 60 "the Redis volume to be released" released || die "the Redis volume was not released"
  ok "the Redis claim deleted by hand (kubectl delete pvc -l app.kubernetes.io/instance=k6-gate): its volume Released"
fi
result 7 "helm uninstall in $(($(date +%s) - t0))s: nothing of the release left but the Redis StatefulSet's volume claim ($pvc_left, Kubernetes keeps a StatefulSet's claims; deleted by hand); namespace k6-gate holds only the README's token Secret"
