#!/usr/bin/env bash
# Scenario 8 of issue 33: each run's k6 in a Job of its own (the chart's runner.kind=job).
# `helm upgrade` switches the workers to the Job runner (2 workers x workerConcurrency 10,
# the chart's NetworkPolicies on, runner pods allowed to reach namespace test only), then,
# with Flagger's webhook payloads POSTed from an API pod:
#   a) a good and a bad check at once: 200 and 422 (thresholds_failed), each judged from
#      its runner pod, whose k6 is the cluster's one k6 for it (its cgroup is the runner
#      pod's, not a worker's); the Jobs and pods are gone once judged;
#   b) a script that tries to reach Redis, the API and the Kubernetes API from its pod,
#      and to read PID 1's environment and a service account token: Redis and the API
#      refuse (their policies), the Kubernetes API refuses or answers 401/403 (no token;
#      kube-router applies the runner pod's egress policy about 0.5 s after it starts),
#      nothing is read, the canary's namespace is reached (the verdict is the script's
#      checks);
#   c) the worker running a 45 s check SIGKILLed mid-run: the run is taken up again by
#      the other worker, which adopts the running Job (its log says so); one runner pod for
#      the check from start to end, and the verdict passes; then the worker running a 60 s
#      check frozen (SIGSTOP) until the other adopted its Job, and thawed: it learns that
#      another attempt holds the run and leaves the Job running; one pod, the verdict passes;
#   d) a running check no call waits on superseded by the canary's next revision: its Job
#      and pod removed, the new revision judged;
#   e) a burst of 20 canaries' 2 s checks at once, through the Job runner, then through the
#      process runner (the chart's workerConcurrency 1, the same 2 workers): all 200, and
#      the time from the first POST to the last answer of each.
# Then back to the chart's values (1 worker) with `helm upgrade`.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm
runner_selector=app.kubernetes.io/component=k6-runner

t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set runner.kind=job --set workerConcurrency=10 --set worker.replicaCount=2 \
  --set networkPolicy.enabled=true --set 'runner.job.egressNamespaces={test}' \
  --set runner.job.resources.requests.cpu=50m \
  --wait --timeout 5m >/dev/null
kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=120s >/dev/null
ok "helm upgrade runner.kind=job: 2 workers on the Job runner, PodTemplate $(kubectl_ -n k6-gate get podtemplate -o name) in $(($(date +%s) - t)) s"

# job_of RUN_ID: the name of the run's Job (apps/worker/src/job/job-spec.ts: jobNameOf).
job_of() { echo "k6-gate-run-$(printf %s "$1" | sha256sum | cut -c1-20)"; }
runner_pods() { kubectl_ -n k6-gate get pods -l "$runner_selector" -o name; }
no_runner_pods() { [[ -z "$(runner_pods)" ]]; }
# pod_running_for RUN_ID: the name of the run's runner pod once its k6 container runs.
pod_running_for() {
  kubectl_ -n k6-gate get pods -l "batch.kubernetes.io/job-name=$(job_of "$1")" \
    -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{end}' | grep .
}

script() { # DURATION THRESHOLD: a steady 1-VU test of __ENV.TARGET.
  printf '%s\n' "import http from 'k6/http';" \
    "export const options = { vus: 1, duration: '$1', thresholds: { $2 } };" \
    "export default function () { http.get(__ENV.TARGET); }"
}
sum=$(openssl rand -hex 4)
# Its checks use the canary names test/burst-1..20 (scenario 5's among them): a namespace's
# distinct canaries are a quota (MAX_CANARIES_PER_OWNER, 30).

# burst NAME: 20 canaries' 2 s checks (test/burst-1..20, new revisions) POSTed at once;
# prints the seconds from the first POST to the last answer, or fails unless all are 200.
burst() {
  local i t0 answers tenths
  for i in $(seq 1 20); do payload "burst-$i" "$1-$sum-$i" "$(script 2s "http_req_failed: ['rate<0.01']")"; done \
    >"$ARTIFACTS/scenario-8-$1.jsonl"
  t0=$(date +%s%N)
  answers=$(gate_calls <"$ARTIFACTS/scenario-8-$1.jsonl" | jq -r .status | sort | uniq -c | xargs)
  [[ "$answers" == "20 200" ]] || die "burst $1: answers $answers, want 20 200"
  tenths=$((($(date +%s%N) - t0) / 100000000))
  printf '%d.%d\n' $((tenths / 10)) $((tenths % 10))
}

# --- a) a good and a bad check, judged in runner pods --------------------------------------
good=$(script 8s "http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<500']")
{
  payload burst-1 "good-$sum" "$good"
  payload burst-2 "bad-$sum" "$(script 8s "http_req_failed: ['rate<0.01']")" http://podinfo-primary.test:9898/status/500
} >"$ARTIFACTS/scenario-8-payloads.jsonl"
gate_calls <"$ARTIFACTS/scenario-8-payloads.jsonl" >"$ARTIFACTS/scenario-8-answers.jsonl" &
calls=$!
wait_for 60 "the good check's run" run_of burst-1 "good-$sum" || die "no run of the good check"
good_run=$(run_of burst-1 "good-$sum")
wait_for 60 "the good check's runner pod" pod_running_for "$good_run" || die "no running runner pod for $good_run"
pod=$(pod_running_for "$good_run")
pod_uid=$(kubectl_ -n k6-gate get pod "$pod" -o jsonpath='{.metadata.uid}')
# k6_in_pod UID: how many of the cluster's k6 processes are in that pod's cgroup.
k6_in_pod() {
  local p n=0
  for p in $(k6_pids); do
    if grep -q "pod${1//-/_}\|pod$1" "/proc/$p/cgroup"; then n=$((n + 1)); fi
  done
  echo "$n"
}
one_k6_in_pod() { [[ $(k6_in_pod "$pod_uid") == 1 ]]; }
# pod-run starts k6 a moment after the pod is Running.
wait_for 30 "k6 in runner pod $pod" one_k6_in_pod ||
  die "$(k6_in_pod "$pod_uid") k6 processes in runner pod $pod's cgroup, want 1"
ok "the good check's k6 runs in runner pod $pod (its cgroup), not in a worker"
wait "$calls" || die "the calls failed"
statuses=$(jq -r .status "$ARTIFACTS/scenario-8-answers.jsonl" | tr '\n' ' ')
[[ "$statuses" == "200 422 " ]] || die "answers $statuses, want 200 422: $(cat "$ARTIFACTS/scenario-8-answers.jsonl")"
bad_run=$(run_of burst-2 "bad-$sum")
[[ $(run_field "$bad_run" .outcome) == thresholds_failed ]] ||
  die "the bad check's outcome is $(run_field "$bad_run" '.outcome + ": " + .reason')"
for run in "$good_run" "$bad_run"; do
  grep -q "\"runId\":\"$run\".*runner Job created" <(kubectl_ -n k6-gate logs -l app.kubernetes.io/component=worker --tail=-1) ||
    die "no worker logged creating the Job of run $run"
done
wait_for 60 "the runner pods to be gone" no_runner_pods || die "runner pods left: $(runner_pods)"
ok "good 200, bad 422 ($(run_field "$bad_run" .reason)); each from a Job of its own, Jobs and pods gone after"

# --- b) a script that tries to reach what it must not ---------------------------------------
probe="import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 1, insecureSkipTLSVerify: true, thresholds: { checks: ['rate==1'] } };
let environ = 'unreadable';
let token = 'absent';
try { environ = 'readable: ' + open('/proc/1/environ').length + ' bytes'; } catch (e) {}
try { open('/var/run/secrets/kubernetes.io/serviceaccount/token'); token = 'present'; } catch (e) {}
// Not reached: the connection itself failed (refused by the policy, or dropped).
const blocked = (r) => r.status === 0 && /connection refused|i\\/o timeout|request timeout/.test(r.error);
export default function () {
  const p = { timeout: '4s' };
  const redis = http.get('http://k6-gate-redis.k6-gate:6379/', p);
  const api = http.get('http://k6-gate.k6-gate:8000/health', p);
  const kube = http.get('https://kubernetes.default.svc/api/v1/namespaces/k6-gate/secrets', p);
  const canary = http.get(__ENV.TARGET, p);
  const workerVariables = Object.keys(__ENV).filter((k) => /REDIS|SLACK|WEBHOOK|KUBERNETES|K6_CLOUD_TOKEN/.test(k));
  console.log('probe ' + JSON.stringify({ redis: [redis.status, redis.error], api: [api.status, api.error],
    kube: [kube.status, kube.error], canary: canary.status, environ, token, workerVariables }));
  check(null, {
    'Redis not reached': () => blocked(redis),
    'the API not reached': () => blocked(api),
    'the Kubernetes API gives nothing without a token': () => kube.status === 401 || kube.status === 403 || blocked(kube),
    'the canary reached': () => canary.status === 200,
    'PID 1 environment unreadable': () => environ === 'unreadable',
    'no service account token': () => token === 'absent',
    'no worker variables': () => workerVariables.length === 0,
  });
}"
answer=$(payload burst-3 "probe-$sum" "$probe" | gate_calls)
probe_run=$(run_of burst-3 "probe-$sum")
probe_line=$(gate_api "/api/runs/$probe_run/output" | jq -r .output | grep -o 'probe {.*}' | head -1 || true)
log "the probe saw: $probe_line"
[[ $(jq -r .status <<<"$answer") == 200 ]] ||
  die "the probe's checks did not all hold ($(jq -r .status <<<"$answer")): $probe_line"
ok "a script in a runner pod reaches neither Redis nor the API, gets nothing from the Kubernetes API (no token), reads no PID 1 environment, has no worker variables; reaches its canary: $probe_line"

# job_taken_over HOW CANARY NAME DURATION: a DURATION check of CANARY (revision NAME-$sum)
# whose worker is killed or frozen once its runner pod runs (take_over HOW); sets RUN.
job_taken_over() {
  local calls
  payload "$2" "$3-$sum" "$(script "$4" "http_req_failed: ['rate<0.01']")" |
    gate_calls >"$ARTIFACTS/scenario-8-$3.jsonl" &
  calls=$!
  wait_for 60 "the check's run" run_of "$2" "$3-$sum" || die "no run of the check"
  RUN=$(run_of "$2" "$3-$sum")
  wait_for 60 "its runner pod" pod_running_for "$RUN" || die "no running runner pod for $RUN"
  take_over "$1" "$RUN" "$calls" "$ARTIFACTS/scenario-8-$3.jsonl" 1 "runner Job created" "runner Job adopted" \
    kubectl_ -n k6-gate get pods -l "batch.kubernetes.io/job-name=$(job_of "$RUN")" -o name
}

# --- c) the worker killed mid-run: the Job adopted -----------------------------------------
job_taken_over kill burst-4 adopt 45s
ok "worker $HOLDER killed mid-run: $ADOPTER adopted the Job ${ADOPTED_AFTER} s after the kill (attempt $ATTEMPT), 1 runner pod from start to end, verdict 200 ${ANSWERED_AFTER} s after the kill"
kill_line="worker SIGKILLed mid-run, its Job adopted ${ADOPTED_AFTER} s after (attempt $ATTEMPT, 1 pod)"

# --- c2) the worker frozen mid-run, thawed once another adopted its Job ---------------------
# It wakes up holding a run that went on elsewhere: it must leave the Job to its adopter.
job_taken_over freeze burst-12 freeze 60s
kubectl_ -n k6-gate logs "$HOLDER" | grep "\"runId\":\"$RUN\"" | grep -q "another attempt holds this run" ||
  die "the thawed worker $HOLDER did not log that another attempt holds $RUN"
ok "worker $HOLDER frozen mid-run: $ADOPTER adopted the Job ${ADOPTED_AFTER} s after the freeze (attempt $ATTEMPT); thawed, $HOLDER stopped and left the Job: 1 runner pod from start to end, verdict 200 ${ANSWERED_AFTER} s after the freeze"
freeze_line="worker frozen mid-run, its Job adopted ${ADOPTED_AFTER} s after, thawed: the Job left to its adopter (1 pod), 200"

# --- d) supersede removes the running pod --------------------------------------------------
# No call waits on the old run (a run a call waits on is never superseded: README).
answer=$(payload burst-5 "old-$sum" "$(script 60s "http_req_failed: ['rate<0.01']")" \
  http://podinfo-primary.test:9898/ '{"wait_for_results": "false"}' | gate_calls)
[[ $(jq -r .status <<<"$answer") == 202 ]] || die "the old revision's call answered $answer, want 202"
old_run=$(run_of burst-5 "old-$sum")
wait_for 60 "its runner pod" pod_running_for "$old_run" || die "no running runner pod for $old_run"
t=$(date +%s)
answer=$(payload burst-5 "new-$sum" "$(script 3s "http_req_failed: ['rate<0.01']")" | gate_calls)
old_gone() { ! pod_running_for "$old_run" && ! kubectl_ -n k6-gate get job "$(job_of "$old_run")"; }
wait_for 60 "the superseded run's Job and pod to go" old_gone || die "the superseded run's Job or pod is still there"
gone_after=$(($(date +%s) - t))
[[ $(jq -r .status <<<"$answer") == 200 ]] || die "the new revision answered $answer"
[[ $(run_field "$old_run" .outcome) == superseded ]] || die "the old run's outcome is $(run_field "$old_run" .outcome)"
ok "superseded by the next revision: its Job and pod gone within ${gone_after} s; the new revision 200"

# --- e) a burst of 20, the Job runner next to the process runner ---------------------------
job_burst=$(burst job-burst)
wait_for 60 "the runner pods to be gone" no_runner_pods || die "runner pods left: $(runner_pods)"
ok "20 canaries x 2 s at once through the Job runner: all 200 in $job_burst s"
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set runner.kind=process --set workerConcurrency=1 --wait --timeout 5m >/dev/null
kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=120s >/dev/null
process_burst=$(burst process-burst)
ok "the same burst through the process runner (2 workers x 1): all 200 in $process_burst s"

"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate --reset-then-reuse-values \
  --set worker.replicaCount=1 --set networkPolicy.enabled=false --wait --timeout 5m >/dev/null
ok "back to the chart's values as installed"

result 8 "Job runner: good 200 / bad 422 from runner pods; a script in its pod reached neither Redis nor the API (Kubernetes API: $(jq -r '.kube | map(tostring) | join(" ")' <<<"${probe_line#probe }")); $kill_line; $freeze_line; superseded run's pod gone in ${gone_after} s; 20 x 2 s burst in $job_burst s (Job runner, 2 workers x 10) against $process_burst s (process runner, 2 workers x 1)"
