#!/usr/bin/env bash
# Scenario 5 of issue 29: workers scaled by KEDA from the queue. `helm upgrade` turns on the
# chart's ScaledObject (keda.enabled; minReplicaCount 1, maxReplicaCount 3, pollingInterval
# 5) on the KEDA v2.21.0 that install.sh runs (operator + metrics API server, built from
# KEDA's Go module). A burst of 10 canaries' checks (Flagger's webhook payloads for
# test/burst-1..10, POSTed at once from an API pod, each a 10 s k6 test of podinfo-primary)
# lands on one worker (workerConcurrency 1). Asserted from the cluster's own state:
#   - the ScaledObject Ready, then Active once the burst is in; GET /queue/depth (its
#     metrics-api trigger) counts the 10 runs;
#   - the HPA KEDA made for it reads the queue through external.metrics.k8s.io and scales
#     the worker Deployment 1 -> 3 (the time from the burst to 3 replicas, and to 3 Ready,
#     is the report's scaling figure);
#   - every call gets 200; each run is recorded once; the workers' own "run finished" log
#     lines show the runs spread over all 3 pods;
#   - the queue drained, the ScaledObject turns inactive and its HPA's metric reads 0.
# Then back to the chart's count: `helm upgrade` with keda.enabled=false (the chart's HPA
# scales down one pod a minute after 5 minutes' stabilization, too slow for this run):
# the ScaledObject and its HPA deleted, the Deployment back to worker.replicaCount, the
# workers scaled away exit.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm
t0=$(date +%s)
replicas=$(kubectl_ -n k6-gate get deployment k6-gate-worker -o jsonpath='{.spec.replicas}')
so=scaledobject/k6-gate-worker
hpa=horizontalpodautoscaler/keda-hpa-k6-gate-worker

# so_condition TYPE: the ScaledObject's condition TYPE's status (True/False/Unknown).
so_condition() { kubectl_ -n k6-gate get "$so" -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}"; }
so_ready() { [[ $(so_condition Ready) == True ]]; }
so_active() { [[ $(so_condition Active) == True ]]; }
so_inactive() { [[ $(so_condition Active) == False ]]; }
worker_field() { kubectl_ -n k6-gate get deployment k6-gate-worker -o jsonpath="{$1}"; }

# KEDA on: the chart's ScaledObject, scaled 1..3, the queue read every 5 s.
t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set keda.enabled=true --set keda.minReplicaCount=1 --set keda.maxReplicaCount=3 --set keda.pollingInterval=5 \
  --wait --timeout 5m >/dev/null
wait_for 60 "the ScaledObject to be Ready" so_ready ||
  die "ScaledObject not Ready: $(kubectl_ -n k6-gate get "$so" -o jsonpath='{.status.conditions}')"
wait_for 30 "KEDA's HPA" kubectl_ -n k6-gate get "$hpa" ||
  die "no HPA for the ScaledObject: $(kubectl_ -n k6-gate get hpa 2>&1)"
ok "helm upgrade keda.enabled=true: ScaledObject Ready, its HPA $(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.spec.minReplicas}..{.spec.maxReplicas}') on $(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.spec.metrics[0].external.metric.name}') in $(($(date +%s) - t)) s"
[[ $(worker_field .spec.replicas) == 1 ]] || die "workers before the burst: $(worker_field .spec.replicas), want 1"

script="import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, duration: '10s', thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { check(http.get(__ENV.TARGET), { 'status is 200': (r) => r.status === 200 }); }"
sum=$(openssl rand -hex 6)
for i in $(seq 1 10); do
  jq -nc --arg name "burst-$i" --arg script "$script" --arg sum "$sum$i" '{
    name: $name, namespace: "test", phase: "Progressing", checksum: $sum,
    metadata: { script: $script, env_vars: ({TARGET: "http://podinfo-primary.test:9898/"} | tojson) } }'
done >"$ARTIFACTS/scenario-5-payloads.jsonl"
tb=$(date +%s)
gate_calls <"$ARTIFACTS/scenario-5-payloads.jsonl" >"$ARTIFACTS/scenario-5-calls.jsonl" &
burst=$!
trap 'kill "$burst" 2>/dev/null || true' EXIT

# The queue as KEDA's trigger reads it, once the burst is in.
depth() { gate_api /queue/depth | jq -ec 'select(.runs >= 10)'; }
wait_for 60 "the 10 runs in the queue" depth || die "GET /queue/depth never counted the burst: $(gate_api /queue/depth)"
queued=$(depth | jq -r '"\(.runs) runs: \(.queued) queued (\(.jobs.prioritized) in BullMQ prioritized, \(.jobs.waiting) waiting), \(.running) running"')
ok "GET /queue/depth (the ScaledObject's trigger) with the burst in: $queued"

# KEDA scales: polled each second from the burst, the ScaledObject's Active (KEDA's own
# poll of the trigger) and HPAActive (the HPA's ScalingActive) conditions, the HPA's
# reading of the queue, the Deployment's spec and Ready replicas. (KEDA v2.21.0 puts the
# conditions back to Unknown when it reconciles on the HPA's change; its next poll sets
# Active again.)
scale_log=$ARTIFACTS/scenario-5-scaling.txt
: >"$scale_log"
active_s="" spec3_s="" spec3_metric="" ready3_s="" metric=""
while :; do
  now=$(($(date +%s) - tb))
  spec=$(worker_field .spec.replicas)
  ready=$(worker_field .status.readyReplicas)
  metric=$(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.status.currentMetrics[0].external.current.averageValue}')
  desired=$(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.status.desiredReplicas}')
  hpa_active=$(so_condition HPAActive)
  echo "${now}s active=$(so_condition Active) hpa-active=${hpa_active:--} hpa-metric=${metric:--} hpa-desired=${desired:--} spec=$spec ready=${ready:-0}" >>"$scale_log"
  [[ -n "$active_s" ]] || ! so_active || active_s=$now
  [[ -n "$spec3_s" || "$spec" != 3 ]] || { spec3_s=$now; spec3_metric=$metric; }
  [[ -n "$ready3_s" || "${ready:-0}" != 3 ]] || ready3_s=$now
  [[ -z "$active_s" || -z "$ready3_s" ]] || break
  ((now < 120)) || {
    cat "$scale_log" >&2
    die "KEDA did not scale the workers to 3 Ready in 120 s (Active at ${active_s:-never}, 3 wanted at ${spec3_s:-never})"
  }
  sleep 1
done
scaled="Active ${active_s}s, 3 replicas wanted ${spec3_s}s (the HPA's external metric then: ${spec3_metric:-?} runs per worker) and 3 Ready ${ready3_s}s after the burst"
ok "KEDA scaled the workers 1 -> 3: $scaled"

wait_for 300 "the burst's calls to return" bash -c "! kill -0 $burst" || die "the burst's calls did not return in 300 s"
wait "$burst" || die "the burst's calls failed"
trap - EXIT
burst_s=$(($(date +%s) - tb))
statuses=$(jq -r .status "$ARTIFACTS/scenario-5-calls.jsonl" | sort | uniq -c | xargs)
[[ "$statuses" == "10 200" ]] || die "the burst's calls answered: $statuses (want 10 200)"
ok "10 calls, 10 x 200 in ${burst_s}s"

: >"$ARTIFACTS/scenario-5-runs.txt"
for i in $(seq 1 10); do
  runs=$(runs_of test "burst-$i" | jq -c --arg sum "$sum$i" '[.runs[] | select(.checksum == $sum)]')
  [[ $(jq length <<<"$runs") == 1 ]] || die "test/burst-$i: want 1 run, got $runs"
  id=$(jq -r '.[0].id' <<<"$runs")
  pod=$(worker_logged "$id" | cut -d' ' -f1) || die "no worker logged run $id finished"
  echo "burst-$i $id $(jq -r '.[0] | "\(.verdict) attempt \(.attempt) queued \(.queueWaitMs) ms"' <<<"$runs") $pod" >>"$ARTIFACTS/scenario-5-runs.txt"
done
cat "$ARTIFACTS/scenario-5-runs.txt" >&2
spread=$(awk '{ print $NF }' "$ARTIFACTS/scenario-5-runs.txt" | sort | uniq -c | awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
pods=$(awk '{ print $NF }' "$ARTIFACTS/scenario-5-runs.txt" | sort -u | wc -l)
((pods == 3)) || die "the runs ran on $pods worker pod(s), want 3: $spread"
ok "10 runs, one each, spread over 3 worker pods ($spread)"

# The queue drained: KEDA sees it (Active False) and so does the HPA (its metric 0).
hpa_zero() { [[ $(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.status.currentMetrics[0].external.current.averageValue}') == 0 ]]; }
wait_for 60 "the ScaledObject to turn inactive" so_inactive || die "ScaledObject still Active with the queue drained: $(gate_api /queue/depth)"
wait_for 60 "the HPA to read an empty queue" hpa_zero ||
  die "the HPA's metric with the queue drained: $(kubectl_ -n k6-gate get "$hpa" -o jsonpath='{.status.currentMetrics}')"
ok "queue drained: ScaledObject Active=False, the HPA reads 0 (it scales down after its 300 s stabilization)"

# Back to the chart's count: KEDA off. The workers scaled away stop (SIGTERM: no job runs,
# so at once); their logs are followed until they exit.
followers=()
for p in $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name); do
  kubectl_ -n k6-gate logs -f "$p" >"$ARTIFACTS/scenario-5-${p#pod/}.log" 2>&1 &
  followers+=("$!")
done
trap 'kill "${followers[@]}" 2>/dev/null || true' EXIT
t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set keda.enabled=false --wait --timeout 5m >/dev/null
gone() { ! kubectl_ -n k6-gate get "$1" >/dev/null 2>&1; }
wait_for 60 "the ScaledObject to be deleted" gone "$so" || die "ScaledObject still there after keda.enabled=false"
wait_for 60 "KEDA to delete its HPA" gone "$hpa" || die "KEDA's HPA still there after its ScaledObject went"
[[ $(worker_field .spec.replicas) == "$replicas" ]] || die "workers after keda.enabled=false: $(worker_field .spec.replicas), want $replicas"
workers_left() { [[ $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name | wc -l) == "$replicas" ]]; }
wait_for 120 "the workers scaled away to exit" workers_left ||
  die "workers scaled away still there after 120 s: $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker --no-headers | xargs)"
ok "helm upgrade keda.enabled=false: ScaledObject and HPA deleted, workers back to $replicas, the others exited, in $(($(date +%s) - t)) s"

result 5 "burst of 10 canaries' checks, workers scaled 1 -> 3 by KEDA $(kubectl_ -n keda logs deployment/keda-operator | grep -m1 -o 'KEDA Version: [^ ]*' | cut -d' ' -f3) (ScaledObject from the chart, keda.enabled): /queue/depth counted them ($queued); $scaled; 10 x 200 in ${burst_s}s, runs per pod: $spread; queue drained: Active=False, HPA metric 0; KEDA off by helm upgrade: back to $replicas worker(s); $(($(date +%s) - t0))s in all"
