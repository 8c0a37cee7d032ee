#!/usr/bin/env bash
# Installs what the scenarios play on a running e2e cluster (after make e2e-up), the way
# a user would:
#   - the images built here imported into containerd (k6-gate, Redis, Flagger, podinfo,
#     KEDA's two)
#   - KEDA v2.21.0 (scenario 5's autoscaler): its CRDs from its Go module's
#     config/crd/bases, then test/e2e/manifests/keda.yaml (operator, metrics API server,
#     their RBAC, the APIService v1beta1.external.metrics.k8s.io); applied first, waited
#     for last (the operator makes its certificates while the rest installs)
#   - a default StorageClass with a local volume for the bundled Redis (the README asks
#     for a cluster with one; this one has no provisioner)
#   - Flagger from its upstream manifests at the pinned version (kustomize/base/flagger
#     and kustomize/kubernetes' namespace and patch, read from the Go module cache), the
#     image set by kustomize's `images:` as for a private mirror
#   - k6-gate with the README's commands (namespace, token Secret, helm install of
#     charts/k6-gate), plus secretNamespaces, --set for the images built here, and a
#     worker CPU request of 250m instead of the chart's 1 CPU: this node has 2 CPUs, and
#     a rolling update (scenarios 4, 6) or 3 workers (scenario 5) must fit on it
#   - podinfo in namespace test with a Canary whose webhooks are the README's example's
# Writes the token to $E2E_STATE/scenarios/token (read by scenario-1.sh).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ -f "$KUBECONFIG" ]] || die "no cluster: $KUBECONFIG is missing (make e2e-up)"
helm=$E2E_ROOT/.tools/bin/helm
[[ -x "$helm" ]] || die "$helm is missing: run make deploy-tools"
manifests=$E2E_ROOT/test/e2e/manifests/scenarios
work=$E2E_STATE/scenarios
mkdir -p "$work"

t=$(date +%s)
# Imported side by side (each import is mostly waiting on unpacking and fsync).
imports=()
for i in k6-gate redis flagger podinfo keda keda-metrics-apiserver; do
  [[ -f "$E2E_IMAGES/$i.tar" ]] || die "$E2E_IMAGES/$i.tar is missing: run make e2e-image e2e-scenario-images"
  ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import "$E2E_IMAGES/$i.tar" >/dev/null &
  imports+=("$!")
done
for p in "${imports[@]}"; do wait "$p" || die "an image import failed (ctr images import)"; done
timings="images $(($(date +%s) - t))s"
log "images imported in $(($(date +%s) - t)) s: $K6GATE_IMAGE $REDIS_IMAGE $FLAGGER_IMAGE $PODINFO_IMAGE $KEDA_IMAGE $KEDA_ADAPTER_IMAGE"

# KEDA: its CRDs (server-side: the ScaledObject CRD is too large for apply's annotation),
# then our manifests; waited for after the rest.
t_keda=$(date +%s)
keda_src=$(cd "$E2E_ROOT/test/e2e/keda" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
kubectl_ apply --server-side -f "$keda_src/config/crd/bases/" >/dev/null
wait_for 60 "KEDA's ScaledObject CRD to be established" \
  kubectl_ wait --for=condition=Established crd/scaledobjects.keda.sh --timeout=10s ||
  die "KEDA's ScaledObject CRD not established"
sed -e "s|@KEDA_IMAGE@|$KEDA_IMAGE|g" -e "s|@KEDA_ADAPTER_IMAGE@|$KEDA_ADAPTER_IMAGE|g" \
  "$E2E_ROOT/test/e2e/manifests/keda.yaml" | kubectl_ apply -f - >/dev/null
keda_apply_s=$(($(date +%s) - t_keda))

# The Redis volume: a directory the Redis pod's user (999:1000, the chart's) owns.
mkdir -p "$work/redis-data"
chown 999:1000 "$work/redis-data"
sed -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@REDIS_DATA@|$work/redis-data|g" "$manifests/storage.yaml" |
  kubectl_ apply -f - >/dev/null

# Flagger: its own kustomizations, copied out of the module cache (kustomize loads only
# files under the kustomization's root), with an overlay naming the image built here.
t=$(date +%s)
flagger_src=$(cd "$E2E_ROOT/test/e2e/flagger" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/fluxcd/flagger)
rm -rf "$work/flagger"
mkdir -p "$work/flagger/kustomize"
cp -r "$flagger_src/kustomize/base" "$flagger_src/kustomize/kubernetes" "$work/flagger/kustomize/"
chmod -R u+w "$work/flagger"
cat >"$work/flagger/kustomization.yaml" <<YAML
# kustomize/kubernetes without its Prometheus (no image of it here; a Canary without
# metrics never queries one, Flagger only logs that it is unreachable).
namespace: flagger-system
resources:
  - kustomize/kubernetes/namespace.yaml
  - kustomize/base/flagger
patches:
  - path: kustomize/kubernetes/patch.yaml
images:
  - name: ghcr.io/fluxcd/flagger
    newName: ${FLAGGER_IMAGE%:*}
    newTag: ${FLAGGER_IMAGE##*:}
YAML
kubectl_ apply --server-side -k "$work/flagger" >/dev/null
# Until the CRD has a status, `kubectl wait` fails at once (".status.conditions accessor
# error") instead of waiting: retried.
wait_for 60 "Flagger's Canary CRD to be established" \
  kubectl_ wait --for=condition=Established crd/canaries.flagger.app --timeout=10s ||
  die "Flagger's Canary CRD not established"
kubectl_ -n flagger-system rollout status deployment/flagger --timeout=180s >/dev/null
timings+=" flagger $(($(date +%s) - t))s"
log "Flagger $(kubectl_ -n flagger-system get deployment flagger -o jsonpath='{.spec.template.spec.containers[0].image}') ready in $(($(date +%s) - t)) s"

# k6-gate, as README.md "Install" says, from the checkout.
t=$(date +%s)
token=$(openssl rand -hex 24)
printf '%s' "$token" >"$work/token"
chmod 600 "$work/token"
kubectl_ create namespace k6-gate >/dev/null
kubectl_ -n k6-gate create secret generic k6-gate-webhook \
  --from-literal=WEBHOOK_TOKEN="$token" >/dev/null
kubectl_ create namespace test >/dev/null
"$helm" --kubeconfig "$KUBECONFIG" install k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate \
  --set image.repository="${K6GATE_IMAGE%:*}" --set image.tag="${K6GATE_IMAGE##*:}" \
  --set image.pullPolicy=Never \
  --set redis.image.repository="${REDIS_IMAGE%:*}" --set redis.image.tag="${REDIS_IMAGE##*:}" \
  --set redis.image.pullPolicy=Never \
  --set allowedNamespaces='test|staging' \
  --set webhook.token.existingSecret=k6-gate-webhook \
  --set 'secretNamespaces={test}' \
  --set worker.resources.requests.cpu=250m \
  --wait --timeout 5m >"$work/helm-install.txt"
timings+=" helm $(($(date +%s) - t))s"
log "k6-gate installed in $(($(date +%s) - t)) s: $(kubectl_ -n k6-gate get pods --no-headers | awk '{ printf "%s %s %s; ", $1, $2, $3 }')"

# podinfo and its Canary: the README's webhooks, the token put in.
t=$(date +%s)
sed -e "s|@PODINFO_IMAGE@|$PODINFO_IMAGE|g" "$manifests/podinfo.yaml" | kubectl_ apply -f - >/dev/null
kubectl_ -n test rollout status deployment/podinfo --timeout=120s >/dev/null
{
  cat "$manifests/canary.yaml"
  # The README's example Canary from its `webhooks:` line to the end of the block.
  awk '/^## Using it from a Canary/ { s = 1 } s && /^    webhooks:/ { p = 1 } p && /^```/ { exit } p' "$E2E_ROOT/README.md" |
    sed -e "s|?token=<WEBHOOK_TOKEN>|?token=$token|"
} >"$work/canary.yaml"
grep -q "token=$token" "$work/canary.yaml" || die "the README's example Canary has no ?token=<WEBHOOK_TOKEN> to fill in"
kubectl_ apply -f "$work/canary.yaml" >/dev/null
kubectl_ -n test wait canary/podinfo --for=jsonpath='{.status.phase}'=Initialized --timeout=180s >/dev/null
timings+=" canary $(($(date +%s) - t))s"
log "podinfo and its Canary Initialized in $(($(date +%s) - t)) s"
# KEDA ready: the operator (leader, certificates written), the metrics API server, and the
# API server serving external.metrics.k8s.io through it (the APIService Available).
t=$(date +%s)
kubectl_ -n keda rollout status deployment/keda-operator --timeout=180s >/dev/null
kubectl_ -n keda rollout status deployment/keda-metrics-apiserver --timeout=180s >/dev/null
kubectl_ wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=120s >/dev/null ||
  die "KEDA's APIService not Available: $(kubectl_ get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions}')"
timings+=" keda $((keda_apply_s + $(date +%s) - t))s"
log "KEDA ready ($((keda_apply_s + $(date +%s) - t)) s of its own): $(kubectl_ -n keda get pods --no-headers | awk '{ printf "%s %s %s; ", $1, $2, $3 }')"

# For make e2e's report (scripts/e2e/report.sh): the stages' times and what runs.
mkdir -p "$E2E_ROOT/test-artifacts/e2e"
{
  echo "timings: $timings"
  echo "redis: $(kubectl_ -n k6-gate exec k6-gate-redis-0 -- redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)"
  echo "k6-gate: $(kubectl_ -n k6-gate exec deployment/k6-gate-api -c api -- node -e 'fetch("http://127.0.0.1:8000/version").then((r) => r.text()).then((t) => process.stdout.write(t))')"
  echo "k6: $(kubectl_ -n k6-gate exec deployment/k6-gate-worker -- k6 version | head -1)"
  echo "keda: $(kubectl_ -n keda logs deployment/keda-operator | grep -m1 -o 'KEDA Version: [^ ]*' | cut -d' ' -f3)"
} >"$E2E_ROOT/test-artifacts/e2e/install.txt"
