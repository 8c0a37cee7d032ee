#!/usr/bin/env bash
# Scenario 4 of issue 29: kubernetes_secrets through the chart's RBAC (secretNamespaces={test}
# at install: a Role with `get` on Secrets in test, bound to the worker's ServiceAccount).
#   a. A Secret in test is read: the k6 script gets its value (it checks its sha256 and
#      sends it to podinfo's /headers) and passes.
#   b. A Secret in staging (outside secretNamespaces) is refused by the gate's own check
#      (SECRET_NAMESPACES, which the chart sets to exactly the granted namespaces).
#   c. With that check opened (helm upgrade: worker.extraEnv SECRET_NAMESPACES=test|staging)
#      the API server itself refuses the read: the verdict and the worker's log say HTTP 403.
#      The value is put back afterwards (helm upgrade, extraEnv emptied).
# The calls are Flagger's webhook payloads POSTed to /launch-test from an API pod.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm
sa=system:serviceaccount:k6-gate:k6-gate-worker
t0=$(date +%s)
value=$(openssl rand -hex 16)
sha=$(printf '%s' "$value" | sha256sum | cut -d' ' -f1)
kubectl_ create namespace staging --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
for ns in test staging; do
  kubectl_ -n "$ns" delete secret k6-target --ignore-not-found >/dev/null
  kubectl_ -n "$ns" create secret generic k6-target --from-literal=token="$value" >/dev/null
done
[[ $(kubectl_ auth can-i get secret/k6-target -n test --as "$sa") == yes ]] || die "the worker may not get Secrets in test"
[[ $(kubectl_ auth can-i get secret/k6-target -n staging --as "$sa" || true) == no ]] || die "the worker may get Secrets in staging"
ok "RBAC as the chart made it: $sa may get Secrets in test, not in staging"

script=$(
  cat <<'JS'
import http from 'k6/http';
import crypto from 'k6/crypto';
import { check } from 'k6';
export const options = { vus: 1, iterations: 5, thresholds: { checks: ['rate==1'] } };
export default function () {
  const r = http.get(__ENV.TARGET + 'headers', { headers: { 'X-Api-Token': __ENV.API_TOKEN } });
  check(r, {
    'the secret is the one in the cluster': () => crypto.sha256(__ENV.API_TOKEN || '', 'hex') === __ENV.WANT,
    'it reached the target': (res) => res.status === 200 && res.body.includes(__ENV.API_TOKEN),
  });
}
JS
)
# secret_payload NAME SECRET_REF: a webhook payload as Flagger sends it, a fresh checksum each time.
secret_payload() {
  jq -nc --arg name "$1" --arg ref "$2" --arg script "$script" --arg sha "$sha" --arg sum "$(openssl rand -hex 8)" '{
    name: $name, namespace: "test", phase: "Progressing", checksum: $sum,
    metadata: { script: $script, kubernetes_secrets: ({API_TOKEN: $ref} | tojson),
      env_vars: ({TARGET: "http://podinfo-primary.test:9898/", WANT: $sha} | tojson) } }'
}

# a. and b.
calls=$({
  secret_payload secrets-allowed k6-target/token
  secret_payload secrets-outside staging/k6-target/token
} | gate_calls)
echo "$calls" >"$ARTIFACTS/scenario-4-calls.jsonl"
jq -e 'select(.status == 200)' <<<"$(sed -n 1p <<<"$calls")" >/dev/null ||
  die "the read of test/k6-target: $(sed -n 1p <<<"$calls")"
ok "test/k6-target read by the worker: 200, $(sed -n 1p <<<"$calls" | jq -r .body | sed -n 2p)"
jq -e 'select(.status == 422 and (.body | test("namespace staging is not readable by this worker \\(SECRET_NAMESPACES\\)")))' \
  <<<"$(sed -n 2p <<<"$calls")" >/dev/null || die "staging/k6-target not refused by the gate: $(sed -n 2p <<<"$calls")"
ok "staging/k6-target refused by the gate's check: 422, $(sed -n 2p <<<"$calls" | jq -r .body | grep -m1 -o 'kubernetes_secrets.*')"

# c. The gate's check opened: only RBAC stands between the worker and staging's Secret.
t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set-json 'worker.extraEnv=[{"name":"SECRET_NAMESPACES","value":"test|staging"}]' --wait --timeout 5m >/dev/null
log "helm upgrade (worker.extraEnv SECRET_NAMESPACES=test|staging) in $(($(date +%s) - t)) s"
call=$(secret_payload secrets-rbac staging/k6-target/token | gate_calls)
echo "$call" >>"$ARTIFACTS/scenario-4-calls.jsonl"
jq -e 'select(.status == 422 and (.body | test("staging/k6-target/token\\): the worker may not read it \\(HTTP 403\\)")))' <<<"$call" >/dev/null ||
  die "staging/k6-target not refused by the API server: $call"
id=$(jq -r .body <<<"$call" | grep -o -m1 'run k[0-9a-f]*-[0-9]*' | cut -d' ' -f2)
logged=$(worker_logged "$id") || die "no worker logged run $id finished"
grep -q 'HTTP 403' <<<"$logged" || die "the worker's log has no 403 for run $id: $logged"
ok "staging/k6-target refused by the API server: 422 and the worker's log (${logged%% *}): $(cut -d' ' -f2- <<<"$logged" | jq -r .reason)"
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set-json 'worker.extraEnv=[]' --wait --timeout 5m >/dev/null
[[ -z "$(kubectl_ -n k6-gate get deployment k6-gate-worker -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="SECRET_NAMESPACES")].name}')" ]] ||
  die "SECRET_NAMESPACES still overridden"
ok "worker.extraEnv put back (helm upgrade)"

kubectl_ -n staging delete secret k6-target >/dev/null
kubectl_ -n test delete secret k6-target >/dev/null
result 4 "kubernetes_secrets: test/k6-target read (200); staging/k6-target refused by the gate (422, SECRET_NAMESPACES) and, with that check opened by helm upgrade, by the API server (422, HTTP 403 in the verdict and the worker's log); $(($(date +%s) - t0))s"
