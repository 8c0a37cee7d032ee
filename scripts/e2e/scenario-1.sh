#!/usr/bin/env bash
# Scenario 1 of issue 29 (after install.sh): a good revision of podinfo (its pod template
# changed: env REVISION) -> Flagger runs the Canary's analysis, its pre-rollout webhook
# calls k6-gate, k6 passes, Flagger promotes. Asserted from the cluster's own state (the
# Canary's status and events, the primary Deployment's template, the canary Deployment
# scaled to 0) and from k6-gate's run records (GET /api/runs, inside the API pod): one k6
# run per Flagger check, passed. The phases Flagger went through and the timings are
# printed and written to test-artifacts/e2e/scenario-1.txt.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ -f "$KUBECONFIG" ]] || die "no cluster: $KUBECONFIG is missing (make e2e-up)"
artifacts=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$artifacts"
passed=0
ok() {
  passed=$((passed + 1))
  log "ok: $*"
}
phase() { kubectl_ -n test get canary podinfo -o jsonpath='{.status.phase}'; }

start=$(phase)
# Once per install: the run and event counts below are the Canary's whole history.
[[ "$start" == Initialized ]] || die "Canary test/podinfo is $start, not Initialized (a fresh make e2e-install)"
revision=$(($(kubectl_ -n test get deployment podinfo \
  -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="REVISION")].value}') + 1))
t0=$(date +%s)
kubectl_ -n test set env deployment/podinfo "REVISION=$revision" >/dev/null
log "podinfo's pod template changed (REVISION=$revision): a new revision"

# Follow the Canary's phase (polled each second) to Succeeded, or Failed, or the deadline.
phases="$start@0s" last=$start deadline=$((t0 + 420))
while :; do
  p=$(phase)
  if [[ "$p" != "$last" ]]; then
    phases+=" $p@$(($(date +%s) - t0))s"
    log "Canary phase: $p"
    last=$p
  fi
  case "$p" in
    Succeeded) break ;;
    Failed) die "Canary test/podinfo Failed (phases: $phases): $(kubectl_ -n test get canary podinfo -o jsonpath='{.status.conditions[0].message}')" ;;
  esac
  (($(date +%s) < deadline)) || die "Canary test/podinfo not Succeeded after 420 s (phases: $phases)"
  sleep 1
done
total=$(($(date +%s) - t0))
ok "Canary test/podinfo Succeeded in ${total}s; phases: $phases"

primary_rev=$(kubectl_ -n test get deployment podinfo-primary \
  -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="REVISION")].value}')
[[ "$primary_rev" == "$revision" ]] || die "podinfo-primary's template has REVISION=$primary_rev, not $revision"
kubectl_ -n test rollout status deployment/podinfo-primary --timeout=60s >/dev/null
ok "podinfo-primary promoted: its template has REVISION=$revision and is rolled out"
canary_replicas=$(kubectl_ -n test get deployment podinfo -o jsonpath='{.spec.replicas}')
[[ "$canary_replicas" == 0 ]] || die "the canary Deployment podinfo has $canary_replicas replicas after promotion, not 0"
ok "canary Deployment podinfo scaled to 0"

# Flagger's events on the Canary; each pre-rollout check is one webhook call.
kubectl_ -n test get events --field-selector involvedObject.kind=Canary,involvedObject.name=podinfo \
  --sort-by=.lastTimestamp -o json >"$artifacts/scenario-1-events.json"
jq -r '.items[] | "\(.lastTimestamp) \(.type) x\(.count // 1) \(.message)"' "$artifacts/scenario-1-events.json" >&2
checks=$(jq '[.items[] | select(.message == "Pre-rollout check k6-load-test passed") | (.count // 1)] | add // 0' "$artifacts/scenario-1-events.json")
failed_checks=$(jq '[.items[] | select(.message | test("pre-rollout check k6-load-test failed")) | (.count // 1)] | add // 0' "$artifacts/scenario-1-events.json")
((checks >= 1)) || die "no 'Pre-rollout check k6-load-test passed' event"
ok "Flagger's events: $checks pre-rollout check(s) passed, $failed_checks failed"

# k6-gate's run records for the canary, read inside the API pod (no port opened).
kubectl_ -n k6-gate exec deployment/k6-gate-api -- node -e \
  'fetch("http://127.0.0.1:8000/api/runs?namespace=test&name=podinfo").then(async (r) => { if (!r.ok) throw new Error("HTTP " + r.status); process.stdout.write(await r.text()); })' \
  >"$artifacts/scenario-1-runs.json"
jq -r '.runs[] | "run \(.id) \(.phase) attempt \(.attempt) \(.status) verdict=\(.verdict) outcome=\(.outcome) queued \(.queueWaitMs) ms, ran \(.runTimeMs) ms"' "$artifacts/scenario-1-runs.json" >&2
runs=$(jq '.runs | length' "$artifacts/scenario-1-runs.json")
((runs == checks + failed_checks)) || die "$runs k6 runs recorded for test/podinfo, but Flagger made $((checks + failed_checks)) check(s)"
not_passed=$(jq -r '[.runs[] | select(.status != "finished" or .verdict != "pass")] | length' "$artifacts/scenario-1-runs.json")
((not_passed == 0)) || die "$not_passed run(s) of test/podinfo did not pass: $(jq -c '[.runs[] | {id, status, verdict, reason}]' "$artifacts/scenario-1-runs.json")"
run_ms=$(jq -r '[.runs[].runTimeMs] | join(",")' "$artifacts/scenario-1-runs.json")
ok "k6-gate recorded $runs run(s) for test/podinfo, one per Flagger check, all passed (k6 ran ${run_ms} ms)"

echo "$(date -u +%FT%TZ) scenario 1: Succeeded in ${total}s; phases: $phases; checks=$checks runs=$runs run_ms=$run_ms" |
  tee -a "$artifacts/scenario-1.txt"
echo "scenario 1: $passed passed, 0 failed"
