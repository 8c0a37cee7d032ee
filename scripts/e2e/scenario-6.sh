#!/usr/bin/env bash
# Scenario 6 of issue 29: `helm upgrade` to a changed value (worker.shutdownGraceSeconds, in
# the worker's ConfigMap as SHUTDOWN_GRACE: the pods' checksum/config changes and they roll) while a pre-rollout check's
# k6 runs. The run must finish once: the old worker stops taking jobs, lets its k6 finish
# (SHUTDOWN_GRACE) and records the verdict; no second attempt, no second run, one passed
# check; the Canary Succeeded. The old worker pod's log is followed until it exits.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

helm=$E2E_ROOT/.tools/bin/helm
before=$(runs_of test podinfo)
old_grace=$("$helm" --kubeconfig "$KUBECONFIG" -n k6-gate get values k6-gate --all -o json | jq -r .worker.shutdownGraceSeconds)
new_grace=$((old_grace + 60))
new_revision
wait_for 240 "the revision's k6 run to be under way" run_under_way "$before" || die "no running k6 for the new revision"
id=$(run_under_way "$before")
old_pods=$(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name)
old_logs=$ARTIFACTS/scenario-6-old-workers.log
: >"$old_logs"
followers=()
stop_followers() { if ((${#followers[@]})); then kill "${followers[@]}" 2>/dev/null || true; fi; }
trap stop_followers EXIT
for p in $old_pods; do
  kubectl_ -n k6-gate logs -f "$p" >>"$old_logs" 2>/dev/null &
  followers+=("$!")
done
upgraded_at=$(($(date +%s) - T0))
t=$(date +%s)
"$helm" --kubeconfig "$KUBECONFIG" upgrade k6-gate "$E2E_ROOT/charts/k6-gate" --namespace k6-gate \
  --reset-then-reuse-values --set worker.shutdownGraceSeconds="$new_grace" --wait --timeout 5m >/dev/null
ok "helm upgrade (worker.shutdownGraceSeconds $old_grace -> $new_grace) while run $id's k6 ran, ${upgraded_at}s into the revision; done in $(($(date +%s) - t)) s"
[[ $(kubectl_ -n k6-gate get configmap k6-gate-worker-config -o jsonpath='{.data.SHUTDOWN_GRACE}') == "${new_grace}s" ]] ||
  die "the ConfigMap does not have SHUTDOWN_GRACE=${new_grace}s"

follow_canary Succeeded 600
ok "Canary test/podinfo Succeeded in ${TOTAL}s; phases: $PHASES"
# The old workers exit once their k6 is done: their logs end.
for f in "${followers[@]}"; do
  wait_for 360 "an old worker's log to end" bash -c "! kill -0 $f" || die "an old worker pod is still running"
done
wait "${followers[@]}" 2>/dev/null || true
for p in $old_pods; do
  ! kubectl_ -n k6-gate get "$p" >/dev/null 2>&1 || die "the old worker $p is still there"
done
ok "the old worker pod(s) exited ($(tr '\n' ' ' <<<"${old_pods//pod\//}"))"

revision_evidence 6 "$before"
passed=$CHECKS_PASSED
failed=$CHECKS_FAILED
((RUNS == 1)) || die "$RUNS runs for the revision, want 1"
jq -e --arg id "$id" '.[0] | .id == $id and .status == "finished" and .verdict == "pass" and .attempt == 1' \
  "$RUNS_JSON" >/dev/null ||
  die "want run $id passed on attempt 1: $(jq -c '.[0] | {id, status, verdict, attempt, reason}' "$RUNS_JSON")"
finished_lines=$(grep '"msg":"run finished"' "$old_logs" | grep -c "\"runId\":\"$id\"" || true)
((finished_lines == 1)) || die "the old worker logged run $id finished $finished_lines times, want 1"
! grep -q "\"runId\":\"$id\".*hand" "$old_logs" || die "the old worker handed run $id back"
((passed == 1 && failed == 0)) || die "Flagger's events: $passed passed, $failed failed checks; want 1 and 0"
ok "one run, attempt 1, its verdict recorded once by the old worker as it drained; Flagger: 1 passed check, none failed"

result 6 "helm upgrade (worker.shutdownGraceSeconds) ${upgraded_at}s into a revision, its k6 running: the old worker finished the run (attempt 1, once) and exited; Canary Succeeded in ${TOTAL}s; phases: $PHASES"
