#!/usr/bin/env bash
# Scenario 5 of issue 29: workers scaled by hand. A burst of 10 canaries' checks (Flagger's
# webhook payloads for test/burst-1..10, POSTed at once from an API pod, each a 10 s k6
# test of podinfo-primary) lands on one worker (workerConcurrency 1); the workers are
# scaled to 3 (kubectl scale) while they wait. Asserted: the queue's depth as KEDA's
# trigger reads it (GET /queue/depth) counts the waiting runs; every call gets 200; each
# run is recorded once, and the workers' own "run finished" log lines show the runs spread
# over all 3 pods. Scaled back to the chart's count afterwards.
# KEDA itself is not installed here (docs/e2e-cluster.md); its trigger on /queue/depth is
# evaluated with KEDA's own scaler code by test/deploy/keda-scaler.test.ts.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

t0=$(date +%s)
replicas=$(kubectl_ -n k6-gate get deployment k6-gate-worker -o jsonpath='{.spec.replicas}')
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
gate_calls <"$ARTIFACTS/scenario-5-payloads.jsonl" >"$ARTIFACTS/scenario-5-calls.jsonl" &
burst=$!
trap 'kill "$burst" 2>/dev/null || true' EXIT

# The queue as the autoscaler sees it, once the burst is in.
depth() { gate_api /queue/depth | jq -ec 'select(.runs >= 10)'; }
wait_for 60 "the 10 runs in the queue" depth || die "GET /queue/depth never counted the burst: $(gate_api /queue/depth)"
queued=$(depth | jq -r '"\(.runs) runs: \(.queued) queued (\(.jobs.prioritized) in BullMQ prioritized, \(.jobs.waiting) waiting), \(.running) running"')
ok "GET /queue/depth (KEDA's trigger input) with the burst in: $queued"

t=$(date +%s)
kubectl_ -n k6-gate scale deployment/k6-gate-worker --replicas=3 >/dev/null
kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=180s >/dev/null
ok "workers scaled $replicas -> 3, all Ready in $(($(date +%s) - t)) s"

wait_for 300 "the burst's calls to return" bash -c "! kill -0 $burst" || die "the burst's calls did not return in 300 s"
wait "$burst" || die "the burst's calls failed"
trap - EXIT
burst_s=$(($(date +%s) - t0))
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

# Scaled back: the workers scaled away stop (SIGTERM: no job runs, so at once). Their logs
# are followed until they exit.
followers=()
for p in $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name); do
  kubectl_ -n k6-gate logs -f "$p" >"$ARTIFACTS/scenario-5-${p#pod/}.log" 2>&1 &
  followers+=("$!")
done
trap 'kill "${followers[@]}" 2>/dev/null || true' EXIT
t=$(date +%s)
kubectl_ -n k6-gate scale deployment/k6-gate-worker --replicas="$replicas" >/dev/null
workers_left() { [[ $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name | wc -l) == "$replicas" ]]; }
wait_for 120 "the workers scaled away to exit" workers_left ||
  die "workers scaled away still there after 120 s: $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker --no-headers | xargs)"
ok "scaled back to $replicas: the other workers exited in $(($(date +%s) - t)) s"

result 5 "burst of 10 canaries' checks, workers scaled 1 -> 3 by kubectl scale: /queue/depth counted them ($queued), 10 x 200 in ${burst_s}s, runs per pod: $spread; KEDA not installed (its trigger: test/deploy/keda-scaler.test.ts)"
