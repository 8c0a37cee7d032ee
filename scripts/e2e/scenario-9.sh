#!/usr/bin/env bash
# Scenario 9 of issue 33: a check split over 3 pods by k6-operator (the chart's
# runner.kind=k6-operator). k6-operator is installed (scripts/e2e/k6-operator-install.sh:
# built from its Go module, CRDs, RBAC, its Deployment) and `helm upgrade` switches the
# worker to the k6-operator runner (the chart's NetworkPolicies on, runner pods allowed to
# reach namespace test), then, with Flagger's webhook payloads POSTed from an API pod:
#   a) the same test (30 iterations shared by 3 VUs) as `parallelism: "3"` and in one pod,
#      with a threshold each third of it fails alone (`iterations: count>=25`): both 200,
#      the same reason; the split check ran as a TestRun of 3 runner pods, each k6 judging
#      its own segment crossed (its output says so) while the merge held;
#   b) the same with a threshold only the whole test crosses (`http_reqs: count<15`, each
#      third makes 10): both 422 thresholds_failed, the same reason;
#   c) a running split check no call waits on, superseded by the canary's next revision:
#      its TestRun and runner pods removed;
#   d) the worker SIGKILLed while its 45 s split check runs: its replacement takes the run
#      up again and adopts the TestRun (its log says so); the same 3 runner pods from start
#      to end, and the verdict passes;
#   e) the worker's processes SIGKILLed while a 60 s split check no call waits on runs, and
#      the run superseded before the restarted worker takes it up: it finds the run ended
#      and removes its TestRun and runner pods (nothing else would: a TestRun has no deadline).
# Then back to the chart's values (the process runner, NetworkPolicies off).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm

t=$(date +%s)
"$E2E_ROOT/scripts/e2e/k6-operator-install.sh"
ok "k6-operator installed and running in $(($(date +%s) - t)) s"

t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set runner.kind=k6-operator --set "runner.k6Operator.starterImage=$K6_OPERATOR_STARTER_IMAGE" \
  --set workerConcurrency=10 --set networkPolicy.enabled=true --set 'runner.job.egressNamespaces={test}' \
  --set runner.job.resources.requests.cpu=50m \
  --wait --timeout 5m >/dev/null
kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=120s >/dev/null
ok "helm upgrade runner.kind=k6-operator in $(($(date +%s) - t)) s"

# testrun_of RUN_ID: the name of the run's TestRun (apps/worker/src/operator/testrun-spec.ts).
testrun_of() { echo "k6-gate-tr-$(printf %s "$1" | sha256sum | cut -c1-20)"; }
# runner_pods_of RUN_ID: the runner pods k6-operator made for the run's TestRun.
runner_pods_of() { kubectl_ -n k6-gate get pods -l "k6_cr=$(testrun_of "$1"),runner=true" -o name; }
three_running() {
  [[ $(kubectl_ -n k6-gate get pods -l "k6_cr=$(testrun_of "$1"),runner=true" \
    --field-selector=status.phase=Running -o name | grep -c .) == 3 ]]
}
testrun_gone() { ! kubectl_ -n k6-gate get testrun "$(testrun_of "$1")" && [[ -z "$(runner_pods_of "$1")" ]]; }
sum=$(openssl rand -hex 4)
shared() { # THRESHOLD: 30 iterations of the canary shared by 3 VUs.
  printf '%s\n' "import http from 'k6/http';" \
    "export const options = { scenarios: { load: { executor: 'shared-iterations', vus: 3, iterations: 30, maxDuration: '2m' } }, thresholds: { $1 } };" \
    "export default function () { http.get(__ENV.TARGET); }"
}

# same_test CASE SPLIT ONE THRESHOLD WANT_STATUS: the test as parallelism 3 (test/burst-SPLIT) and in one
# pod (test/burst-ONE) at once; both must answer WANT_STATUS with the same verdict and
# reason. Sets SPLIT_RUN, ONE_RUN and PODS_SEEN (the split run's runner pods).
same_test() {
  local name=$1 split=$2 one=$3 threshold=$4 want=$5 calls statuses
  {
    payload "burst-$split" "$name-split-$sum" "$(shared "$threshold")" http://podinfo-primary.test:9898/ '{"parallelism": "3"}'
    payload "burst-$one" "$name-one-$sum" "$(shared "$threshold")"
  } >"$ARTIFACTS/scenario-9-$name.jsonl"
  gate_calls <"$ARTIFACTS/scenario-9-$name.jsonl" >"$ARTIFACTS/scenario-9-$name-answers.jsonl" &
  calls=$!
  wait_for 60 "the split check's run" run_of "burst-$split" "$name-split-$sum" || die "no run of the split check"
  SPLIT_RUN=$(run_of "burst-$split" "$name-split-$sum")
  # Every runner pod the split check has, each second, until its verdict.
  each_second "$ARTIFACTS/scenario-9-$name-pods.txt" runner_pods_of "$SPLIT_RUN" &
  local sampler=$!
  wait "$calls" || die "the calls failed"
  kill "$sampler" 2>/dev/null || true
  statuses=$(jq -r .status "$ARTIFACTS/scenario-9-$name-answers.jsonl" | tr '\n' ' ')
  [[ "$statuses" == "$want $want " ]] || die "$name: answers $statuses, want $want $want: $(cat "$ARTIFACTS/scenario-9-$name-answers.jsonl")"
  ONE_RUN=$(run_of "burst-$one" "$name-one-$sum")
  local a b
  a=$(run_field "$SPLIT_RUN" '[.verdict, .outcome, .reason] | join(" / ")')
  b=$(run_field "$ONE_RUN" '[.verdict, .outcome, .reason] | join(" / ")')
  [[ "$a" == "$b" ]] || die "$name: split over 3 pods judged \"$a\", in one pod \"$b\""
  PODS_SEEN=$(sort -u "$ARTIFACTS/scenario-9-$name-pods.txt" | grep -c . || true)
  ((PODS_SEEN == 3)) || die "$name: $PODS_SEEN runner pods seen for the split check, want 3"
  worker_logged "$SPLIT_RUN" "TestRun created" >/dev/null || die "no worker logged creating the TestRun of $SPLIT_RUN"
  wait_for 60 "the TestRun and its pods to be gone" testrun_gone "$SPLIT_RUN" || die "the TestRun of $SPLIT_RUN or its pods are still there"
  VERDICT=$a
}

# --- a) a threshold each third fails alone, the whole test holds ----------------------------
same_test holds 6 7 "iterations: ['count>=25']" 200
crossed=$(gate_api "/api/runs/$SPLIT_RUN/output" | jq -r .output | grep -c "thresholds on metrics 'iterations' have been crossed" || true)
((crossed == 3)) || die "each runner's k6 should have judged its own third crossed; $crossed said so"
times="split $(run_field "$SPLIT_RUN" .runTimeMs) ms, one pod $(run_field "$ONE_RUN" .runTimeMs) ms"
ok "iterations count>=25: 3 runner pods, each k6 crossed it on its 10 iterations, merged it holds: \"$VERDICT\" both ways ($times)"
holds_times=$times

# --- b) a threshold only the whole test crosses ---------------------------------------------
same_test crossed 8 9 "http_reqs: ['count<15']" 422
ok "http_reqs count<15: 3 runner pods of 10 requests each, merged 30: \"$VERDICT\" both ways"

# --- c) supersede removes the TestRun and its pods ------------------------------------------
long="import http from 'k6/http';
export const options = { vus: 3, duration: '60s', thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get(__ENV.TARGET); }"
answer=$(payload burst-10 "old-$sum" "$long" http://podinfo-primary.test:9898/ \
  '{"wait_for_results": "false", "parallelism": "3"}' | gate_calls)
[[ $(jq -r .status <<<"$answer") == 202 ]] || die "the old revision's call answered $answer, want 202"
old_run=$(run_of burst-10 "old-$sum")
wait_for 90 "its 3 runner pods running" three_running "$old_run" || die "no 3 running runner pods for $old_run"
t=$(date +%s)
answer=$(payload burst-10 "new-$sum" "$(shared "http_req_failed: ['rate<0.01']")" | gate_calls)
wait_for 60 "the superseded run's TestRun and pods to go" testrun_gone "$old_run" || die "the superseded run's TestRun or pods are still there"
gone_after=$(($(date +%s) - t))
[[ $(jq -r .status <<<"$answer") == 200 ]] || die "the new revision answered $answer"
[[ $(run_field "$old_run" .outcome) == superseded ]] || die "the old run's outcome is $(run_field "$old_run" .outcome)"
ok "a split check superseded by the next revision: its TestRun and 3 runner pods gone within ${gone_after} s; the new revision 200"

# --- d) the worker killed mid-TestRun: the TestRun adopted ---------------------------------
payload burst-11 "adopt-$sum" "$(printf '%s\n' "import http from 'k6/http';" \
  "export const options = { vus: 3, duration: '45s', thresholds: { http_req_failed: ['rate<0.01'] } };" \
  "export default function () { http.get(__ENV.TARGET); }")" http://podinfo-primary.test:9898/ \
  '{"parallelism": "3"}' | gate_calls >"$ARTIFACTS/scenario-9-adopt.jsonl" &
calls=$!
wait_for 60 "the check's run" run_of burst-11 "adopt-$sum" || die "no run of the check"
adopt_run=$(run_of burst-11 "adopt-$sum")
wait_for 90 "its 3 runner pods running" three_running "$adopt_run" || die "no 3 running runner pods for $adopt_run"
take_over kill "$adopt_run" "$calls" "$ARTIFACTS/scenario-9-adopt.jsonl" 3 "TestRun created" "TestRun adopted" \
  runner_pods_of "$adopt_run"
wait_for 60 "the TestRun and its pods to be gone" testrun_gone "$adopt_run" || die "the TestRun of $adopt_run or its pods are still there"
ok "worker $HOLDER killed mid-TestRun of 45 s: $ADOPTER adopted it ${ADOPTED_AFTER} s after the kill (attempt $ATTEMPT), the same 3 runner pods from start to end, verdict 200 ${ANSWERED_AFTER} s after the kill"

# --- e) a run ended while no worker held it: its TestRun removed by the next attempt --------
answer=$(payload burst-13 "orphan-$sum" "$long" http://podinfo-primary.test:9898/ \
  '{"wait_for_results": "false", "parallelism": "3"}' | gate_calls)
[[ $(jq -r .status <<<"$answer") == 202 ]] || die "the old revision's call answered $answer, want 202"
orphan_run=$(run_of burst-13 "orphan-$sum")
wait_for 90 "its 3 runner pods running" three_running "$orphan_run" || die "no 3 running runner pods for $orphan_run"
holder=$(worker_logged "$orphan_run" "TestRun created" | cut -d' ' -f1) || die "no worker logged creating the TestRun of $orphan_run"
t=$(date +%s)
# SIGKILL to its processes, not a pod deletion: gone at once, it cannot hear the supersede;
# the kubelet restarts its container.
signal_pod "$holder" KILL
answer=$(payload burst-13 "next-$sum" "$(shared "http_req_failed: ['rate<0.01']")" | gate_calls)
[[ $(jq -r .status <<<"$answer") == 200 ]] || die "the next revision answered $answer"
[[ $(run_field "$orphan_run" .outcome) == superseded ]] || die "the old run's outcome is $(run_field "$orphan_run" .outcome)"
wait_for 120 "the ended run's TestRun and pods to go" testrun_gone "$orphan_run" ||
  die "the TestRun of $orphan_run (superseded while its worker was gone) or its pods are still there"
orphan_gone=$(($(date +%s) - t))
worker_logged "$orphan_run" "run not started: already judged or no record" >/dev/null ||
  die "no worker logged finding $orphan_run ended"
ok "worker $holder SIGKILLed under a 60 s split check superseded meanwhile: the next attempt found the run ended and its TestRun and pods were gone ${orphan_gone} s after the kill"

"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set runner.kind=process --set workerConcurrency=1 --set networkPolicy.enabled=false --wait --timeout 5m >/dev/null
kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=120s >/dev/null
ok "back to the chart's values as installed"

result 9 "k6-operator: parallelism 3 judged as one pod: iterations count>=25 (each runner crossed it alone) 200 both ways ($holds_times), http_reqs count<15 (only the whole test crosses it) 422 both ways; 3 runner pods each; a superseded split check's TestRun and pods gone in ${gone_after} s; worker SIGKILLed mid-TestRun, adopted ${ADOPTED_AFTER} s after (attempt $ATTEMPT, the same 3 pods), 200 ${ANSWERED_AFTER} s after the kill; a run superseded while its worker was gone: its TestRun removed by the next attempt ${orphan_gone} s after the kill"
