#!/usr/bin/env bash
# Scenario 3 of issue 29: the worker pod is deleted while its k6 runs
# (kubectl delete pod --grace-period=0 --force). A good revision's pre-rollout check must
# still get the right verdict (pass: the Canary Succeeded) from one run, taken up again by
# the replacement worker (BullMQ stalled-job recovery, attempt 2), and no k6 is left
# behind: the deleted pod's k6 is gone from the host, and none runs once the Canary is done.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

before=$(runs_of test podinfo)
[[ -z "$(k6_pids)" ]] || die "k6 already runs in the cluster: $(k6_pids)"
new_revision PODINFO_RANDOM_DELAY- PODINFO_RANDOM_DELAY_UNIT- PODINFO_RANDOM_DELAY_MIN- PODINFO_RANDOM_DELAY_MAX-

# Killed mid-run, not at its start: once k6 has done 100 iterations.
wait_for 240 "the revision's k6 run to be under way" run_under_way "$before" || die "no running k6 for the new revision"
id=$(run_under_way "$before")
pods=$(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name)
[[ $(wc -w <<<"$pods") == 1 ]] || die "want one worker pod, got: $pods"
pod=${pods#pod/}
doomed=$(k6_pids)
log "run $id attempt $(gate_api "/api/runs/$id" | jq -r '"\(.attempt), \(.progress.iterations) iterations done"') on $pod; k6 pid(s) $doomed"
kubectl_ -n k6-gate delete pod "$pod" --grace-period=0 --force >/dev/null 2>&1
killed_at=$(($(date +%s) - T0))
ok "worker pod $pod force-deleted ${killed_at}s after the new revision, its k6 running"

gone() {
  local p
  for p in $doomed; do [[ ! -e /proc/$p ]] || return 1; done
}
wait_for 60 "the deleted pod's k6 ($doomed) to exit" gone || die "k6 $doomed outlived its worker pod"
ok "the deleted pod's k6 ($doomed) exited with its worker, $(($(date +%s) - T0 - killed_at))s after the delete"

follow_canary Succeeded 600
ok "Canary test/podinfo Succeeded in ${TOTAL}s; phases: $PHASES"
[[ "$(podinfo_env REVISION podinfo-primary)" == "$REVISION" ]] || die "podinfo-primary not promoted to REVISION=$REVISION"
ok "podinfo-primary promoted to REVISION=$REVISION"

revision_evidence 3 "$before"
failed=$CHECKS_FAILED
((RUNS == 1)) || die "$RUNS runs for the revision, want 1 (the killed attempt taken up again)"
jq -e --arg id "$id" '.[0] | .id == $id and .status == "finished" and .verdict == "pass" and .attempt >= 2' \
  "$RUNS_JSON" >/dev/null ||
  die "want run $id passed on attempt >= 2: $(jq -c '.[0] | {id, status, verdict, attempt, reason}' "$RUNS_JSON")"
attempt=$(jq -r '.[0].attempt' "$RUNS_JSON")
# Which worker recorded the verdict: its own log line (run-worker.ts, "run finished").
new_pod=$(worker_logged "$id" | cut -d' ' -f1) || die "no worker pod logged run $id finished"
[[ "$new_pod" != "$pod" ]] || die "the deleted pod $pod recorded run $id's verdict"
ok "one run, passed on attempt $attempt, its verdict recorded by the new worker pod $new_pod ($failed failed check(s) on the way)"

kubectl_ -n k6-gate rollout status deployment/k6-gate-worker --timeout=120s >/dev/null
[[ -z "$(k6_pids)" ]] || die "k6 still runs in the cluster after the Canary is done: $(k6_pids)"
ok "no k6 left in the cluster; the worker Deployment is back to its replicas"

result 3 "worker pod force-deleted ${killed_at}s into the revision, its k6 running: the k6 exited with it; the run taken up again (attempt $attempt, another pod), passed; Canary Succeeded in ${TOTAL}s; phases: $PHASES; $failed failed check(s); no k6 left"
